"""`bugsift users` and `bugsift tokens` end to end: CliRunner on a real SQLite store in a temporary home,
then the web app (same store) accepts the password and the token the commands made."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bugsift.cli import main
from bugsift.settings import Settings
from bugsift.store.db import open_database
from bugsift.store.web_tables import ApiTokenRow, UserRow
from bugsift.web import accounts
from bugsift.web.app import create_app

from .conftest import bearer, csrf_token

PASSWORD = "a long enough secret"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    return tmp_path / "home"


@pytest.fixture
def run(home: Path) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return invoke


def _rows(home: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    database = open_database(Settings(home=home))
    try:
        with database.session() as session:
            users = [
                {"username": u.username, "role": u.role, "hash": u.password_hash}
                for u in session.query(UserRow).order_by(UserRow.username)
            ]
            tokens = [
                {"id": t.id, "hash": t.token_hash, "scopes": t.scopes, "revoked": t.revoked_at is not None}
                for t in session.query(ApiTokenRow).order_by(ApiTokenRow.id)
            ]
    finally:
        database.dispose()
    return users, tokens


def test_users_add_list_set_role_remove(run: Callable[..., Result], home: Path) -> None:
    added = run("users", "add", "ana", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert "added ana (admin)" in added.output
    assert PASSWORD not in added.output
    # the prompt asks twice and never echoes what was typed
    prompted = run("users", "add", "bo", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in prompted.output and "added bo (triager)" in prompted.output
    mismatch = run("users", "add", "cy", stdin=f"{PASSWORD}\nsomething else\n", ok=False)
    assert PASSWORD not in mismatch.output

    users, _ = _rows(home)
    assert [(u["username"], u["role"]) for u in users] == [("ana", "admin"), ("bo", "triager")]
    assert all(u["hash"] != PASSWORD and PASSWORD not in u["hash"] for u in users)

    assert "exists already" in run("users", "add", "ana", "--password-stdin", stdin=PASSWORD, ok=False).output
    assert "at least 8" in run("users", "add", "dee", "--password-stdin", stdin="short\n", ok=False).output
    assert "no password" in run("users", "add", "dee", "--password-stdin", stdin="", ok=False).output

    run("users", "set-role", "bo", "viewer")
    assert "no user 'zed'" in run("users", "set-role", "zed", "admin", ok=False).output
    assert run("users", "set-role", "bo", "king", ok=False).exit_code == 2
    listed = [json.loads(line) for line in run("users", "list", "--json").output.splitlines()]
    assert [(u["username"], u["role"], u["tokens"]) for u in listed] == [
        ("ana", "admin", 0),
        ("bo", "viewer", 0),
    ]

    run("tokens", "create", "bo", "--name", "ci")
    assert "removed bo and 1 token(s)" in run("users", "remove", "bo", "--yes").output
    users, tokens = _rows(home)
    assert [u["username"] for u in users] == ["ana"] and tokens == []
    assert run("users", "remove", "ana", stdin="n\n", ok=False).exit_code == 1  # declined: kept
    assert [u["username"] for u in _rows(home)[0]] == ["ana"]
    # the last admin stays one: someone must be able to queue jobs and fix roles
    assert "last admin" in run("users", "remove", "ana", "--yes", ok=False).output
    assert "last admin" in run("users", "set-role", "ana", "triager", ok=False).output
    run("users", "add", "cy", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    run("users", "set-role", "ana", "triager")
    assert (
        "jobs scope is for admins"
        in run("tokens", "create", "ana", "--name", "x", "--scope", "jobs", ok=False).output
    )
    assert "removed ana" in run("users", "remove", "ana", "--yes").output


def test_tokens_create_list_revoke_work_against_the_api(run: Callable[..., Result], home: Path) -> None:
    run("users", "add", "bot", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    created = run("tokens", "create", "bot", "--name", "ci", "--scope", "read", "--scope", "predict")
    secret = created.stdout.strip()
    assert secret.startswith(accounts.TOKEN_PREFIX) and len(secret) > 40
    assert "not shown again" in created.stderr
    _, tokens = _rows(home)
    assert len(tokens) == 1 and tokens[0]["scopes"] == ["predict", "read"]
    assert tokens[0]["hash"] != secret and secret not in json.dumps(tokens)  # only the hash is kept

    listed = run("tokens", "list").output
    assert "bot\tci\t" in listed and secret not in listed and secret[:10] in listed
    assert "no user 'nobody'" in run("tokens", "create", "nobody", "--name", "x", ok=False).output
    assert run("tokens", "create", "bot", "--name", "x", "--scope", "root", ok=False).exit_code == 2

    settings = Settings(home=home)
    app = create_app(settings, TESTING=True)
    client = app.test_client()
    assert client.get("/api/v1/models", headers=bearer(secret)).status_code == 200
    # the password the command stored logs in
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "bot", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302

    assert f"revoked token {tokens[0]['id']}" in run("tokens", "revoke", str(tokens[0]["id"])).output
    assert client.get("/api/v1/models", headers=bearer(secret)).status_code == 401
    assert run("tokens", "list").output == ""
    revoked = [json.loads(line) for line in run("tokens", "list", "--all", "--json").output.splitlines()]
    assert revoked[0]["revoked_at"] is not None and revoked[0]["user"] == "bot"
    assert "no live token" in run("tokens", "revoke", str(tokens[0]["id"]), ok=False).output
    app.extensions["bugsift"].database.dispose()
