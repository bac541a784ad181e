"""A big import file is read, parsed and compressed by a child process: the same rows as reading it here,
its errors raised in the importer after the batches before them, and no child left behind."""

from __future__ import annotations

import lzma
import os
from itertools import islice
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bugsift import ingest, ingest_reader
from bugsift.ingest import import_reports
from bugsift.store.db import Database
from bugsift.store.models import ReportRow

COMPARED = ("title", "description", "raw", "comments", "created_at", "filed_component", "keywords")


@pytest.fixture
def mozilla_xz(shared_data: Path, tmp_path: Path) -> Path:
    """120 real Mozilla bugs with one broken line among them, xz-compressed like the shared files."""
    with lzma.open(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt") as handle:
        lines = list(islice(handle, 120))
    lines.insert(50, '{"id": 1, "summary": \n')
    path = tmp_path / "mozilla.jsonl.xz"
    path.write_bytes(lzma.compress("".join(lines).encode()))
    return path


@pytest.fixture
def every_file_is_big(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_reader, "MIN_BYTES", 0)


def stored(database: Database, tracker: str) -> dict[str, tuple[object, ...]]:
    with database.session() as session:
        rows = session.scalars(select(ReportRow).where(ReportRow.tracker == tracker))
        return {row.external_id: tuple(getattr(row, name) for name in COMPARED) for row in rows}


def reader_processes(marker: Path) -> list[int]:
    """Live `bugsift.ingest_reader` processes reading a file under ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bugsift.ingest_reader" in command and any(str(marker).encode() in part for part in command):
            found.append(int(pid))
    return found


def test_the_reader_process_stores_what_reading_here_stores(
    database: Database, mozilla_xz: Path, monkeypatch: pytest.MonkeyPatch, every_file_is_big: None
) -> None:
    here = import_reports(database, "bugzilla", [mozilla_xz], tracker="here", batch_size=32, keep=bool)

    def not_here(report: object) -> None:
        raise AssertionError("a big file's reports are prepared by the reader process, not here")

    monkeypatch.setattr(ingest, "prepare_report", not_here)
    child = import_reports(database, "bugzilla", [mozilla_xz], tracker="child", batch_size=32)
    assert child.line() == here.line() == "imported 120, updated 0, unchanged 0, rejected 1"
    assert child.rejected == here.rejected
    assert child.rejected[0].location == f"{mozilla_xz}:51"
    assert child.warnings == here.warnings
    assert stored(database, "child") == stored(database, "here")
    again = import_reports(database, "bugzilla", [mozilla_xz], tracker="child", batch_size=32)
    assert again.line() == "imported 0, updated 0, unchanged 120, rejected 1"  # the same content hashes


def test_a_damaged_file_keeps_the_batches_before_it_and_raises_the_readers_error(
    sqlite_db: Database, mozilla_xz: Path, every_file_is_big: None
) -> None:
    data = mozilla_xz.read_bytes()
    mozilla_xz.write_bytes(data[: len(data) * 2 // 3])
    damaged = r"mozilla.jsonl.xz: cannot read \(corrupt or truncated file\?\)"
    with pytest.raises(ValueError, match=damaged):
        import_reports(sqlite_db, "bugzilla", [mozilla_xz], tracker="here", batch_size=16, keep=bool)
    with pytest.raises(ValueError, match=damaged):
        import_reports(sqlite_db, "bugzilla", [mozilla_xz], tracker="child", batch_size=16)
    kept = stored(sqlite_db, "child")
    assert kept == stored(sqlite_db, "here") and 16 < len(kept) < 120
    assert reader_processes(mozilla_xz.parent) == []


def test_a_reader_that_dies_says_so_and_loses_nothing(
    sqlite_db: Database,
    mozilla_xz: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    every_file_is_big: None,
) -> None:
    import_reports(sqlite_db, "bugzilla", [mozilla_xz], batch_size=16)
    dying = tmp_path / "python"
    dying.write_text("#!/bin/sh\necho 'MemoryError: out of memory' >&2\nexit 137\n")
    dying.chmod(0o755)
    monkeypatch.setattr(ingest_reader.sys, "executable", str(dying))
    with pytest.raises(ingest_reader.ReaderDied) as died:
        import_reports(sqlite_db, "bugzilla", [mozilla_xz], batch_size=16)
    assert str(died.value) == (
        f"{mozilla_xz}: the import's reader process ended with exit code 137 before the end of the file: "
        "MemoryError: out of memory; the batches stored so far are kept"
    )
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportRow)) == 120


def test_a_consumer_that_stops_early_stops_the_reader(mozilla_xz: Path) -> None:
    batches = ingest_reader.prepared_batches("bugzilla", mozilla_xz, None, 8)
    first = next(batches)
    assert len(first) == 8 and reader_processes(mozilla_xz.parent)
    batches.close()  # what a database error mid-import does
    assert reader_processes(mozilla_xz.parent) == []


def test_small_files_and_filtered_imports_are_read_here(
    sqlite_db: Database, mozilla_xz: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not ingest_reader.wants_child(mozilla_xz)  # 120 bugs are far below MIN_BYTES
    assert not ingest_reader.wants_child(mozilla_xz.parent / "missing.jsonl")
    monkeypatch.setattr(ingest_reader, "MIN_BYTES", 0)

    def no_child(*args: object) -> None:
        raise AssertionError("a filter may not survive the trip to a process: read here")

    monkeypatch.setattr(ingest_reader, "prepared_batches", no_child)
    kept = import_reports(sqlite_db, "bugzilla", [mozilla_xz], keep=lambda r: r.external_id.endswith("1"))
    assert 0 < kept.counts.imported < 120 and len(kept.rejected) == 1
