"""The bot's rules file, per-label thresholds, its write retries and its schedule, without a tracker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bugsift.bot.rules import RulesError, load_rules, parse_rules
from bugsift.bot.thresholds import HeldOut, label_thresholds
from bugsift.bot.trackers.base import send
from bugsift.settings import Settings

GOOD = """\
[[rule]]
name = "component"
tracker = "redmine"
task = "component"
action = "set"
precision = 0.9
apply = true
grace_minutes = 30
deny = ["General"]

[[rule]]
name = "dupes"
tracker = "mozilla"
kind = "bugzilla"
task = "duplicates"
action = "comment"
"""


def test_a_good_file_gives_rules_with_defaults() -> None:
    component, dupes = parse_rules(GOOD)
    assert (component.task, component.action, component.precision, component.apply) == (
        "component",
        "set",
        0.9,
        True,
    )
    assert (
        component.deny == ("General",) and not component.admits("General") and component.admits("Metastore")
    )
    assert (dupes.kind, dupes.apply, dupes.grace_minutes, dupes.max_per_hour) == ("bugzilla", False, 30, 20)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("precision = 0.9", "precision = 1.5"),
            "bot.toml:6: rule 1: precision: Input should be less than or equal to 1",
        ),
        (("apply = true", "aply = true"), "bot.toml:7: rule 1: aply: unknown key"),
        (
            ('action = "comment"', 'action = "set"'),
            "bot.toml:16: rule 2: action: task 'duplicates' can only comment",
        ),
        (
            ('kind = "bugzilla"\n', ""),
            "bot.toml:11: rule 2: kind: tracker 'mozilla' is not a kind the bot knows",
        ),
        (('name = "dupes"', 'name = "component"'), "bot.toml:12: rule 2: name 'component' is already used"),
        (
            ('deny = ["General"]', 'allow = ["General"]\ndeny = ["General"]'),
            "bot.toml:10: rule 1: deny: values both",
        ),
        (('task = "component"', "task = component"), "bot.toml:4: Invalid value (column 8)"),
        (
            ('[[rule]]\nname = "component"', 'rules = 1\n[[rule]]\nname = "component"'),
            "bot.toml:1: unknown top-level key",
        ),
    ],
)
def test_each_mistake_is_one_error_naming_the_line(change: tuple[str, str], message: str) -> None:
    with pytest.raises(RulesError) as raised:
        parse_rules(GOOD.replace(*change))
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_missing_or_empty_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no rules file"):
        load_rules(tmp_path / "bot.toml")
    (tmp_path / "bot.toml").write_text("# nothing yet\n")
    with pytest.raises(RulesError, match=r"no \[\[rule\]\] table"):
        load_rules(tmp_path / "bot.toml")
    (tmp_path / "bot.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules(tmp_path / "bot.toml")


def test_each_label_gets_the_lowest_threshold_that_keeps_the_precision() -> None:
    confident = [0.99, 0.97, 0.95, 0.93, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    right = [True] * 9 + [False, True, False]
    held_out = HeldOut(
        predicted=["Networking"] * 12 + ["Graphics"] * 4,
        confidence=[*confident, 0.99, 0.98, 0.97, 0.96],
        correct=[*right, True, False, True, False],
    )
    thresholds = label_thresholds(held_out, target=0.9, min_support=5)
    networking = thresholds["Networking"]
    assert (
        networking.threshold == 0.4
        and networking.support == 11
        and networking.precision == pytest.approx(10 / 11)
    )
    graphics = thresholds["Graphics"]
    assert graphics.threshold is None  # 4 answers: fewer than min_support, never acted on
    assert "fewer than the 5 needed" in graphics.why_not(0.9, 5)
    strict = label_thresholds(held_out, target=0.95, min_support=5)["Networking"]
    assert strict.threshold == 0.6 and strict.precision == 1.0


@contextmanager
def busy_then_ok(busy: int, retry_after: str) -> Iterator[tuple[str, list[str]]]:
    """A local server that answers 429 with Retry-After ``busy`` times, then 204; it records every PUT."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.path)
            if len(seen) <= busy:
                self.send_response(429)
                self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_write_waits_as_long_as_retry_after_says_then_is_sent_once_more() -> None:
    waits: list[float] = []
    with busy_then_ok(2, "7") as (url, seen), requests.Session() as session:
        response = send(session, "PUT", f"{url}/issues/1.json", {"issue": {}}, 5.0, sleep=waits.append)
    assert response.status_code == 204
    assert waits == [7.0, 7.0] and seen == ["/issues/1.json"] * 3


def test_the_worker_queues_one_bot_pass_at_a_time(tmp_path: Path) -> None:
    from bugsift.jobs.bot_task import queue_due_bot_runs
    from bugsift.jobs.core import database_for

    settings = Settings(home=tmp_path / "home", bot_every_minutes=10, jobs_backend="embedded")
    assert queue_due_bot_runs(settings) == []  # no rules file: nothing to run
    settings.home.mkdir(parents=True)
    settings.bot_rules_path.write_text(GOOD)
    (first,) = queue_due_bot_runs(settings)
    assert queue_due_bot_runs(settings) == []  # one is queued already
    from bugsift.jobs.models import JobRow

    with database_for(settings).session() as session:
        job = session.get(JobRow, first)
        assert job is not None and job.task == "bot" and job.args == {}
