"""The built-in account file for ``RUNBOARD_AUTH=accounts``: username, role and a salted scrypt
hash of the password (never the password itself), in TOML::

    [users."alice"]
    role = "launcher"
    password = "scrypt$16384$8$1$<salt, base64>$<hash, base64>"

Manage it with the CLI, never by hand-editing hashes::

    python -m dashboard.accounts add NAME --role viewer|launcher   # password from a prompt
    echo "$PW" | python -m dashboard.accounts add NAME --role viewer --password-stdin
    python -m dashboard.accounts remove NAME
    python -m dashboard.accounts list

The file is written with mode 0600; ``RUNBOARD_ACCOUNTS`` names it (default
``.streamlit/accounts.toml`` in the repository, git-ignored).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROLES = ("viewer", "launcher")
ENV = "RUNBOARD_ACCOUNTS"
DEFAULT = Path(__file__).resolve().parents[1] / ".streamlit" / "accounts.toml"
NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")  # also keeps the TOML key a plain quoted string
MIN_PASSWORD = 8
# scrypt cost: 16 MiB and ~50 ms per check on these machines — slow for guessing, fine for a login.
N, R, P, DKLEN = 2**14, 8, 1, 32


class AccountsError(ValueError):
    """The account file or a CLI argument is invalid; the message names what and why."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str  # one of ROLES
    password: str  # the encoded scrypt hash


def path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ[ENV]).expanduser() if environ.get(ENV) else DEFAULT


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN, maxmem=64 * 2**20)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    kind, n, r, p, salt, digest = encoded.split("$")
    if kind != "scrypt":
        raise ValueError(kind)
    return int(n), int(r), int(p), base64.b64decode(salt), base64.b64decode(digest)


def check_password(password: str, encoded: str) -> bool:
    try:
        n, r, p, salt, expected = _parse(encoded)
    except (ValueError, TypeError):
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * 2**20)
    return hmac.compare_digest(digest, expected)


_DUMMY = hash_password("not a password", salt=b"\0" * 16)


def verify(accounts: Mapping[str, Account], name: str, password: str) -> Account | None:
    """The account if ``password`` is its password. An unknown name costs the same scrypt as a
    known one, so timing does not tell which usernames exist."""
    account = accounts.get(name)
    ok = check_password(password, account.password if account else _DUMMY)
    return account if ok and account else None


def _account(name: str, entry: object) -> Account:
    if not NAME.fullmatch(name):
        raise AccountsError(f"users.{name[:40]!r}: names are 1-64 of A-Z a-z 0-9 _ . @ + -")
    if not isinstance(entry, dict) or entry.get("role") not in ROLES:
        raise AccountsError(f"users.{name}: role must be one of {', '.join(ROLES)}")
    encoded = entry.get("password")
    try:
        _parse(encoded)
    except (ValueError, TypeError, AttributeError):
        raise AccountsError(f"users.{name}: password must be a hash written by "
                            "`python -m dashboard.accounts add` (never a plain password)") from None
    return Account(name, entry["role"], encoded)


def load(file: Path) -> dict[str, Account]:
    """Every account in ``file`` ({} if it does not exist); AccountsError names a bad entry."""
    try:
        doc = tomllib.loads(file.read_text())
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise AccountsError(f"{file}: not valid TOML ({exc})") from None
    users = doc.get("users", {})
    if not isinstance(users, dict):
        raise AccountsError(f"{file}: [users] must be a table")
    return {name: _account(name, entry) for name, entry in users.items()}


def save(file: Path, accounts: Mapping[str, Account]) -> None:
    """Write atomically (temp file + rename), readable by its owner only."""
    lines = ["# Runboard accounts: python -m dashboard.accounts add NAME --role viewer|launcher", ""]
    for a in sorted(accounts.values(), key=lambda a: a.name):
        lines += [f'[users."{a.name}"]', f'role = "{a.role}"', f'password = "{a.password}"', ""]
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".accounts-")
    with os.fdopen(fd, "w") as fh:  # mkstemp creates it 0600
        fh.write("\n".join(lines))
    os.replace(tmp, file)


def add(file: Path, name: str, role: str, password: str) -> Account:
    """Create or replace ``name`` (a new password or role replaces the old one)."""
    if not NAME.fullmatch(name):
        raise AccountsError("name: 1-64 of A-Z a-z 0-9 _ . @ + -")
    if role not in ROLES:
        raise AccountsError(f"role: one of {', '.join(ROLES)} (got {role!r})")
    if len(password) < MIN_PASSWORD:
        raise AccountsError(f"password: at least {MIN_PASSWORD} characters")
    accounts = load(file)
    accounts[name] = Account(name, role, hash_password(password))
    save(file, accounts)
    return accounts[name]


def remove(file: Path, name: str) -> bool:
    accounts = load(file)
    if accounts.pop(name, None) is None:
        return False
    save(file, accounts)
    return True


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountsError("password: the two entries differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.accounts", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_p = sub.add_parser("add", help="create an account, or replace its role and password")
    add_p.add_argument("name")
    add_p.add_argument("--role", required=True, choices=ROLES)
    add_p.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    sub.add_parser("remove", help="delete an account").add_argument("name")
    sub.add_parser("list", help="names and roles (never hashes)")
    args = parser.parse_args(argv)
    file = path()
    try:
        if args.command == "add":
            account = add(file, args.name, args.role, _read_password(args.password_stdin))
            print(f"{account.name}: {account.role} ({file})")
        elif args.command == "remove":
            if not remove(file, args.name):
                print(f"no account {args.name!r} in {file}", file=sys.stderr)
                return 1
            print(f"removed {args.name} ({file})")
        else:
            for a in load(file).values():
                print(f"{a.name}\t{a.role}")
    except AccountsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
