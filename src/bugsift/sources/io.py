"""Reading tracker dumps: compressed files, JSON lines or JSON documents, CSV, dates and field values.

Everything here is tracker-neutral. Importers call `iter_json_records` / `iter_csv_rows` and the small
coercion helpers (`as_text`, `as_opt_str`, ...), which raise `RecordError` for a wrong-typed field so that
one bad record becomes a `Rejected` instead of stopping the import.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

import orjson

from bugsift.sources.base import RecordError, Rejected, Report

# Huge bodies (GitHub issues over 200k characters) must not stop the CSV reader.
csv.field_size_limit(sys.maxsize)

_MAGIC = (
    (b"\x1f\x8b", gzip.open),
    (b"\xfd7zXZ\x00", lzma.open),
    (b"BZh", bz2.open),
)
# Escapes that decode to characters a database or an encoder chokes on: NUL and lone surrogates.
_BAD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# After JSON decoding, a surrogate code point in a str is always a lone one (pairs decode to one character).
_SURROGATES = re.compile("[\ud800-\udfff]")
_SNIFF_BYTES = 64 * 1024
ACCEPTED = "expected JSON lines, one JSON document or CSV with a header line (plain, .gz or .xz)"
_BINARY_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx / .docx file)"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"\x7fELF", "a program"),
)
# Share of control bytes (not tab / newline / carriage return / form feed) above which a file is binary:
# text exports hold a stray NUL at most (one of the 3,690 Ticket Tagger lines), binaries ~20% or more.
_BINARY_SHARE = 0.05
# strict=False: raw control characters inside strings occur in hand-made exports and are harmless.
_DECODER = json.JSONDecoder(strict=False)

MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays / objects a record may have (real tracker records stay under 10). Deeper
ones are rejected: the stdlib decoder overflows the stack at ~1,000 levels, orjson (which stores the
records) refuses more than 255."""
MAX_FIELD_CHARS = 1_000_000
"""Longest text value kept whole (5x the web form's description limit; the largest real body in the
shared data has 207,777 characters). Longer values keep their first MAX_FIELD_CHARS characters, with a
warning: the models and the full-text index read only the first 6,000 to 60,000 characters anyway."""


class JsonTooDeep(ValueError):
    """A JSON text nests deeper than MAX_JSON_DEPTH."""


class Location(str):
    """A ``path:line`` or ``path:record N`` string that also carries the line / record number, and the
    warnings about that record (a field cut to MAX_FIELD_CHARS) for `guarded` to hand to its Report."""

    number: int
    notes: tuple[str, ...]

    def __new__(cls, text: str, number: int, notes: tuple[str, ...] = ()) -> Location:
        self = super().__new__(cls, text)
        self.number = number
        self.notes = notes
        return self

    def __reduce__(self) -> tuple[type[Location], tuple[str, int, tuple[str, ...]]]:
        # a big import's Rejected records cross from its reader process (ingest_reader) as pickles
        return (Location, (str(self), self.number, self.notes))


JsonItem = tuple[Location, Any] | Rejected


