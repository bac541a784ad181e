"""JSON for the JSON columns and content hashes, with orjson: the stdlib encoder dominated import time."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_bytes(value: Any, sort_keys: bool = False) -> bytes:
    """Serialise to UTF-8 JSON; values orjson does not know become their str()."""
    return orjson.dumps(value, default=str, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))


def json_text(value: Any) -> str:
    return json_bytes(value).decode("utf-8")
