"""Who is using the dashboard, and what they may do.

``RUNBOARD_AUTH`` chooses how people sign in:

- ``off`` (default): no login; everyone is a local launcher. Only for 127.0.0.1.
- ``accounts``: the built-in account file (``dashboard.accounts``, ``RUNBOARD_ACCOUNTS``).
- ``oidc``: Streamlit's ``st.login`` against the identity provider in ``.streamlit/secrets.toml``
  (``[auth]``); roles come from its ``[runboard]`` section (see :func:`oidc_role`).

Roles: ``viewer`` reads everything; ``launcher`` may also launch, clone, sweep, stop and cancel.
Pages ask :func:`require` inside the action itself (a button's callback), so a forged rerun that
fires the action as a viewer is refused on the server, whatever the browser showed.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard import accounts
from dashboard.text import md_text

MODES = ("off", "accounts", "oidc")
ENV = "RUNBOARD_AUTH"
SESSION_KEY = "auth_user"  # accounts mode: the signed-in username, in this browser session only
REFUSED_KEY = "auth_refused"


class AuthConfigError(ValueError):
    """RUNBOARD_AUTH or its settings are wrong: every page shows this and nothing else."""


@dataclass(frozen=True)
class AuthConfig:
    mode: str  # one of MODES
    accounts_path: Path


@dataclass(frozen=True)
class User:
    name: str  # username, or the identity provider's e-mail
    role: str  # one of accounts.ROLES

    @property
    def can_launch(self) -> bool:
        return self.role == "launcher"


def config(environ: Mapping[str, str] | None = None) -> AuthConfig:
    """The auth settings from the environment, validated once here."""
    environ = os.environ if environ is None else environ
    mode = (environ.get(ENV) or "off").strip().lower()
    if mode not in MODES:
        raise AuthConfigError(f"{ENV}={mode[:40]!r}: use one of {', '.join(MODES)}")
    return AuthConfig(mode, accounts.path(environ))


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _matches(email: str, entries: object) -> bool:
    """``entries``: e-mails, or ``@domain`` for every address in that domain."""
    if not isinstance(entries, (list, tuple)):
        return False
    email = email.lower()
    for entry in (str(e).strip().lower() for e in entries):
        if entry == email or (entry.startswith("@") and email.endswith(entry)):
            return True
    return False


def oidc_role(claims: Mapping, section: Mapping) -> str | None:
    """The role of an identity-provider user, from secrets.toml's ``[runboard]``::

        [runboard]
        launchers = ["alice@example.com"]
        viewers = ["@example.com"]   # "@domain": anyone with an address there

    Anyone else who can sign in at the provider is refused (None): a public provider such as
    Google would otherwise let the whole world in. An unverified e-mail is refused too.
    """
    email = str(claims.get("email") or "")
    if not email or claims.get("email_verified") is False:
        return None
    if _matches(email, section.get("launchers")):
        return "launcher"
    if _matches(email, section.get("viewers")):
        return "viewer"
    return None


def secrets_section(name: str) -> Mapping:
    """A section of .streamlit/secrets.toml, {} when it (or the whole file) is missing."""
    try:
        return st.secrets.get(name) or {}
    except FileNotFoundError:  # Streamlit's "no secrets file at all"
        return {}


def _oidc_user() -> User | None:
    if not st.user.get("is_logged_in", False):
        return None
    role = oidc_role(st.user.to_dict(), secrets_section("runboard"))
    return User(str(st.user.get("email")), role) if role else None


def _account_user(cfg: AuthConfig) -> User | None:
    name = st.session_state.get(SESSION_KEY)
    if not name:
        return None
    # Read the file on every run: a removed or demoted account loses its rights at once.
    account = accounts.load(cfg.accounts_path).get(name)
    return User(account.name, account.role) if account else None


def current_user(cfg: AuthConfig | None = None) -> User | None:
    """The signed-in user, or None (then only the login may be shown)."""
    cfg = cfg or config()
    if cfg.mode == "off":
        return User(getpass.getuser(), "launcher")
    if cfg.mode == "accounts":
        return _account_user(cfg)
    return _oidc_user()


def gate() -> tuple[AuthConfig, User | None]:
    """(settings, signed-in user or None) for app.py. A broken setting stops every page with the
    reason (fail closed: never "no login" by accident); so does serving the network without login."""
    try:
        cfg = config()
        address = st.get_option("server.address")
        if cfg.mode == "off" and address and not is_loopback(address):
            raise AuthConfigError(f"server.address={address} serves the network, but {ENV} is off: set "
                                  f"{ENV}=accounts or oidc (see README, “Login and roles”), or bind 127.0.0.1")
        if cfg.mode == "accounts":
            accounts.load(cfg.accounts_path)  # a broken file stops here, before anyone signs in
        return cfg, current_user(cfg)
    except (AuthConfigError, accounts.AccountsError) as exc:
        st.error(f"Runboard cannot start: {exc}", icon=":material/lock:")
        st.stop()


def can_launch() -> bool:
    """For drawing controls (disabled for viewers); the real check is :func:`require`."""
    try:
        user = current_user()
    except (AuthConfigError, accounts.AccountsError):
        return False
    return bool(user and user.can_launch)


def require(action: str, role: str = "launcher") -> User | None:
    """The user if they may do ``action`` (e.g. "launch runs"); else None and a message that
    :func:`refusal_ui` shows. Call it in the action's own code path, right before acting."""
    try:
        user = current_user()
    except (AuthConfigError, accounts.AccountsError) as exc:
        user, why = None, str(exc)
    else:
        why = "you are not signed in" if user is None else f"{md_text(user.name)} is a {user.role}"
    if user is not None and (role == "viewer" or user.role == role):
        return user
    st.session_state[REFUSED_KEY] = f"Refused: only a {role} may {action}; {why}."
    return None


def refusal_ui() -> None:
    if message := st.session_state.pop(REFUSED_KEY, None):
        st.error(message, icon=":material/block:")
