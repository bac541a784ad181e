"""The triage bot against a real Redmine 5 (conftest.py), seeded with real HIVE issues: plan changes
nothing; a run writes each confident answer once, with a marked note; a second run writes nothing; a
person's category is never overwritten, and a value a person removed is never set again; undo restores
the old value; a run killed with -9 mid-write, then run again, leaves every action done exactly once."""

from __future__ import annotations

import email
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bugsift.cli import main

Invoke = Callable[..., Result]
RULE = """
[[rule]]
name = "component"
tracker = "redmine"
task = "component"
action = "set"
precision = 0.5
min_support = 2
apply = true
grace_minutes = 0
"""


def bot_env(redmine: Any, home: Path) -> dict[str, str]:
    return {
        "BUGSIFT_HOME": str(home),
        "BUGSIFT_EMBEDDINGS": "off",
        "BUGSIFT_REDMINE_URL": redmine.url,
        "BUGSIFT_REDMINE_API_KEY": redmine.api_key,  # sync reads as admin
        "BUGSIFT_BOT_API_KEY": redmine.seed.bot_key,  # the bot writes as its own user
        "BUGSIFT_REDMINE_PROJECT": "hive",
    }


@pytest.fixture(scope="module")
def bot_home(redmine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bugsift home for the whole module, as one install has: synced from the test Redmine, a
    component model trained, the rules file written. The tests run in order on it, each filing or
    changing its own issues; the action log keeps what earlier tests did, as it would."""
    home = tmp_path_factory.mktemp("bot") / "home"
    runner = CliRunner()
    env = {name: None for name in os.environ if name.startswith("BUGSIFT_") and name != "BUGSIFT_SHARED_DATA"}
    env.update(bot_env(redmine, home))
    for args in (["sync", "redmine"], ["train", "component"]):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    (home / "bot.toml").write_text(RULE, encoding="utf-8")
    return home


@pytest.fixture
def cli(bot_home: Path, monkeypatch: pytest.MonkeyPatch, redmine: Any) -> Invoke:
    """`bugsift ...` in process on the module's home, synced with the test Redmine first."""
    for name in [n for n in os.environ if n.startswith("BUGSIFT_") and n != "BUGSIFT_SHARED_DATA"]:
        monkeypatch.delenv(name)
    for name, value in bot_env(redmine, bot_home).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    invoke("sync", "redmine")
    return invoke


@pytest.fixture(scope="module")
def confident_texts(redmine: Any) -> list[dict[str, Any]]:
    """Filled by the first test: the seeded untriaged issues the bot planned to act on before anything
    was written. Later tests file copies of them, to get fresh untriaged issues the bot acts on."""
    return []


def issue(redmine: Any, redmine_id: int | str) -> dict[str, Any]:
    return redmine.api("GET", f"/issues/{redmine_id}.json?include=journals")["issue"]


def category(redmine: Any, redmine_id: int | str) -> str | None:
    return (issue(redmine, redmine_id).get("category") or {}).get("name")


def bot_journals(redmine: Any, redmine_id: int | str) -> list[dict[str, Any]]:
    return [j for j in issue(redmine, redmine_id)["journals"] if j["user"]["name"] == "bugsift bot"]


def planned(cli: Invoke) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli("bot", "plan", "--json").stdout.splitlines() if line.strip()]


def actions(cli: Invoke, state: str | None = None) -> list[dict[str, Any]]:
    args = ["bot", "log", "--json", "--limit", "500", *(["--state", state] if state else [])]
    return [json.loads(line) for line in cli(*args).stdout.splitlines() if line.strip()]


def test_plan_names_probability_threshold_and_reasons_and_changes_nothing(
    redmine: Any, cli: Invoke, confident_texts: list[dict[str, Any]]
) -> None:
    untriaged = redmine.seed.untriaged
    before = {i: issue(redmine, i)["updated_on"] for i in untriaged}
    decisions = planned(cli)
    assert {int(d["external_id"]) for d in decisions} <= set(untriaged)
    act = [d for d in decisions if d["verdict"] == "act"]
    assert act, cli("bot", "plan").stdout
    for decision in act:
        assert decision["new_value"] in ("Metastore", "JDBC", "Spark", "Transactions")
        assert decision["probability"] >= decision["threshold"]
        assert "held-out" in decision["why"] and decision["explanation"]
    for decision in decisions:
        if decision["verdict"] == "suggest":
            assert decision["why"]  # every suggestion says why it is not acted on
    assert {i: issue(redmine, i)["updated_on"] for i in untriaged} == before
    assert actions(cli) == []  # planning records nothing
    confident_texts.extend(redmine.seed.texts[int(d["external_id"])] for d in act)
    text = cli("bot", "plan").stdout
    assert "labels trusted at this precision" in text and "DO redmine" in text and "only suggested:" in text


