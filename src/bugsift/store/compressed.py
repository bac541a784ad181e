"""JSON columns stored zlib-compressed: a TypeDecorator over LargeBinary (BLOB, or bytea on PostgreSQL).

Used for the two big columns of a report, ``raw`` and ``comments`` (migration 0010): Jira comments and
records shrink to about a fifth. The bytes are zlib's format, written by ISA-L (`isal`) where its wheel is
installed: 3.5x zlib's speed on the import path, and a store reads back with either (docs/performance.md,
"What a stored report costs on disk" and "Import").
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

from bugsift.store.jsoncodec import json_bytes

try:
    from isal import isal_zlib as zlib
except ImportError:  # a platform without isal's wheel: the stdlib writes the same format, slower
    import zlib  # type: ignore[no-redef]

# Level 1 (either library): zlib's level 6 is 10% smaller on the Jira records but half as fast, on import.
LEVEL = 1


class CompressedValueError(ValueError):
    """Stored bytes that are not zlib-compressed JSON (a store not migrated, or a damaged row)."""


class Packed(bytes):
    """A value already in its stored form (`pack`), written as is: an import compresses in its reader
    process, so the writer only hands the bytes to the database."""


def pack(value: Any) -> Packed:
    """The stored form of a JSON value; None is stored as JSON ``null``, as the JSON columns did."""
    return Packed(zlib.compress(json_bytes(value), LEVEL))


def unpack(data: bytes | memoryview | str) -> Any:
    """The JSON value back from its stored form; anything else is refused with what it was."""
    if isinstance(data, str):
        raise CompressedValueError(
            f"expected zlib-compressed JSON, got text {data[:40]!r}: is the store migrated to 0010?"
        )
    try:
        return orjson.loads(zlib.decompress(data))
    except zlib.error as error:
        raise CompressedValueError(
            f"expected zlib-compressed JSON, got {len(data)} bytes that are not zlib data ({error})"
        ) from None


class CompressedJSON(TypeDecorator[Any]):
    """A JSON value (dict, list ...) written with `pack` and read with `unpack`."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> bytes:
        return value if isinstance(value, Packed) else pack(value)

    def process_result_value(self, value: bytes | None, dialect: Any) -> Any:
        return None if value is None else unpack(value)