# --- opening files -----------------------------------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    """Open a plain, gzip, xz or bzip2 file, chosen by its magic bytes (the suffix may lie)."""
    try:
        with open(path, "rb") as probe:
            head = probe.read(6)
        for magic, opener in _MAGIC:
            if head.startswith(magic):
                return opener(path, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise ValueError(f"{path}: cannot open: {exc.strerror or exc}") from exc


def open_text(path: Path, newline: str | None = None) -> IO[str]:
    """Open as UTF-8 text; invalid bytes become U+FFFD instead of failing, a BOM is dropped."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline=newline)


def sniff_kind(path: Path) -> str:
    """Return ``"json"`` when the content starts with ``{`` or ``[``, else ``"csv"``; ``"empty"`` if blank.

    A binary file (an image, an archive, a spreadsheet) raises ValueError: read as CSV, its first bytes
    would come out as a garbled column name.
    """
    with open_binary(path) as fh:
        try:
            head = fh.read(_SNIFF_BYTES)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise ValueError(f"{path}: cannot read: {exc}") from exc
    binary = binary_kind(head)
    if binary:
        raise ValueError(f"{path}: {binary}, not a report file; {ACCEPTED}")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n\x00")
    if not text:
        return "empty"
    return "json" if text[0] in "{[" else "csv"


def binary_kind(head: bytes) -> str | None:
    """What a binary file's first bytes say it is ("a PNG image", "a binary file"); None for text."""
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    sample = head[:4096]
    controls = sum(1 for byte in sample if byte < 32 and byte not in b"\t\n\r\x0c")
    return "a binary file" if sample and controls / len(sample) > _BINARY_SHARE else None


# --- JSON --------------------------------------------------------------------------------------------


def clean_value(value: Any) -> Any:
    """Recursively drop NUL characters and lone surrogates in every string of a JSON value."""
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean_str(k): clean_value(v) for k, v in value.items()}
    return value


def clean_str(text: str) -> str:
    """``text`` without NUL characters and lone surrogates (a ``"\\ud800"`` escape), the rest kept."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _SURROGATES.search(text):  # UTF-8 cannot store them: drop, as documented
        text = _SURROGATES.sub("", text)
    return text


def loads_json(text: str) -> Any:
    """Decode one JSON text (a line or a document) with NUL and lone surrogates removed.

    Raises ValueError when it is not JSON, and `JsonTooDeep` (a ValueError) when it nests deeper than
    MAX_JSON_DEPTH, so that such a record is rejected like any other malformed one.

    orjson decodes first (twice the stdlib's speed on the Jira lines). It accepts a subset of what the
    stdlib decoder accepts, so whatever it refuses (raw control characters inside strings, lone surrogate
    escapes, NaN, numbers beyond a double, nesting over 255) and whatever it would decode differently
    (integers beyond 64 bits, which it turns into floats) goes through the stdlib decoder, as before:
    the values and the error messages stay those of the stdlib.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _loads_json_stdlib(text)
    # One walk checks the depth and finds the floats an integer beyond 64 bits may have become.
    if _deep_or_big(value, MAX_JSON_DEPTH):
        return _loads_json_stdlib(text)
    return clean_value(value) if _BAD_ESCAPE.search(text) else value


_BIG = float(2**63)
"""orjson keeps integers in [-2**63, 2**64) exact and makes larger ones floats, all >= 2**63 in size."""


def _deep_or_big(value: Any, limit: int) -> bool:
    """Whether arrays / objects nest more than ``limit`` levels or hold a float of size 2**63 or more
    (iterative; the exact types are enough, a decoder builds only plain dicts and lists)."""
    if type(value) is float:
        return not -_BIG < value < _BIG
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node if type(node) is list else ():
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and not -_BIG < child < _BIG:
                return True
    return False


def _loads_json_stdlib(text: str) -> Any:
    """`loads_json` with the stdlib decoder alone: depth checked, NUL and lone surrogates dropped."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    # Counting brackets is cheap; walking the value is only needed when there are enough of them.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nested_deeper(value, MAX_JSON_DEPTH):
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return clean_value(value) if _BAD_ESCAPE.search(text) else value


def json_error_reason(error: ValueError) -> str:
    """The Rejected reason for a line `loads_json` refused."""
    return str(error) if isinstance(error, JsonTooDeep) else f"invalid JSON: {error}"


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether arrays / objects nest more than ``limit`` levels (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def cap_strings(value: Any, limit: int = MAX_FIELD_CHARS, where: str = "") -> tuple[Any, list[str]]:
    """``value`` with every string longer than ``limit`` cut to its first ``limit`` characters (in place
    for lists and dicts), and one note per cut string naming its field."""
    notes: list[str] = []
    if isinstance(value, str):
        if len(value) <= limit:
            return value, notes
        notes.append(f"field '{where or 'value'}' cut from {len(value):,} to {limit:,} characters")
        return value[:limit], notes
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in list(items):
        if isinstance(child, (str, list, dict)):
            name = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
            value[key], child_notes = cap_strings(child, limit, name)
            notes += child_notes
    return value, notes


def iter_json_records(path: Path, envelopes: tuple[str, ...] = ()) -> Iterator[JsonItem]:
    """Yield ``(location, value)`` for each record of a JSON-lines file or a JSON document.

    A document may be one object, a list of objects, or an object whose only list is under one of
    ``envelopes`` (``{"bugs": [...]}``); envelopes are also unwrapped on single lines. A line that is
    not valid JSON yields a `Rejected` and reading goes on.
    """
    return _read_errors_as_value_error(path, _iter_json_records(path, envelopes))


def _read_errors_as_value_error(path: Path, items: Iterator[Any]) -> Iterator[Any]:
    """A truncated or corrupt .gz / .xz fails mid-file: say which file, as a ValueError."""
    try:
        yield from items
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        raise ValueError(f"{path}: cannot read (corrupt or truncated file?): {exc}") from exc


def _iter_json_records(path: Path, envelopes: tuple[str, ...]) -> Iterator[JsonItem]:
    with open_text(path) as fh:
        first = _first_content_line(fh)
        if first is None:
            return
        (lineno, line), first = first, None
        try:
            value = loads_json(line)
        except ValueError as exc:
            document = _try_document(path, lineno, line, fh)
            if document is not None:
                yield from _unwrap(path, None, document, envelopes, long=True)
                return
            yield Rejected(Location(f"{path}:{lineno}", lineno), json_error_reason(exc))
        else:
            long, line = len(line) > MAX_FIELD_CHARS, ""  # let a huge line go before its records are used
            yield from _unwrap(path, lineno, value, envelopes, long)
        yield from _iter_lines(path, fh, lineno, envelopes)


def _first_content_line(fh: IO[str]) -> tuple[int, str] | None:
    for lineno, line in enumerate(fh, 1):
        if line.strip(" \t\r\n\x00"):
            return lineno, line.replace("\x00", "")
    return None


def _try_document(path: Path, lineno: int, line: str, fh: IO[str]) -> Any | None:
    """The first line is not JSON by itself: maybe the file is one (pretty-printed) JSON document."""
    rest = fh.read().replace("\x00", "")
    try:
        return loads_json(line + rest)
    except ValueError as exc:
        doc_error = exc
    # Not a document either: JSON lines with a broken first line, or not JSON at all.
    second = next((s for s in rest.splitlines() if s.strip()), None)
    if second is not None:
        try:
            loads_json(second)
        except ValueError:
            raise ValueError(
                f"{path}: not JSON lines nor a single JSON document (line {lineno}: {doc_error})"
            ) from doc_error
    # Re-feed the remaining lines to the line reader.
    fh.seek(0)
    for _ in range(lineno):
        fh.readline()
    return None


def _iter_lines(path: Path, fh: IO[str], start: int, envelopes: tuple[str, ...]) -> Iterator[JsonItem]:
    for lineno, line in enumerate(fh, start + 1):
        if "\x00" in line:
            line = line.replace("\x00", "")
        if not line or line.isspace():  # as `not line.strip()`, without copying a 10 kB line
            continue
        try:
            value = loads_json(line)
        except ValueError as exc:
            yield Rejected(Location(f"{path}:{lineno}", lineno), json_error_reason(exc))
            continue
        long, line = len(line) > MAX_FIELD_CHARS, ""  # let a huge line go before its records are used
        yield from _unwrap(path, lineno, value, envelopes, long)


def _unwrap(
    path: Path, lineno: int | None, value: Any, envelopes: tuple[str, ...], long: bool = False
) -> Iterator[JsonItem]:
    """Yield the records of one parsed value (a line or a whole document).

    ``long``: the text was longer than MAX_FIELD_CHARS, so a field of it may be too: cut such fields.
    """
    items = _envelope_items(value, envelopes)
    if items is None and isinstance(value, list):
        items = value
    if items is None:
        where = f"{path}:{lineno}" if lineno is not None else f"{path}:record 1"
        yield _located(where, lineno or 1, value, long)
        return
    for n, item in enumerate(items, 1):
        where = f"{path}:{lineno} record {n}" if lineno is not None else f"{path}:record {n}"
        yield _located(where, n, item, long)


def _located(where: str, number: int, value: Any, long: bool) -> tuple[Location, Any]:
    if not long:
        return Location(where, number), value
    value, notes = cap_strings(value)
    return Location(where, number, tuple(notes)), value


def _envelope_items(value: Any, envelopes: tuple[str, ...]) -> list[Any] | None:
    if isinstance(value, dict):
        for key in envelopes:
            if isinstance(value.get(key), list):
                return value[key]
    return None


def read_json_reports(
    path: Path,
    *,
    envelopes: tuple[str, ...],
    looks_like: Callable[[dict[str, Any]], bool],
    expected: str,
    build: Callable[[Location, dict[str, Any]], Report | None],
) -> Iterator[Report | Rejected]:
    """Drive an importer over a JSON file: check the first record's shape, reject bad records one by one.

    ``build`` returns None for records that are deliberately skipped (e.g. GitHub pull requests).
    """
    checked = False
    for item in iter_json_records(path, envelopes):
        if isinstance(item, Rejected):
            yield item
            continue
        location, obj = item
        if not isinstance(obj, dict):
            yield Rejected(location, f"expected a JSON object, got {type(obj).__name__}")
            continue
        if not checked:
            checked = True
            if not looks_like(obj):
                keys = ", ".join(sorted(obj)[:12])
                raise ValueError(f"{path}: not {expected} (first record at {location} has keys: {keys})")
        yield from guarded(location, build, location, obj)


def guarded(location: str, build: Callable[..., Report | None], *args: Any) -> Iterator[Report | Rejected]:
    """Run one record's conversion; a wrong shape becomes a `Rejected` instead of an exception."""
    try:
        report = build(*args)
    except RecordError as exc:
        yield Rejected(location, str(exc))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        yield Rejected(location, f"unexpected record shape: {type(exc).__name__}: {exc}")
    else:
        if report is not None:
            report.warnings.extend(f"{location}: {note}" for note in getattr(location, "notes", ()))
            yield report


# --- CSV ---------------------------------------------------------------------------------------------


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, read eagerly so a wrong file fails before any import starts."""
    with open_text(path, newline="") as fh:
        reader = _csv_reader(fh)
        try:
            header = [h.strip() for h in next(reader, [])]
        except csv.Error as exc:
            raise ValueError(f"{path}: cannot read CSV header: {exc}") from exc
    if not any(header):
        raise ValueError(f"{path}: empty CSV file (expected a header line)")
    if _plain_text(header):
        raise ValueError(
            f"{path}: plain text, not a report file (its first line {header[0][:40]!r} has no CSV columns); "
            f"{ACCEPTED}"
        )
    return header


def _plain_text(header: list[str]) -> bool:
    """A first line with no delimiter that reads like a sentence: a .txt note, not a CSV header."""
    return len(header) == 1 and (" " in header[0] or len(header[0]) > 40)


def iter_csv_rows(path: Path) -> Iterator[tuple[Location, list[str]]]:
    """Yield ``(path:line, row)`` for each data row; the line is where the row starts (header = line 1).

    Rows are lists, not dicts, so repeated columns survive (Jira exports repeat ``Component/s``).
    """
    return _read_errors_as_value_error(path, _iter_csv_rows(path))


def _iter_csv_rows(path: Path) -> Iterator[tuple[Location, list[str]]]:
    with open_text(path, newline="") as fh:
        reader = _csv_reader(fh)
        header = next(reader, None) or []
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValueError(f"{path}:{start}: broken CSV: {exc}") from exc
            if row:
                yield Location(f"{path}:{start}", start, _cap_cells(header, row)), row


def _cap_cells(header: list[str], row: list[str]) -> tuple[str, ...]:
    """Cut cells longer than MAX_FIELD_CHARS in place; one note per cut cell, named by its column."""
    notes = []
    for i, cell in enumerate(row):
        if len(cell) > MAX_FIELD_CHARS:
            name = header[i].strip() if i < len(header) and header[i].strip() else f"column {i + 1}"
            row[i], (note,) = cap_strings(cell, where=name)
            notes.append(note)
    return tuple(notes)


def _csv_reader(fh: IO[str]) -> Any:
    """A csv reader over NUL-free lines; the delimiter (comma, semicolon or tab) comes from the header."""
    lines = (line.replace("\x00", "") if "\x00" in line else line for line in fh)
    first = next(lines, "")
    delimiter = max(",;\t", key=first.count)
    return csv.reader(_chain_first(first, lines), delimiter=delimiter)


def _chain_first(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def column_index(header: list[str], *names: str) -> int | None:
    """Index of the first column whose name matches one of ``names`` (case and spaces ignored)."""
    wanted = [n.strip().lower() for n in names]
    lowered = [h.strip().lower() for h in header]
    for name in wanted:
        if name in lowered:
            return lowered.index(name)
    return None


# --- dates -------------------------------------------------------------------------------------------

_FORMATS = (
    "%d/%b/%y %I:%M %p",  # Jira CSV export: 04/Feb/06 5:54 AM
    "%d/%b/%Y %I:%M %p",
    "%d/%b/%y %H:%M",
    "%d/%b/%Y %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f%z",  # Jira REST: 2006-02-04T05:54:30.000+0000
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M",
)


def parse_datetime(value: Any, field: str = "date", assume: tzinfo = UTC) -> datetime | None:
    """Parse a date to an aware UTC datetime; naive values are taken in ``assume`` (UTC by default).

    Accepts datetimes, epoch seconds (or milliseconds), ISO 8601 and the usual tracker formats.
    Empty values give None; anything unparseable raises `RecordError` naming the field.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:  # beyond what the platform's clock holds, NaN
            raise RecordError(f"field '{field}' is not a date: {value!r} is out of range") from exc
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip(), field)
    else:
        raise RecordError(f"field '{field}' should be a date, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=assume)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # a year-1 or year-9999 value pushed past the calendar by its offset
        raise RecordError(f"field '{field}' is not a date: {value!s:.40} is out of range") from exc


def _parse_date_text(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text)  # RFC 2822, as in mail-based trackers
    except (TypeError, ValueError) as exc:
        raise RecordError(f"field '{field}' is not a date: {text[:40]!r}") from exc


# --- field coercion ----------------------------------------------------------------------------------


def require(obj: dict[str, Any], field: str) -> Any:
    """The value of a mandatory field; missing, null or empty raises `RecordError`."""
    value = obj.get(field)
    if value is None or value == "":
        raise RecordError(f"missing field '{field}'")
    return value


def as_id(value: Any, field: str) -> str:
    """An id as text: integers and non-empty strings are fine, anything else is a wrong type."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RecordError(f"field '{field}' should be an integer or a string, got {type(value).__name__}")
    text = clean_str(str(value)).strip()
    if not text:
        raise RecordError(f"missing field '{field}'")
    return text


def as_text(value: Any, field: str) -> str:
    """Free text: None becomes "", numbers become their text, NUL characters are removed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"field '{field}' should be text, got {type(value).__name__}")


def as_opt_str(value: Any, field: str) -> str | None:
    """A short optional value (status, component ...); None or "" stays None."""
    if type(value) is str:  # the common case, without the call
        return (value.replace("\x00", "") if "\x00" in value else value) or None
    text = as_text(value, field)
    return text or None


def as_str_list(value: Any, field: str) -> list[str]:
    """A list of texts; None gives []; a single string gives a one-item list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, list):
        raise RecordError(f"field '{field}' should be a list, got {type(value).__name__}")
    if not value:
        return []
    if all(type(v) is str for v in value):  # the common case, kept fast for big comment lists
        return [v.replace("\x00", "") if "\x00" in v else v for v in value if v]
    return [as_text(v, field) for v in value if v is not None and v != ""]


def as_list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"field '{field}' should be a list, got {type(value).__name__}")
    return value


def as_dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"field '{field}' should be an object, got {type(value).__name__}")
    return value


def label_text(value: Any) -> str | None:
    """A label column value as text (``True`` -> ``"True"``); None / "" mean "no label"."""
    if value is None or value == "" or isinstance(value, (list, dict)):
        return None
    return clean_str(str(value))
