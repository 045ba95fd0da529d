"""The account file and its CLI: salted scrypt hashes (never the password), owner-only file mode,
clear errors, and ``python -m dashboard.accounts add/remove/list`` as an admin runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import accounts

REPO = Path(__file__).resolve().parents[1]


def cli(path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "RUNBOARD_ACCOUNTS": str(path)}
    return subprocess.run([sys.executable, "-m", "dashboard.accounts", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_hashes_are_salted_and_check_only_the_right_password():
    a, b = accounts.hash_password("correct horse"), accounts.hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert accounts.check_password("correct horse", a) and accounts.check_password("correct horse", b)
    assert not accounts.check_password("correct horsE", a)
    assert not accounts.check_password("correct horse", "plain-text-password")


def test_the_file_holds_hashes_not_passwords_and_only_its_owner_reads_it(tmp_path):
    path = tmp_path / "accounts.toml"
    accounts.add(path, "alice@example.com", "launcher", "wonderland-42")
    text = path.read_text()
    assert "wonderland-42" not in text and 'role = "launcher"' in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = accounts.load(path)
    assert accounts.verify(loaded, "alice@example.com", "wonderland-42") == loaded["alice@example.com"]
    assert accounts.verify(loaded, "alice@example.com", "wonderland-43") is None
    assert accounts.verify(loaded, "bob", "wonderland-42") is None


def test_adding_again_replaces_role_and_password(tmp_path):
    path = tmp_path / "accounts.toml"
    accounts.add(path, "bob", "launcher", "first-password")
    accounts.add(path, "bob", "viewer", "second-password")
    [bob] = accounts.load(path).values()
    assert bob.role == "viewer" and accounts.check_password("second-password", bob.password)


@pytest.mark.parametrize("name, role, password, field", [
    ("bob smith", "viewer", "long-enough", "name"), ("bob", "admin", "long-enough", "role"),
    ("bob", "viewer", "short", "password"), ('bob"]\n[users.x', "viewer", "long-enough", "name"),
])
def test_bad_input_is_rejected_naming_the_field(tmp_path, name, role, password, field):
    with pytest.raises(accounts.AccountsError, match=rf"^{field}:"):
        accounts.add(tmp_path / "a.toml", name, role, password)
    assert not (tmp_path / "a.toml").exists()


def test_a_hand_written_plain_password_is_refused_with_the_entry_named(tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_text('[users."carol"]\nrole = "viewer"\npassword = "hunter2"\n')
    with pytest.raises(accounts.AccountsError, match="users.carol: password must be a hash"):
        accounts.load(path)


def test_the_cli_adds_lists_and_removes(tmp_path):
    path = tmp_path / "accounts.toml"
    done = cli(path, "add", "dana", "--role", "launcher", "--password-stdin", stdin="s3cret-pass\n")
    assert done.returncode == 0, done.stderr
    assert "s3cret-pass" not in done.stdout + done.stderr + path.read_text()
    assert accounts.verify(accounts.load(path), "dana", "s3cret-pass")
    assert cli(path, "list").stdout == "dana\tlauncher\n"
    assert cli(path, "remove", "dana").returncode == 0 and accounts.load(path) == {}
    gone = cli(path, "remove", "dana")
    assert gone.returncode == 1 and "no account" in gone.stderr


def test_the_cli_refuses_a_short_password_with_exit_2(tmp_path):
    done = cli(tmp_path / "a.toml", "add", "erin", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert done.returncode == 2 and "password: at least" in done.stderr
