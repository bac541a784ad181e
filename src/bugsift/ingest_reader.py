"""An import's reading half in a child process: decompressing, parsing, content hashes and compression.

In one process these hold the GIL about half the time, so a reader thread beside the writer made an
import slower, not faster (docs/performance.md, "Import"). A process of its own puts that work on the
second core and leaves the writer the database. The child is ``python -m bugsift.ingest_reader``, not
multiprocessing, whose spawn re-runs the caller's main script. Batches come back as length-prefixed
pickles over its stdout (our own child, same code): the pipe's back-pressure keeps memory flat.
"""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

from bugsift.sources import read_reports
from bugsift.sources.base import Rejected, Report
from bugsift.store.reports import PreparedReport, prepare_report

Batch = list[PreparedReport | Rejected]
MIN_BYTES = 4 * 2**20
"""Files smaller than this are read in the importing process: a child costs about 0.4 s to start."""
_HEADER = struct.Struct("<cQ")  # kind (b = batch, e = error, d = done), then the pickle's length


class ReaderDied(RuntimeError):
    """The reader process ended without saying why (killed, out of memory)."""


def wants_child(path: Path) -> bool:
    """Whether ``path`` is big enough for a reader process, and this process can start one."""
    return bool(sys.executable) and path.is_file() and path.stat().st_size >= MIN_BYTES


def prepared_batches(fmt: str, path: Path, tracker: str | None, batch_size: int) -> Iterator[Batch]:
    """The file's reports, prepared for `upsert_reports`, and its rejected records, from a child process.

    An error of the reader (a damaged file ...) is raised here after the batches read before it; a
    consumer that stops early stops the child.
    """
    _close(read_reports(fmt, path, tracker))  # a wrong format or a missing file fails here, at once
    command = [sys.executable, "-m", __name__, fmt, str(path), tracker or "", str(batch_size)]
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        assert child.stdout is not None
        try:
            while True:
                kind, payload = _receive(child.stdout)
                if kind == b"b":
                    yield payload
                elif kind == b"e":
                    raise payload
                elif kind == b"d":
                    return
                else:
                    raise ReaderDied(_died(path, child, errors))
        finally:
            if child.poll() is None:
                child.kill()
            child.stdout.close()
            child.wait()


def _close(items: Any) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _receive(stream: IO[bytes]) -> tuple[bytes, Any]:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return b"", None
    kind, size = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return b"", None
    return kind, pickle.loads(body)


def _died(path: Path, child: subprocess.Popen[bytes], errors: IO[bytes]) -> str:
    code = child.wait()
    errors.seek(0)
    last = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:]
    why = f": {last[0]}" if last else ""
    return (
        f"{path}: the import's reader process ended with exit code {code} before the end of the file"
        f"{why}; the batches stored so far are kept"
    )


def _send(stream: IO[bytes], kind: bytes, payload: Any) -> None:
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(kind, len(body)))
    stream.write(body)
    stream.flush()


def _produce(fmt: str, path: str, tracker: str | None, batch_size: int, out: IO[bytes]) -> None:
    try:
        items = iter(read_reports(fmt, path, tracker))
        while batch := list(islice(items, batch_size)):
            _send(out, b"b", [_prepared(item) for item in batch])
    except BrokenPipeError:  # the importer stopped reading: nothing to tell it
        return
    except Exception as error:
        _send(out, b"e", _picklable(error))
    else:
        _send(out, b"d", None)


def _prepared(item: Report | Rejected) -> PreparedReport | Rejected:
    return prepare_report(item) if isinstance(item, Report) else item


def _picklable(error: Exception) -> Exception:
    """``error`` if it survives the trip, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


if __name__ == "__main__":
    fmt_arg, path_arg, tracker_arg, size_arg = sys.argv[1:5]
    _produce(fmt_arg, path_arg, tracker_arg or None, int(size_arg), sys.stdout.buffer)
