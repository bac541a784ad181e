"""Severity and priority rules against the stateful local Bugzilla, Jira and GitHub servers
(tracker_servers.py), seeded with real reports of ../shared/data (tracker_seed.py), the new ones filed
with the tracker's default: Bugzilla '--', Jira 'Major'.

Per tracker: the bot writes a confident level once, with its marker, through the tracker's own field
(Bugzilla ``severity``, Jira ``fields.priority``) or a label (GitHub, ``label_format``); never the
tracker's default, even where the model answers it; a person's value set after the bot decided, or a
value a person removed before, is kept; undo restores the default. Two rules acting on one report (a
component and a severity) both land: the first rule's write is the bot's own, not a person's change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tracker_seed
from jobs_support import serving_in_thread
from test_bot_trackers import RULE, _home_cli, actions, planned, runs
from tracker_servers import BOT_TOKEN, PERSON_TOKEN, BugzillaServer, GitHubServer, JiraServer, TrackerServer

from bugsift.learn.scale.scales import BUGZILLA_SEVERITY, JIRA_PRIORITY
from bugsift.settings import Settings
from bugsift.store.db import open_database
from bugsift.store.labels import upsert_labels
from bugsift.store.models import ReportRow
from bugsift.store.reports import row_to_report, upsert_reports

SCALE_RULE = """
[[rule]]
name = "{name}"
tracker = "{tracker}"
task = "{task}"
action = "{action}"
precision = 0.5
min_support = 2
apply = true
grace_minutes = 0
max_age_days = 30
max_per_hour = 100
act_on_defaults = true  # the trackers' part is tested, not the model's precision
"""


def store(home: Path, records: list[dict[str, Any]], importer: Any, history: bool = True) -> None:
    """What a sync stores (the training reports without their history, as test_bot_trackers.store)."""
    if not history:
        records = [{k: v for k, v in r.items() if k != "history"} for r in records]
    database = open_database(Settings(home=home))
    try:
        with database.session() as session:
            upsert_reports(session, [importer(record) for record in records])
    finally:
        database.dispose()


def landed(server: TrackerServer, external_id: str) -> list[dict[str, Any]]:
    return [w for w in server.bot_writes() if w["status"] < 300 and f"/{external_id}/" in w["path"] + "/"]


# --- Bugzilla: severity, and a component rule on the same reports -------------------------------------


@pytest.fixture
def bugzilla_server(shared_data: Path) -> Iterator[tuple[BugzillaServer, list[str], list[str]]]:
    triaged, fresh = tracker_seed.bugzilla(shared_data)
    new = [{**bug, "severity": "--", "priority": "--"} for bug in fresh]  # nobody chose one yet
    server = BugzillaServer(triaged + new)
    with serving_in_thread(server):
        yield server, [str(b["id"]) for b in triaged], [str(b["id"]) for b in new]


def test_bugzilla_severity_and_a_second_rule_on_the_same_report(
    bugzilla_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugsift.sources.bugzilla import from_rest

    server, triaged, fresh = bugzilla_server
    home = tmp_path / "home"
    cli = _home_cli(tmp_path, monkeypatch, {"BUGSIFT_BUGZILLA_URL": server.url})
    importer = lambda bug: from_rest(bug, "bugzilla")  # noqa: E731
    store(home, [server.full(i) for i in triaged], importer, history=False)
    cli("train", "component")
    trained = cli("train", "severity").stdout
    assert "on the scale bugzilla-severity" in trained, trained
    store(home, [server.full(i) for i in fresh], importer)
    rules = RULE.format(name="component", tracker="bugzilla", task="component", action="set")
    rules += SCALE_RULE.format(name="severity", tracker="bugzilla", task="severity", action="set")
    (home / "bot.toml").write_text(rules, encoding="utf-8")

    text = cli("bot", "plan").stdout
    assert "answers on the scale bugzilla-severity; the tracker's default is never written" in text, text
    decisions = [d for d in planned(cli) if d["external_id"] in fresh]
    severity = {d["external_id"]: d for d in decisions if d["rule"] == "severity"}
    component = {d["external_id"]: d for d in decisions if d["rule"] == "component"}
    assert len(severity) >= 3, cli("bot", "plan", "--all").stdout
    for decision in severity.values():
        assert decision["scale"] == "bugzilla-severity" and decision["field"] == "severity"
        assert decision["old_value"] == "--" and decision["new_value"] in BUGZILLA_SEVERITY.levels
    both = sorted(set(severity) & set(component))
    assert both, (sorted(severity), sorted(component))
    # A person sets the severity of one report after the bot decided, before it reads it to write.
    hand_set = next(i for i in sorted(severity) if i not in component)
    person = server.users[PERSON_TOKEN]
    chosen = next(level for level in BUGZILLA_SEVERITY.levels if level != severity[hand_set]["new_value"])
    server.before_bot_read[hand_set] = lambda: server.change(
        hand_set, person, {"severity": ("--", chosen)}, None
    )

    counts = runs(cli)
    states = {(a["rule"], a["external_id"]): (a["state"], a["reason"]) for a in actions(cli)}
    assert counts["skipped"] == 1 and counts["failed"] == 0, states
    assert (
        states[("severity", hand_set)][0] == "skipped"
        and "changed since" in states[("severity", hand_set)][1]
    )
    assert server.bugs[hand_set]["severity"] == chosen  # the person's value is kept
    for bug_id in both:  # the second rule is not taken for a person by the first rule's write
        assert states[("component", bug_id)][0] == states[("severity", bug_id)][0] == "done", states
        mine = [h for h in server.history[bug_id] if h["who"] == server.users[BOT_TOKEN]]
        assert sorted(c["field_name"] for h in mine for c in h["changes"]) == ["component", "severity"]
    for bug_id, decision in severity.items():
        if bug_id == hand_set:
            continue
        assert server.bugs[bug_id]["severity"] == decision["new_value"]
        (write,) = [w for w in landed(server, bug_id) if "severity" in w["body"]]
        assert write["method"] == "PUT" and write["body"]["severity"] == decision["new_value"]
        assert write["body"]["comment"]["body"].endswith("[bugsift-bot:severity]")
        assert "set the severity to" in write["body"]["comment"]["body"]
    done = {a["external_id"]: a for a in actions(cli, "done") if a["rule"] == "severity"}
    assert all(a["answer"]["version_after"] for a in done.values())  # the write's own version, logged

    writes = len(server.writes)
    again = runs(cli)
    assert again["done"] == again["skipped"] == again["failed"] == 0
    assert len(server.writes) == writes  # a second run writes nothing

    first = done[sorted(done)[0]]
    cli("bot", "undo", first["id"])
    assert server.bugs[first["external_id"]]["severity"] == "--"  # back to "nobody chose one"


# --- Jira: priority, never the default 'Major' ---------------------------------------------------------


@pytest.fixture
def jira_server(shared_data: Path) -> Iterator[tuple[JiraServer, list[dict[str, Any]], list[str]]]:
    triaged, fresh = tracker_seed.jira_priorities(shared_data)
    server = JiraServer(triaged + fresh)
    with serving_in_thread(server):
        yield server, triaged, [i["key"] for i in fresh]


def confirm_majors(home: Path, triaged: list[dict[str, Any]], share: int) -> int:
    """People confirmed 'Major' in bugsift on one in ``share`` of the triaged issues that hold it (a
    human label): the model learns it as a level, so it answers it, and the bot must still never write it."""
    keys = [i["key"] for i in triaged if (i["fields"]["priority"] or {}).get("name") == "Major"][::share]
    database = open_database(Settings(home=home))
    try:
        with database.session() as session:
            ids = session.query(ReportRow.id).filter(ReportRow.external_id.in_(keys)).all()
            upsert_labels(session, [(i, "priority", "Major") for (i,) in ids], "human", author="triager")
    finally:
        database.dispose()
    return len(keys)


def test_jira_priority_is_set_through_fields_and_the_default_is_never_written(
    jira_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugsift.learn.tasks import TaskOptions, get_task
    from bugsift.sources.jira import from_rest

    server, triaged, fresh = jira_server
    home = tmp_path / "home"
    cli = _home_cli(
        tmp_path, monkeypatch, {"BUGSIFT_JIRA_URL": server.url, "BUGSIFT_JIRA_TOKEN": PERSON_TOKEN}
    )
    importer = lambda issue: from_rest(issue, "jira")  # noqa: E731
    store(home, triaged, importer)
    assert confirm_majors(home, triaged, 4) >= 20
    assert "on the scale jira-priority" in cli("train", "priority").stdout
    store(home, [server.full(k) for k in fresh], importer)
    rule = SCALE_RULE.format(name="priority", tracker="jira", task="priority", action="set")
    (home / "bot.toml").write_text(rule, encoding="utf-8")

    # The model answers the default on some new issues; the bot never plans to write it.
    database = open_database(Settings(home=home))
    try:
        predictor = get_task("priority").predictor(database, TaskOptions(mode="filing"))
        with database.session() as session:
            rows = session.query(ReportRow).filter(ReportRow.external_id.in_(fresh)).all()
            answers = predictor.predict([row_to_report(r) for r in rows], top_k=1)
    finally:
        database.dispose()
    assert any(a["prediction"] == "Major" for a in answers), [a["prediction"] for a in answers]
    decisions = [json.loads(line) for line in cli("bot", "plan", "--json").stdout.splitlines() if line]
    assert decisions and all(d["new_value"] != "Major" for d in decisions)
    act = [d for d in decisions if d["verdict"] == "act"]
    assert len(act) >= 3, cli("bot", "plan", "--all").stdout
    assert {d["new_value"] for d in act} <= set(JIRA_PRIORITY.levels) - {"Major"}
    hand_set, removed, *rest = act
    person = server.users[PERSON_TOKEN]
    # A person gave one issue the bot's value before and put Major back; a sync stored that.
    server.edit(removed["external_id"], person, priority=removed["new_value"])
    server.edit(removed["external_id"], person, priority="Major")
    store(home, [server.full(removed["external_id"])], importer)
    other = next(p for p in JIRA_PRIORITY.levels if p not in ("Major", hand_set["new_value"]))
    server.before_bot_read[hand_set["external_id"]] = lambda: server.edit(
        hand_set["external_id"], person, priority=other
    )

    counts = runs(cli)
    skipped = {a["external_id"]: a["reason"] for a in actions(cli, "skipped")}
    assert counts["done"] == len(rest) and counts["skipped"] == 2, skipped
    assert "changed since" in skipped[hand_set["external_id"]]
    assert "a person removed" in skipped[removed["external_id"]]
    assert server.issues[hand_set["external_id"]]["fields"]["priority"]["name"] == other
    assert server.issues[removed["external_id"]]["fields"]["priority"]["name"] == "Major"
    for decision in rest:
        key = decision["external_id"]
        (write,) = landed(server, key)
        assert write["method"] == "PUT" and write["body"]["fields"] == {
            "priority": {"name": decision["new_value"]}
        }
        (note,) = write["body"]["update"]["comment"]
        assert note["add"]["body"].endswith("[bugsift-bot:priority]")
        issue = server.issues[key]
        assert issue["fields"]["priority"]["name"] == decision["new_value"]
        mine = [h for h in issue["changelog"]["histories"] if h["author"]["name"] == "bugsift-bot"]
        assert [(i["field"], i["fromString"], i["toString"]) for h in mine for i in h["items"]] == [
            ("priority", "Major", decision["new_value"])
        ]
    assert not any(
        w["body"].get("fields", {}).get("priority", {}).get("name") == "Major" for w in server.bot_writes()
    )

    writes = len(server.writes)
    assert runs(cli)["done"] == 0 and len(server.writes) == writes  # a second run writes nothing
    first = next(a for a in actions(cli, "done") if a["external_id"] == rest[0]["external_id"])
    cli("bot", "undo", first["id"])
    assert server.issues[first["external_id"]]["fields"]["priority"]["name"] == "Major"  # restored


# --- GitHub: priority as a label ----------------------------------------------------------------------


@pytest.fixture
def github_server(shared_data: Path) -> Iterator[tuple[GitHubServer, list[str]]]:
    _, fresh = tracker_seed.github(shared_data)
    server = GitHubServer(tracker_seed.GITHUB_REPO, fresh)
    with serving_in_thread(server):
        yield server, [str(i["number"]) for i in fresh]


def test_github_priority_is_a_label_through_label_format(
    github_server: Any, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub issues have no priority field: a team that names its priorities as labels gets one added,
    from a priority model trained on the Jira it triaged in before (stored under the tracker "jira")."""
    from bugsift.sources.github import from_rest as github_issue
    from bugsift.sources.jira import from_rest as jira_issue

    server, fresh = github_server
    home = tmp_path / "home"
    env = {
        "BUGSIFT_GITHUB_API_URL": server.url,
        "BUGSIFT_GITHUB_REPO": tracker_seed.GITHUB_REPO,
        "BUGSIFT_GITHUB_TOKEN": PERSON_TOKEN,
    }
    cli = _home_cli(tmp_path, monkeypatch, env)
    triaged, _ = tracker_seed.jira_priorities(shared_data)
    store(home, triaged, lambda issue: jira_issue(issue, "jira"))
    cli("train", "priority", "--tracker", "jira")
    store(home, [server.full(n) for n in fresh], lambda issue: github_issue(issue, "github"))
    rule = SCALE_RULE.format(name="priority", tracker="github", task="priority", action="label")
    rule += 'label_format = "priority: {value}"\nscale = "jira-priority"\n'
    (home / "bot.toml").write_text(rule, encoding="utf-8")

    act = [d for d in planned(cli) if d["external_id"] in fresh]
    assert len(act) >= 2, cli("bot", "plan", "--all").stdout
    assert all(d["new_value"].startswith("priority: ") and d["scale"] == "jira-priority" for d in act)
    removed, *rest = act
    person = server.users[PERSON_TOKEN]
    server.label(removed["external_id"], person, add=[removed["new_value"]])
    server.label(removed["external_id"], person, remove=[removed["new_value"]])
    store(home, [server.full(removed["external_id"])], lambda issue: github_issue(issue, "github"))

    counts = runs(cli)
    assert counts["done"] == len(rest) and counts["skipped"] == 1, actions(cli)
    assert "a person removed" in actions(cli, "skipped")[0]["reason"]
    for decision in rest:
        number = decision["external_id"]
        assert [w["path"].rsplit("/", 1)[-1] for w in landed(server, number)] == ["labels", "comments"]
        assert decision["new_value"] in [label["name"] for label in server.issues[number]["labels"]]
        events = [e for e in server.events[number] if e["actor"]["login"] == "bugsift-bot"]
        assert [(e["event"], e["label"]["name"]) for e in events] == [("labeled", decision["new_value"])]
    writes = len(server.writes)
    assert runs(cli)["done"] == 0 and len(server.writes) == writes

    # A rule that would set a GitHub priority field is refused when planned.
    (home / "bot.toml").write_text(
        SCALE_RULE.format(name="p", tracker="github", task="priority", action="set"), encoding="utf-8"
    )
    refused = cli("bot", "plan", ok=False)
    assert refused.exit_code == 1 and "nor severity or priority" in refused.output, refused.output
