"""A forked process (a Celery prefork child) gets connections of its own, never its parent's socket."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from bugsift.store.db import Database


def backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_open(postgres_db: Database) -> None:
    parent_pid = backend_pid(postgres_db)  # the connection now waits in the pool
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which reports through the pipe
        try:
            os.write(write, str(backend_pid(postgres_db)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        child_pid = int(answer.read() or 0)
    os.waitpid(child, 0)
    assert child_pid and child_pid != parent_pid  # with the parent's pool it would be the same backend
    assert backend_pid(postgres_db) == parent_pid  # the child did not close the parent's connection
