"""The command line as a new user meets it (issue 16): every mistake in a hand-made input or a path ends in
one line naming the file (and line), with a failing exit status when nothing was done, and `predict`
with a model that needs no embeddings never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bugsift.cli import main

COMPACT = "bugzilla-mozilla/bugs_compact_labeled.jsonl"


def invoke(home: Path, *args: Any) -> Result:
    env = {"BUGSIFT_HOME": str(home), "BUGSIFT_EMBEDDINGS": "off", "BUGSIFT_DATABASE_URL": None}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def real_lines(shared_data: Path, n: int, start: int = 0) -> list[str]:
    with (shared_data / COMPACT).open(encoding="utf-8") as handle:
        return list(islice(handle, start, start + n))


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with 300 real Mozilla bugs and a defect model without embeddings."""
    home = tmp_path_factory.mktemp("home")
    store = home / "bugs.jsonl"
    store.write_text("".join(real_lines(shared_data, 300)), encoding="utf-8")
    assert invoke(home, "import", "bugzilla", store).exit_code == 0
    result = invoke(home, "train", "defect", "--label", "is_bug_derived")
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def five(shared_data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "five.jsonl"
    path.write_text("".join(real_lines(shared_data, 5, start=1000)), encoding="utf-8")
    return path


def one_error_line(result: Result) -> str:
    """The last line of a failed run, which must not be a traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()[-1]


# --- output paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "defect", "--label", "is_bug_derived", "--input", "{five}", "--output", "{out}"],
        ["duplicates", "--input", "{five}", "--output", "{out}"],
        ["evaluate", "defect", "--label", "is_bug_derived", "--report", "{out}"],
    ],
)
def test_output_in_a_missing_folder_fails_before_any_work(
    trained: Path, five: Path, tmp_path: Path, command: list[str]
) -> None:
    out = tmp_path / "no" / "such" / "dir" / "x"
    result = invoke(trained, *(part.format(five=five, out=out) for part in command))
    line = one_error_line(result)
    assert result.exit_code == 2 and f"the folder {out.parent} does not exist" in line
    assert "saved" not in result.output and "accuracy" not in result.output  # nothing ran
    assert not out.parent.exists()


def test_output_that_is_a_folder_is_refused(trained: Path, five: Path, tmp_path: Path) -> None:
    args = ["predict", "defect", "--label", "is_bug_derived", "--input", five, "--output", tmp_path]
    result = invoke(trained, *args)
    assert "is a directory" in one_error_line(result)


# --- import ------------------------------------------------------------------------------------------


def test_import_with_every_record_rejected_fails(shared_data: Path, tmp_path: Path) -> None:
    records = [json.loads(line) for line in real_lines(shared_data, 3)]
    path = tmp_path / "no_ids.jsonl"
    path.write_text("".join(json.dumps({**r, "id": None}) + "\n" for r in records), encoding="utf-8")
    result = invoke(tmp_path / "home", "import", "bugzilla", path)
    assert one_error_line(result) == f"Error: {path}: nothing imported: all 3 records were rejected"
    assert f"rejected {path}:1: missing field 'id'" in result.output


def test_import_of_a_file_with_no_records_fails(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[]", encoding="utf-8")
    result = invoke(tmp_path / "home", "import", "csv", path)
    assert one_error_line(result) == f"Error: {path}: nothing imported: the file holds no records"


def test_a_partly_rejected_import_still_succeeds(shared_data: Path, tmp_path: Path) -> None:
    lines = real_lines(shared_data, 3)
    path = tmp_path / "mixed.jsonl"
    path.write_text(lines[0] + lines[1][:40] + "\n" + lines[2], encoding="utf-8")
    result = invoke(tmp_path / "home", "import", "bugzilla", path)
    assert result.exit_code == 0 and "imported 2, updated 0, unchanged 0, rejected 1" in result.output


# --- predict input -----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def predict(home: Path, path: Path) -> Result:
    return invoke(home, "predict", "defect", "--label", "is_bug_derived", "--input", path)


def test_a_report_without_text_gets_no_prediction(trained: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "blank.jsonl", json.dumps({"id": "7", "title": " ", "description": ""}) + "\n")
    result = predict(trained, path)
    assert "give a title or a description" in result.output and f"{path}:1" in result.output
    assert one_error_line(result) == f"Error: {path}: no report to predict for (1 rejected, listed above)"
    assert '"prediction"' not in result.output


def test_a_truncated_json_line_names_its_line_and_reason(
    shared_data: Path, trained: Path, tmp_path: Path
) -> None:
    path = write(tmp_path, "cut.jsonl", real_lines(shared_data, 1)[0][:120])
    line = one_error_line(predict(trained, path))
    assert line.startswith(f"Error: {path}:1: invalid JSON: ") and "Unterminated string" in line


@pytest.mark.parametrize("command", [["predict", "defect", "--label", "is_bug_derived", "--input"],
                                     ["import", "csv"]])  # fmt: skip
def test_a_binary_file_is_not_a_report_file(trained: Path, tmp_path: Path, command: list[str]) -> None:
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"
    png = write(tmp_path, "shot.png", header + bytes(range(256)))
    line = one_error_line(invoke(trained, *command, png))
    assert line.startswith(f"Error: {png}: a PNG image, not a report file; expected JSON lines")
    assert "found columns" not in line


@pytest.mark.parametrize("command", [["predict", "defect", "--label", "is_bug_derived", "--input"],
                                     ["import", "csv"]])  # fmt: skip
def test_a_plain_text_file_is_told_apart(trained: Path, tmp_path: Path, command: list[str]) -> None:
    txt = write(tmp_path, "notes.txt", "Firefox crashes when I open the bookmarks menu.\nSteps: open it.\n")
    line = one_error_line(invoke(trained, *command, txt))
    assert line.startswith(f"Error: {txt}: plain text, not a report file")
    assert "expected JSON lines, one JSON document or CSV with a header line" in line


def test_json_lines_without_id_are_numbered(shared_data: Path, trained: Path, tmp_path: Path) -> None:
    records = [json.loads(line) for line in real_lines(shared_data, 3, start=1000)]
    hand_made = [{"title": r["summary"], "description": r["description"]} for r in records]
    path = write(tmp_path, "mine.jsonl", "".join(json.dumps(r) + "\n" for r in hand_made))
    result = predict(trained, path)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["1", "2", "3"]
    assert all(a["prediction"] in {"defect", "not_defect"} for a in answers)


def test_csv_without_id_column_is_numbered_by_line(trained: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "mine.csv", 'title,body\nCrash on start,"segfault in\nlibxul"\nDark mode,please\n')
    result = predict(trained, path)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["2", "4"]


def test_a_record_of_unknown_shape_names_its_line(trained: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "odd.jsonl", '\n{"headline": "x", "text_body": "y"}\n')
    line = one_error_line(predict(trained, path))
    assert line.startswith(f"Error: {path}:2: cannot tell the format")


# --- import time -------------------------------------------------------------------------------------

WRAPPER = """
import runpy, sys
sys.argv = ["bugsift", *sys.argv[1:]]
try:
    runpy.run_module("bugsift", run_name="__main__")
finally:
    heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
    print("HEAVY_MODULES=" + ",".join(heavy), file=sys.stderr)
"""


def test_predict_without_embeddings_never_imports_torch(trained: Path, five: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BUGSIFT_HOME": str(trained), "BUGSIFT_EMBEDDINGS": "off"}
    env.pop("BUGSIFT_DATABASE_URL", None)
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "predict", "defect", "--label", "is_bug_derived", "--input", five,
         "--output", out],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 5
    assert "HEAVY_MODULES=\n" in done.stderr
