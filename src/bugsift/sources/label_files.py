"""Read human label files: CSV or JSON lines of (report id, label value).

Three layouts are understood:
- wide: one row per report, an id column and a label column (``id,is_bug``);
- long: ``bug_id,...,columns,values`` rows where ``columns`` names the label (bugbug's labels_long.csv);
  the label read is ``--column`` if given, else the label set's name;
- JSON lines: one object per line with an id key and the label key.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bugsift.sources.base import Rejected
from bugsift.sources.io import JsonTooDeep, loads_json

ID_COLUMNS = ("id", "bug_id", "key", "number", "external_id", "issue_key")
LabelRow = tuple[str, str]  # (external id, value)


def read_label_file(
    path: Path, name: str, column: str | None = None, id_column: str | None = None
) -> Iterator[LabelRow | Rejected]:
    """Yield (external id, value) per labelled report; unreadable rows become Rejected with file:line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such label file")
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        if first in ("{", "["):
            yield from _read_json_lines(path, handle, name, column, id_column)
        else:
            yield from _read_csv(path, handle, name, column, id_column)


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: Path) -> str:
    if wanted:
        if wanted not in columns:
            raise ValueError(f"{path}: no {what} column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise ValueError(
        f"{path}: cannot tell which column is the {what} (tried {', '.join(candidates)}; "
        f"columns: {', '.join(columns)}); name it with --{what.replace(' ', '-')}-column"
    )


def _text(value: Any) -> str | None:
    """Normalise a label value to text; None and blanks mean 'not labelled'."""
    if value is None:
        return None
    text = str(value).strip().replace("\x00", "")
    return text or None


def _read_csv(
    path: Path, handle: io.TextIOBase, name: str, column: str | None, id_column: str | None
) -> Iterator[LabelRow | Rejected]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(handle)
    columns = list(reader.fieldnames or [])
    if not columns:
        raise ValueError(f"{path}: empty label file (expected a header line such as 'id,{name}')")
    id_key = _pick(columns, id_column, ID_COLUMNS, "id", path)
    wanted = column or name
    # Long layout: the label's name is in the `columns` column and its value in `values`.
    long_format = {"columns", "values"} <= set(columns) and wanted not in columns
    value_key = "values" if long_format else _pick(columns, column, (name, "label", "value"), "label", path)
    for row in reader:
        location = f"{path}:{reader.line_num}"
        if long_format and row.get("columns") != wanted:
            continue
        external_id, value = _text(row.get(id_key)), _text(row.get(value_key))
        if external_id is None:
            yield Rejected(location, f"missing {id_key!r}")
        elif value is not None:
            yield external_id, value


def _read_json_lines(
    path: Path, handle: io.TextIOBase, name: str, column: str | None, id_column: str | None
) -> Iterator[LabelRow | Rejected]:
    value_keys = (column,) if column else (name, "label", "value")
    id_keys = (id_column,) if id_column else ID_COLUMNS
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        try:
            record = loads_json(line)  # NUL and lone surrogates removed, too deep nesting refused
        except JsonTooDeep as error:
            yield Rejected(location, str(error))
            continue
        except json.JSONDecodeError as error:
            yield Rejected(location, f"not JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            yield Rejected(location, "expected a JSON object per line")
            continue
        external_id = next((_text(record[k]) for k in id_keys if k in record), None)
        if external_id is None:
            yield Rejected(location, f"no id field (tried {', '.join(id_keys)})")
            continue
        value = next((_text(record[k]) for k in value_keys if k in record), None)
        if value is not None:
            yield external_id, value
