"""Web commands: `bugsift serve` (waitress; Flask's dev server with --dev), `bugsift users` and `tokens`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from bugsift.settings import Settings
from bugsift.web.roles import ROLES, SCOPES


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader and debugger.")
@click.option(
    "--threads", type=int, default=None, help="Worker threads of waitress [default: setting web_threads]."
)
@click.option(
    "--worker",
    "with_worker",
    is_flag=True,
    help="Also run background jobs in this process (one at a time), as `bugsift worker` would.",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    default=None,
    help="Send the session cookie over HTTPS only (behind an HTTPS proxy) [default: web_secure_cookies].",
)
def serve(
    host: str, port: int, dev: bool, threads: int | None, with_worker: bool, secure_cookies: bool | None
) -> None:
    """Serve the report form, triage queue, dashboard and JSON API (/api/v1)."""
    from bugsift.web.app import create_app

    if dev and with_worker:
        raise click.UsageError("--worker needs the production server: drop --dev, or run `bugsift worker`")
    settings = Settings() if secure_cookies is None else Settings(web_secure_cookies=True)
    app = create_app(settings)
    loaded = app.extensions["bugsift"].predictors.warm(app.config["SUGGEST_TASKS"])
    from bugsift.web.names import version_words

    models = "; ".join(version_words(name) for name in loaded.values()) or "none (run `bugsift train TASK`)"
    click.echo(f"bugsift web on http://{host}:{port}/  models: {models}")
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    import waitress
    from threadpoolctl import threadpool_limits

    # The request threads are the parallelism: BLAS/OpenMP threads on top only fight them for the cores.
    threadpool_limits(1)
    options = server_options(settings, threads)
    if not with_worker:
        waitress.serve(app, host=host, port=port, **options)
        return
    _serve_with_worker(waitress.create_server(app, host=host, port=port, **options), settings)


def server_options(settings: Settings, threads: int | None = None) -> dict[str, Any]:
    """waitress's options from the settings (the speed benchmark serves with the same ones)."""
    options: dict[str, Any] = {
        "threads": threads or settings.web_threads,
        "connection_limit": _open_files_allowing(settings.web_connection_limit),
        "backlog": settings.web_backlog,
        "channel_timeout": settings.web_channel_timeout,
        "cleanup_interval": max(1, min(30, settings.web_channel_timeout // 2)),
        "asyncore_use_poll": True,  # select() cannot watch sockets numbered above 1023
        "max_request_header_size": 64 * 1024,
        "max_request_body_size": settings.web_max_content_length,
        "ident": "bugsift",
    }
    if settings.web_trusted_proxy:
        options.update(
            trusted_proxy=settings.web_trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
            clear_untrusted_proxy_headers=True,
        )
    return options


def _open_files_allowing(connections: int) -> int:
    """``connections``, after raising this process's open-file limit for them where the system lets it.

    Returns fewer connections when the hard limit is lower, keeping 100 descriptors for the database,
    model files and logs.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 100
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = new_soft
    return connections if soft == resource.RLIM_INFINITY else max(1, min(connections, soft - 100))


def _serve_with_worker(server: Any, settings: Settings) -> None:
    """waitress in a thread, the job worker in the main thread (its consumer owns the signal handlers)."""
    import threading

    from bugsift.jobs.backends import get_backend
    from bugsift.jobs.core import database_for

    database_for(settings)  # migrate before taking jobs
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    click.echo(f"jobs: {settings.jobs_backend} backend, queue {settings.jobs_queue}, run here", err=True)
    try:
        # one job at a time: a process pool forked from a threaded web server is asking for trouble
        get_backend(settings).run_worker(1)
    finally:
        server.close()


# --- accounts: `bugsift users ...` and `bugsift tokens ...` -------------------------------------------


def _database() -> Any:
    """The CLI's database when run under `bugsift` (one open per command), else one from the settings."""
    from bugsift.store.db import open_database

    found = getattr(click.get_current_context().find_root().obj, "database", None)
    return found if found is not None else open_database(Settings())


@contextmanager
def _accounts() -> Iterator[Any]:
    """A session on the database; ValueErrors of `bugsift.web.accounts` become clean CLI errors."""
    try:
        with _database().session() as session:
            yield session
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def _read_password(from_stdin: bool) -> str:
    """From one line of stdin (scripts), else an unechoed prompt asked twice."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: no password on standard input")
        return password
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


_password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)


@click.group()
def users() -> None:
    """Accounts of the web app: triagers correct suggestions, admins also queue jobs; viewers look."""


@users.command("add")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(ROLES), default="triager", show_default=True, help="What they may do."
)
@_password_stdin
def users_add(username: str, role: str, password_stdin: bool) -> None:
    """Create user USERNAME; the password is prompted for (never echoed) or read from stdin."""
    from bugsift.web.accounts import create_user

    password = _read_password(password_stdin)
    with _accounts() as session:
        create_user(session, username, password, role)
    click.echo(f"added {username} ({role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def users_list(as_json: bool) -> None:
    """List the users with their role and live tokens."""
    from bugsift.web.accounts import list_users

    with _accounts() as session:
        for user in list_users(session):
            live = sum(1 for t in user.tokens if t.revoked_at is None)
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "username": user.username,
                            "role": user.role,
                            "active": user.active,
                            "tokens": live,
                            "created_at": user.created_at.isoformat(),
                        }
                    )
                )
            else:
                state = "" if user.active else "\tinactive"
                click.echo(f"{user.username}\t{user.role}\t{live} tokens\t{_when(user.created_at)}{state}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(username: str, role: str) -> None:
    """Give USERNAME another ROLE (takes effect on their next request)."""
    from bugsift.web.accounts import set_role

    with _accounts() as session:
        set_role(session, username, role)
    click.echo(f"{username} is now {role}")


@users.command("set-password")
@click.argument("username")
@_password_stdin
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (prompted for, or read from stdin)."""
    from bugsift.web.accounts import get_user, set_password

    with _accounts() as session:
        get_user(session, username)  # fail before asking for a password
    password = _read_password(password_stdin)
    with _accounts() as session:
        set_password(session, username, password)
    click.echo(f"changed the password of {username}; their web sessions are ended")


@users.command("remove")
@click.argument("username")
@click.confirmation_option(prompt="Remove this user and all their API tokens?")
def users_remove(username: str) -> None:
    """Delete USERNAME and their API tokens (audit entries keep the name)."""
    from bugsift.web.accounts import remove_user

    with _accounts() as session:
        tokens = remove_user(session, username)
    click.echo(f"removed {username} and {tokens} token(s)")


@click.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer ...): scoped, revocable; only a hash of the secret is stored."""


@tokens.command("create")
@click.argument("username")
@click.option(
    "--name", required=True, help="What the token is for (shown in lists), e.g. ci or tracker-hook."
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=("predict",),
    show_default=True,
    help="What the token may do (repeatable): predict, read reports/models/jobs, add labels.",
)
def tokens_create(username: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create a token for USERNAME and print its secret: it is shown this once and never stored."""
    from bugsift.web.accounts import create_token, get_user

    with _accounts() as session:
        row, secret = create_token(session, get_user(session, username), name, scopes)
        token_id, shown = row.id, ",".join(row.scopes)
    click.echo(
        f"token {token_id} ({name}, scopes {shown}) for {username}; keep it now, it is not shown again:",
        err=True,
    )
    click.echo(secret)


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--all", "show_all", is_flag=True, help="Also revoked tokens.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tokens_list(username: str | None, show_all: bool, as_json: bool) -> None:
    """List tokens (id, owner, name, first characters, scopes, last use); never their secrets."""
    from bugsift.web.accounts import list_tokens

    with _accounts() as session:
        for row in list_tokens(session, username, revoked=show_all):
            fields = {
                "id": row.id,
                "user": row.user.username,
                "name": row.name,
                "prefix": row.prefix,
                "scopes": list(row.scopes),
                "created_at": row.created_at.isoformat(),
                "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
                "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            }
            if as_json:
                click.echo(json.dumps(fields))
            else:
                revoked = f"\trevoked {_when(row.revoked_at)}" if row.revoked_at else ""
                click.echo(
                    f"{row.id}\t{row.user.username}\t{row.name}\t{row.prefix}...\t{','.join(row.scopes)}"
                    f"\tused {_when(row.last_used_at)}{revoked}"
                )


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `bugsift tokens list`): it stops working at once."""
    from bugsift.web.accounts import revoke_token

    with _accounts() as session:
        if not revoke_token(session, token_id):
            raise click.ClickException(f"no live token {token_id}")
    click.echo(f"revoked token {token_id}")