def test_run_writes_once_people_win_and_undo_restores(redmine: Any, cli: Invoke, bot_home: Path) -> None:
    act = [d for d in planned(cli) if d["verdict"] == "act" and category(redmine, d["external_id"]) is None]
    assert len(act) >= 3, act
    hand_set, removed, *rest = act
    # A person removed the bot's value from one issue before (set it, then cleared it); the store sees that.
    value_id = redmine.seed.categories[removed["new_value"]]
    redmine.api("PUT", f"/issues/{removed['external_id']}.json", {"issue": {"category_id": value_id}})
    redmine.api("PUT", f"/issues/{removed['external_id']}.json", {"issue": {"category_id": ""}})
    cli("sync", "redmine")
    # Another person sets a category by hand after the last sync: the store still shows none.
    other = next(name for name in redmine.seed.categories if name != hand_set["new_value"])
    redmine.api(
        "PUT",
        f"/issues/{hand_set['external_id']}.json",
        {"issue": {"category_id": redmine.seed.categories[other]}},
    )

    first = cli("bot", "run", "--once", "--json")
    counts = json.loads(first.stdout.splitlines()[-1])
    assert counts["done"] == len(rest) and counts["skipped"] == 2, first.output
    assert category(redmine, hand_set["external_id"]) == other  # never overwritten
    assert category(redmine, removed["external_id"]) is None  # never set again
    skipped = {a["external_id"]: a["reason"] for a in actions(cli, "skipped")}
    assert "changed since" in skipped[hand_set["external_id"]]
    assert "a person removed" in skipped[removed["external_id"]]
    for decision in rest:
        assert category(redmine, decision["external_id"]) == decision["new_value"]
        (journal,) = bot_journals(redmine, decision["external_id"])
        assert journal["notes"].endswith("[bugsift-bot:component]") and "category" in journal["notes"]
        assert journal["details"] == [
            {
                "property": "attr",
                "name": "category_id",
                "old_value": None,
                "new_value": str(redmine.seed.categories[decision["new_value"]]),
            }
        ]

    journals = {i: len(issue(redmine, i)["journals"]) for i in redmine.seed.untriaged}
    second = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])
    assert second["done"] == 0 and second["skipped"] == 0
    assert {i: len(issue(redmine, i)["journals"]) for i in redmine.seed.untriaged} == journals

    figures = dashboard_bot_row(bot_home)
    assert "<td>component</td><td>component &rarr; set on redmine</td>" in figures
    assert (
        f"<td>{len(rest)}</td><td>0</td><td>0</td><td>2</td>" in figures
    )  # written, reverted, undone, skipped

    undone = next(a for a in actions(cli, "done") if a["external_id"] == rest[0]["external_id"])
    cli("bot", "undo", undone["id"])
    assert category(redmine, rest[0]["external_id"]) is None
    assert len(bot_journals(redmine, rest[0]["external_id"])) == 2  # the write and its undo, each noted
    again = cli("bot", "undo", undone["id"], ok=False)
    assert again.exit_code == 1 and "undone, not done" in again.output
    third = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])
    assert third["done"] == 0  # an undone action is never taken again
    assert category(redmine, rest[0]["external_id"]) is None


