"""What each job accepts, checked when it is submitted rather than when a worker runs it.

Each job module declares ``ARGS``, an `ArgSpec` per keyword of its function (type, range, choices,
format); `check_args` holds a job's arguments against it: unknown names, missing ones, wrong types,
values out of range, each refused with a ValueError naming the argument. `bugsift.jobs.submit` runs it
for every job (CLI, API, dashboard, the jobs' own follow-ups); the CLI and the API also check model task
names (``known_tasks``). `json_schema` gives the same rules to the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

MAX_ID = 2**63 - 1
"""Largest database id (signed 64-bit)."""
_KINDS = {"str": "a string", "int": "an integer", "bool": "true or false", "ids": "a list of integer ids"}


@dataclass(frozen=True)
class ArgSpec:
    """One keyword argument of a job: ``kind`` str | int | bool | ids (a list of database ids)."""

    kind: str
    required: bool = False
    nullable: bool = True
    """Whether null (the function's default of None) may be given."""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 200
    """Characters of a string; items of an ``ids`` list."""
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    """A regular expression (Python and ECMA alike) the whole string must match."""
    check: Callable[[str], str | None] | None = None
    """Returns what is wrong with a string (None when it is fine)."""
    model_task: bool = False
    """The name of a model task (checked against ``known_tasks`` by `check_args`)."""
    description: str = ""


def http_url(value: str) -> str | None:
    """What is wrong with a tracker URL: anything but http(s) with a host (file:, gopher:, ...)."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return None


def iso_datetime(value: str) -> str | None:
    """What is wrong with an ISO 8601 date or date-time (a watermark the trackers' queries quote)."""
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return "must be an ISO 8601 date or date-time, e.g. 2024-01-31T12:00:00Z"
    return None


SINCE_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
"""Only characters a date has: the value is quoted into a Jira JQL query."""


def check_args(
    task: str,
    specs: Mapping[str, ArgSpec] | None,
    args: Mapping[str, Any],
    known_tasks: Collection[str] | None = None,
) -> dict[str, Any]:
    """``args`` checked against a job's ``specs`` (None: anything plain); ValueError says what is wrong."""
    if specs is None:
        return dict(args)
    unknown = sorted(set(args) - set(specs))
    if unknown:
        takes = ", ".join(specs) or "no arguments"
        raise ValueError(f"{task} takes no argument {', '.join(unknown)}; it takes {takes}")
    missing = [name for name, spec in specs.items() if spec.required and args.get(name) is None]
    if missing:
        raise ValueError(f"{task} needs {', '.join(missing)}")
    for name, value in args.items():
        _check_value(f"args.{name}", specs[name], value, known_tasks)
    return dict(args)


def _check_value(where: str, spec: ArgSpec, value: Any, known_tasks: Collection[str] | None) -> None:
    if value is None:
        if not spec.nullable:
            raise ValueError(f"{where}: must be {_KINDS[spec.kind]}, not null")
        return
    if spec.kind in ("str", "int", "bool") and isinstance(value, dict | list):
        raise ValueError(f"{where}: give a plain value ({_KINDS[spec.kind]}), not a {type(value).__name__}")
    if spec.kind == "str":
        _check_str(where, spec, value, known_tasks)
    elif spec.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false, not {value!r}")
    elif spec.kind == "int":
        _check_int(where, spec, value)
    else:
        _check_ids(where, spec, value)


def _check_str(where: str, spec: ArgSpec, value: Any, known_tasks: Collection[str] | None) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a string, not {type(value).__name__}")
    if not value or len(value) > spec.max_length:
        raise ValueError(f"{where}: must be 1 to {spec.max_length} characters long")
    if "\x00" in value:  # PostgreSQL's JSON columns cannot hold NUL
        raise ValueError(f"{where}: must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: is not valid text (a lone surrogate)") from None
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{where} must be one of {', '.join(spec.choices)}, not {value!r}")
    if spec.model_task and known_tasks is not None and value not in known_tasks:
        listing = getattr(known_tasks, "listing", lambda: ", ".join(known_tasks))()  # label:NAME too
        raise ValueError(f"{where} must be one of {listing}, not {value!r}")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise ValueError(f"{where}: {value[:60]!r} is not of the expected form ({spec.description})")
    problem = spec.check(value) if spec.check else None
    if problem:
        raise ValueError(f"{where}: {problem}, not {value[:60]!r}")


def _check_int(where: str, spec: ArgSpec, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: must be an integer, not {type(value).__name__} {str(value)[:40]!r}")
    low = spec.minimum if spec.minimum is not None else -MAX_ID
    high = spec.maximum if spec.maximum is not None else MAX_ID
    if not low <= value <= high:
        raise ValueError(f"{where}: must be from {low} to {high}, not {_short(value)}")


def _check_ids(where: str, spec: ArgSpec, value: Any) -> None:
    if not isinstance(value, list) or not value or len(value) > spec.max_length:
        raise ValueError(f"{where}: must be a list of 1 to {spec.max_length} integer ids")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
            raise ValueError(f"{where}[{i}]: must be an integer id from 1 to {MAX_ID}, not {_short(item)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"


def json_schema(spec: ArgSpec, known_tasks: Collection[str] = ()) -> dict[str, Any]:
    """The OpenAPI 3.0 schema of one argument (the same rules `check_args` applies)."""
    schema: dict[str, Any]
    if spec.kind == "str":
        schema = {"type": "string", "minLength": 1, "maxLength": spec.max_length}
        choices = spec.choices or (tuple(known_tasks) if spec.model_task and known_tasks else None)
        if choices:
            schema = {"type": "string", "enum": list(choices)}
        pattern = getattr(known_tasks, "pattern", None) if spec.model_task else None
        if pattern:  # label:NAME, field:NAME beside the fixed names
            schema = {"anyOf": [schema, {"type": "string", "pattern": f"^{pattern}$"}]}
        if spec.pattern:
            schema["pattern"] = spec.pattern
    elif spec.kind == "int":
        schema = {"type": "integer", "minimum": spec.minimum, "maximum": spec.maximum}
        schema = {k: v for k, v in schema.items() if v is not None}
    elif spec.kind == "bool":
        schema = {"type": "boolean"}
    else:
        schema = {
            "type": "array",
            "minItems": 1,
            "maxItems": spec.max_length,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
    if spec.nullable and not spec.required:
        schema["nullable"] = True
        if "enum" in schema:  # OpenAPI 3.0: nullable does not add null to an enum by itself
            schema["enum"] = [*schema["enum"], None]
    if spec.description:
        schema["description"] = spec.description
    return schema
