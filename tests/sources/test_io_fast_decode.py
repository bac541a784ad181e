"""`loads_json` decodes with orjson first and falls back to the stdlib decoder: the values and the
errors must be exactly those of the stdlib path (`_loads_json_stdlib`, the decoder used before)."""

from __future__ import annotations

import lzma
import random
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest

from bugsift.sources import Rejected, read_reports
from bugsift.sources.io import (
    MAX_JSON_DEPTH,
    JsonTooDeep,
    _loads_json_stdlib,
    iter_json_records,
    json_error_reason,
    loads_json,
)


def _jira_lines(data_dir: Path, n: int) -> list[str]:
    path = data_dir / "apache-jira" / "jira_issues.jsonl.xz"
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return list(islice(fh, n))


def _outcome(decode: Any, text: str) -> tuple[str, str]:
    """The value (by repr, so 1 and 1.0 differ) or the error type and message."""
    try:
        return "value", repr(decode(text))
    except ValueError as exc:
        return type(exc).__name__, str(exc)


def test_real_jira_lines_decode_equal_through_orjson_and_the_stdlib(data_dir: Path) -> None:
    lines = _jira_lines(data_dir, 3000)
    assert all(isinstance(orjson.loads(line), dict) for line in lines)  # the fast path is the one taken
    non_ascii = [line for line in lines if not line.isascii()]
    escaped = [line for line in lines if "\\u" in line]
    assert non_ascii and escaped  # the sample covers non-ASCII text and \u escapes
    for line in lines:
        assert repr(loads_json(line)) == repr(_loads_json_stdlib(line))


def test_mutated_real_lines_give_the_same_value_or_the_same_error(data_dir: Path) -> None:
    """Random damage to real lines (cut, doubled or replaced characters): each outcome is the stdlib's."""
    rng = random.Random(20)
    lines = [line for line in _jira_lines(data_dir, 400) if len(line) < 4000][:150]
    alphabet = '{}[]",:\\ u0123456789.eE-+tfnNaI\x01\t\x00'
    seen = set()
    for line in lines:
        for _ in range(6):
            chars = list(line)
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(chars))
                op = rng.choice(("cut", "double", "replace"))
                if op == "cut":
                    del chars[i]
                elif op == "double":
                    chars.insert(i, chars[i])
                else:
                    chars[i] = rng.choice(alphabet)
            text = "".join(chars)
            outcome = _outcome(loads_json, text)
            assert outcome == _outcome(_loads_json_stdlib, text), text[:200]
            seen.add(outcome[0])
    assert {"value", "JSONDecodeError"} <= seen  # both kinds of outcome were exercised


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "tab\there", "b": "bell\x07"}',  # raw control characters: orjson refuses, the stdlib takes
        '{"key": "X-1", "summary": "line\nbreak"}',
        '{"n": 123456789012345678901234567890}',  # orjson would make it a float
        '{"n": -9223372036854775809, "m": 18446744073709551616}',
        '{"n": 18446744073709551615, "m": -9223372036854775808}',  # still 64-bit: orjson keeps them exact
        '{"x": NaN, "y": Infinity, "z": -Infinity}',
        '{"big": 1e400, "small": 1e-400, "f": 0.1, "g": 1e19, "h": -0.0}',
        '{"lone": "a\\ud800b", "low": "\\udc00", "pair": "\\ud83d\\ude00", "nul": "x\\u0000y"}',
        '{"a\\u0000b": ["\\u0000", {"\\ud800": 1}]}',
        '{"a": 1, "a": 2}',
        '["x", 1, 2.5, true, false, null, {}, []]',
        '"just a string"',
        "42",
        "3.5",
        "\u00e9",
        '{"caf\u00e9": "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \U0001f41b"}',
    ],
)
def test_odd_input_decodes_exactly_as_the_stdlib_path(text: str) -> None:
    assert _outcome(loads_json, text) == _outcome(_loads_json_stdlib, text)


def test_a_raw_control_character_still_decodes_and_nul_and_lone_surrogates_are_dropped() -> None:
    assert loads_json('{"a": "x\x01y\tz"}') == {"a": "x\x01y\tz"}
    assert loads_json('{"a": "x\\u0000y\\ud800z", "\\u0000k": "\\ud83d\\ude00"}') == {
        "a": "xyz",
        "k": "\U0001f600",
    }
    value = loads_json('{"n": 123456789012345678901234567890}')
    assert value == {"n": 123456789012345678901234567890} and type(value["n"]) is int


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 200, 256, 300, 5000])
def test_too_deep_is_rejected_with_the_same_reason(depth: int) -> None:
    text = '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    with pytest.raises(JsonTooDeep) as fast:
        loads_json(text)
    with pytest.raises(JsonTooDeep) as slow:
        _loads_json_stdlib(text)
    assert str(fast.value) == str(slow.value) == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


def test_at_the_depth_limit_a_record_is_kept() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(text) == _loads_json_stdlib(text)


def test_bad_lines_of_a_file_are_rejected_by_file_and_line_with_the_stdlib_reasons(tmp_path: Path) -> None:
    deep = "[" * 150 + "]" * 150
    lines = [
        '{"key": "HIVE-1", "issuetype": "Bug", "summary": "ok"}',
        '{"key": "HIVE-2", "issuetype": "Bug", "summary": "raw\tcontrol"}',
        '{"key": "HIVE-3", "issuetype": "Bug", "links": ' + deep + "}",
        '{"key": "HIVE-4", "issuetype": "Bug", "summary": "trailing comma",}',
        "   \t",
        "\u00a0\u3000",  # blank to str.strip(): skipped as before
        '{"key": "HIVE-5", "issuetype": "Bug", "summary": "NUL \\u0000 gone"}',
    ]
    path = tmp_path / "issues.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(iter_json_records(path))
    rejected = [item for item in items if isinstance(item, Rejected)]
    kept = [item for item in items if not isinstance(item, Rejected)]
    assert [(r.location, r.reason) for r in rejected] == [
        (f"{path}:3", f"JSON nested deeper than {MAX_JSON_DEPTH} levels"),
        (f"{path}:4", json_error_reason(_error(lines[3]))),
    ]
    assert rejected[1].reason.startswith("invalid JSON: Expecting property name enclosed in double quotes")
    assert [(str(loc), value) for loc, value in kept] == [
        (f"{path}:1", orjson.loads(lines[0])),
        (f"{path}:2", _loads_json_stdlib(lines[1])),
        (f"{path}:7", {"key": "HIVE-5", "issuetype": "Bug", "summary": "NUL  gone"}),
    ]


def test_jira_reports_are_the_same_through_either_decoder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jira.jsonl"
    path.write_text("".join(_jira_lines(data_dir, 500)), encoding="utf-8")
    fast = list(read_reports("jira", path))
    monkeypatch.setattr("bugsift.sources.io.loads_json", _loads_json_stdlib)
    slow = list(read_reports("jira", path))
    assert len(fast) == 500 and fast == slow


def _error(text: str) -> ValueError:
    try:
        _loads_json_stdlib(text)
    except ValueError as exc:
        return exc
    raise AssertionError("expected a decoding error")