def test_a_persons_revert_becomes_a_correction_and_no_training_label_is_the_bots(
    redmine: Any, cli: Invoke, bot_home: Path, confident_texts: list[dict[str, Any]]
) -> None:
    from bot_seed import file_untriaged

    assert confident_texts, "the first test of the module plans them"
    filed = file_untriaged(redmine, (confident_texts * 2)[:2])
    cli("sync", "redmine")
    done = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])["done"]
    assert done >= 1, cli("bot", "plan", "--all").stdout
    first = next(a for a in actions(cli, "done") if int(a["external_id"]) in filed)
    other = next(name for name in redmine.seed.categories if name != first["new_value"])
    redmine.api(
        "PUT",
        f"/issues/{first['external_id']}.json",
        {"issue": {"category_id": redmine.seed.categories[other]}},
    )
    cli("sync", "redmine")
    result = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])
    assert result["reverted"] == 1
    (reverted,) = actions(cli, "reverted")
    assert reverted["external_id"] == first["external_id"] and other in reverted["reason"]
    with sqlite3.connect(bot_home / "bugsift.sqlite3") as db:
        labels = db.execute(
            "SELECT l.value, l.source FROM labels l JOIN reports r ON r.id = l.report_id "
            "WHERE r.external_id = ? AND l.name = 'component'",
            (first["external_id"],),
        ).fetchall()
    assert labels == [(other, "human")]
    from bugsift.learn.component.task import _load
    from bugsift.learn.tasks import TaskOptions
    from bugsift.settings import Settings
    from bugsift.store.db import open_database

    database = open_database(Settings(home=bot_home))
    try:
        trained_on = {r.external_id for r in _load(database, TaskOptions())}
    finally:
        database.dispose()
    still_bots = {a["external_id"] for a in actions(cli, "done")}
    assert still_bots and not (still_bots & trained_on)  # the bot's own answers are never training labels
    assert first["external_id"] in trained_on  # the person's correction is

    inbox: list[bytes] = []
    with smtp_sink(inbox) as port:
        sent = cli(
            "bot",
            "digest",
            "--send",
            env={
                "BUGSIFT_SMTP_HOST": "127.0.0.1",
                "BUGSIFT_SMTP_PORT": str(port),
                "BUGSIFT_BOT_DIGEST_TO": "triage@example.org",
            },
        )
    assert "digest sent to triage@example.org" in sent.stdout
    (mail,) = [email.message_from_bytes(m) for m in inbox]
    assert mail["Subject"].startswith("[bugsift bot] ") and " done, " in mail["Subject"]
    body = mail.get_payload()
    assert f"reverted or undone: redmine {first['external_id']}" in body and "suggested: redmine" in body
    assert "live precision" in body


def test_killed_run_then_rerun_does_every_action_exactly_once(
    redmine: Any, cli: Invoke, bot_home: Path, tmp_path: Path, confident_texts: list[dict[str, Any]]
) -> None:
    from bot_seed import file_untriaged

    assert confident_texts, "the first test of the module plans them"
    filed = file_untriaged(redmine, (confident_texts * 6)[:6])
    cli("sync", "redmine")
    to_do = [d for d in planned(cli) if d["verdict"] == "act" and int(d["external_id"]) in filed]
    assert len(to_do) >= 3, to_do
    env = {**os.environ, **bot_env(redmine, bot_home)}
    command = [sys.executable, "-m", "bugsift", "bot", "run", "--once"]
    with open(tmp_path / "killed-run.log", "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    database = bot_home / "bugsift.sqlite3"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if _count(database, "state = 'writing'") >= 1:
            break
        time.sleep(0.002)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert _count(database, "state = 'planned'") + _count(database, "state = 'writing'") >= 1

    rerun = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])
    assert rerun["resumed"] + rerun["done"] >= 1
    done = {a["external_id"] for a in actions(cli, "done") if int(a["external_id"]) in filed}
    assert done == {d["external_id"] for d in to_do}
    for redmine_id in done:
        assert len(bot_journals(redmine, redmine_id)) == 1, redmine_id  # written once, never twice
    assert _count(database, "state IN ('planned', 'writing')") == 0


PRIORITY_RULE = """
[[rule]]
name = "priority"
tracker = "redmine"
task = "priority"
action = "set"
precision = 0.5
min_support = 2
apply = true
grace_minutes = 0
max_per_hour = 200  # every untriaged issue of the module, in one run
act_on_defaults = true  # the write path is tested, not the model's precision
"""


def priority(redmine: Any, redmine_id: int | str) -> str:
    return issue(redmine, redmine_id)["priority"]["name"]


