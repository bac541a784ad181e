"""URL converters: ``<id:name>`` is a database id that fits the database's integer (signed 64-bit)."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

MAX_ID = 2**63 - 1
"""Largest id SQLite's INTEGER and PostgreSQL's bigint hold; a larger one overflows in the driver (a 500)."""


class IdConverter(BaseConverter):
    """ASCII digits (werkzeug's ``int`` also takes other Unicode digits) up to `MAX_ID`; larger: a 400.

    Raising BadRequest (not ValidationError) ends the routing with that answer instead of a bare 404.
    """

    regex = r"[0-9]+"
    weight = 50

    def to_python(self, value: str) -> int:
        digits = value.lstrip("0")
        if len(digits) > len(str(MAX_ID)) or int(digits or "0") > MAX_ID:
            shown = value if len(value) <= 30 else f"{value[:30]}... ({len(value)} digits)"
            raise BadRequest(f"path id {shown} is out of range: ids are integers from 0 to {MAX_ID}")
        return int(digits or "0")

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]
