"""JSON request bodies the rest of the app can hold: anything hostile is a ValueError (a 400), never a 500.

Python's decoder raises RecursionError on deeply nested input (``"[" * 100000``), which Flask would turn
into a 500, and it accepts escaped lone surrogates (``"\\ud800"``), which neither the database drivers nor
orjson can store. `loads` turns both into a `BadJSON` (a ValueError), so ``request.get_json`` treats them as
bad JSON, and it refuses nesting deeper than `MAX_DEPTH` (orjson, which writes the JSON columns, stops at
255 levels). `JSONProvider` puts it behind every ``get_json`` of the app; the webhook calls `loads` itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64
"""Deepest nesting accepted in a request body (API bodies are flat; GitHub's payloads nest ~5 levels)."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_Trail = tuple[Any, Any] | None  # (parent trail, key): the path of a value, built only for an error message


class BadJSON(ValueError):
    """A body that parses as JSON but that the app refuses to hold (message names the place)."""


def loads(data: str | bytes, *, max_int: int | None = None, **kwargs: Any) -> Any:
    """``json.loads`` whose every failure is a ValueError naming where the body went wrong; with
    ``max_int``, integers beyond +-``max_int`` are refused too (a database column could not hold them)."""
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise BadJSON(f"body: nested far deeper than the {MAX_DEPTH} levels accepted") from None
    check_value(value, max_int=max_int)
    return value


def check_value(value: Any, where: str = "body", max_int: int | None = None) -> None:
    """Refuse nesting deeper than `MAX_DEPTH`, lone surrogates in strings or keys and (with ``max_int``)
    integers out of range; walked without recursion, so a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int, _Trail]] = [(value, 0, None)]
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise BadJSON(f"{_path(where, trail)}: nested deeper than {MAX_DEPTH} levels")
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise BadJSON(f"{_path(where, trail)}: a key contains a lone surrogate, not text")
                stack.append((child, depth + 1, (trail, key)))
        elif (problem := _problem(item, max_int)) is not None:
            raise BadJSON(f"{_path(where, trail)}: {problem}")


def _problem(item: Any, max_int: int | None) -> str | None:
    if isinstance(item, str) and _SURROGATE.search(item):
        return "contains a lone surrogate (\\ud800-\\udfff), not text"
    if max_int is not None and type(item) is int and not -max_int - 1 <= item <= max_int:
        return f"integer out of range (at most {max_int} either way)"
    return None


def _path(where: str, trail: _Trail) -> str:
    keys: list[Any] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    return where + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in reversed(keys))


class JSONProvider(DefaultJSONProvider):
    """Flask's default JSON, with `loads` for request bodies (``app.json = JSONProvider(app)``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