def test_a_priority_rule_beside_the_component_rule(
    redmine: Any, cli: Invoke, bot_home: Path, confident_texts: list[dict[str, Any]]
) -> None:
    """A bot write sets priority_id, never the default 'Normal'; a priority a person set by hand is
    kept; both rules act on one issue (the first rule's journal is the bot's own, not a person's
    change); undo puts 'Normal' back."""
    from bot_seed import file_untriaged

    from bugsift.learn.scale.scales import REDMINE_PRIORITY

    assert confident_texts, "the first test of the module plans them"
    assert "on the scale redmine-priority" in cli("train", "priority").stdout
    filed = file_untriaged(redmine, (confident_texts * 6)[:6])
    cli("sync", "redmine")
    # The component rule's hourly allowance went on the earlier tests' writes: room for these too.
    (bot_home / "bot.toml").write_text(RULE + "max_per_hour = 200\n" + PRIORITY_RULE, encoding="utf-8")
    try:
        text = cli("bot", "plan").stdout
        assert "answers on the scale redmine-priority; the tracker's default is never written" in text
        act = [d for d in planned(cli) if d["verdict"] == "act" and int(d["external_id"]) in filed]
        priorities = [d for d in act if d["rule"] == "priority"]
        components = {d["external_id"] for d in act if d["rule"] == "component"}
        assert len(priorities) >= 3, cli("bot", "plan", "--all").stdout
        for decision in priorities:
            assert decision["scale"] == "redmine-priority" and decision["old_value"] == "Normal"
            assert decision["new_value"] in REDMINE_PRIORITY.levels and decision["new_value"] != "Normal"
        hand_set, *rest = priorities
        # A person sets a priority by hand after the last sync: the store still shows 'Normal'.
        other = next(p for p in ("Low", "Urgent") if p != hand_set["new_value"])
        body = {"issue": {"priority_id": redmine.seed.priorities[other]}}
        redmine.api("PUT", f"/issues/{hand_set['external_id']}.json", body)

        cli("bot", "run", "--once", "--json")
        states = {(a["rule"], a["external_id"]): a for a in actions(cli) if int(a["external_id"]) in filed}
        kept = states[("priority", hand_set["external_id"])]
        assert kept["state"] == "skipped" and "changed since" in kept["reason"], kept
        assert priority(redmine, hand_set["external_id"]) == other  # a person's priority is kept
        normal = str(redmine.seed.priorities["Normal"])
        for decision in rest:
            redmine_id = decision["external_id"]
            assert states[("priority", redmine_id)]["state"] == "done", states[("priority", redmine_id)]
            assert priority(redmine, redmine_id) == decision["new_value"]
            details = [d for j in bot_journals(redmine, redmine_id) for d in j["details"]]
            assert {
                "property": "attr",
                "name": "priority_id",
                "old_value": normal,
                "new_value": str(redmine.seed.priorities[decision["new_value"]]),
            } in details
            if redmine_id in components:  # the second rule on the same issue is not skipped
                assert states[("component", redmine_id)]["state"] == "done", states[("component", redmine_id)]
                assert len(bot_journals(redmine, redmine_id)) == 2
        assert any(d["external_id"] in components for d in rest), (components, rest)

        journals = {i: len(issue(redmine, i)["journals"]) for i in filed}
        second = json.loads(cli("bot", "run", "--once", "--json").stdout.splitlines()[-1])
        assert second["done"] == 0 and {i: len(issue(redmine, i)["journals"]) for i in filed} == journals

        undone = states[("priority", rest[0]["external_id"])]
        cli("bot", "undo", undone["id"])
        assert priority(redmine, rest[0]["external_id"]) == "Normal"  # restored
    finally:
        (bot_home / "bot.toml").write_text(RULE, encoding="utf-8")


def dashboard_bot_row(home: Path) -> str:
    """The dashboard's triage-bot table, as a viewer sees it."""
    import re

    from bugsift.settings import Settings
    from bugsift.store.db import open_database
    from bugsift.web import accounts
    from bugsift.web.app import create_app

    settings = Settings()  # the test's environment: this home
    database = open_database(settings)
    try:
        with database.session() as session:
            accounts.create_user(session, "viewer", "correct horse battery", "viewer")
        client = create_app(settings, database=database, TESTING=True).test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', login_page)
        assert token
        form = {"username": "viewer", "password": "correct horse battery", "csrf_token": token.group(1)}
        assert client.post("/login", data=form).status_code == 302
        page = client.get("/dashboard/").get_data(as_text=True)
    finally:
        database.dispose()
    table = re.search(r'<table id="bot".*?</table>', page, re.S)
    assert table, page
    return table.group(0)


@contextmanager
def smtp_sink(inbox: list[bytes]) -> Iterator[int]:
    """A real local SMTP server (aiosmtpd) keeping what it is sent; yields its port."""
    from aiosmtpd.controller import Controller

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            inbox.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _count(database: Path, where: str) -> int:
    try:
        with sqlite3.connect(database, timeout=0.1) as db:
            return int(db.execute(f"SELECT count(*) FROM bot_actions WHERE {where}").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet, or locked for an instant
        return 0
