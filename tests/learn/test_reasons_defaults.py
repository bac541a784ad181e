"""Reasons never state a tracker's default: "severity normal", "priority --", "platform All" or
"component General" are what nearly every report says, so they are left out and the rest is kept."""

from __future__ import annotations

import re

import pytest

from bugsift.learn.kind.model import build_kind_model
from bugsift.learn.predict import predict_reports
from bugsift.learn.reasons import from_features, is_default, texts
from bugsift.sources.base import Report

# What a filing-time defect model explained for a Mozilla bug (feature names as `features.py` makes them).
MOZILLA_ITEMS = [
    {"feature": "field:severity=normal", "weight": 0.61},
    {"feature": "field:priority=--", "weight": 0.44},
    {"feature": "field:platform=All", "weight": 0.40},
    {"feature": "field:op_sys=Unspecified", "weight": 0.33},
    {"feature": "field:component=General", "weight": 0.31},
    {"feature": "field:components=Untriaged", "weight": 0.30},
    {"feature": "field:versions=unspecified", "weight": 0.29},
    {"feature": "field:product=Firefox", "weight": 0.28},
    {"feature": "field:severity=S2", "weight": 0.27},
    {"feature": "field:op_sys=Windows 10", "weight": 0.22},
    {"feature": "title:crash", "weight": 0.20},
    {"feature": "field:has_stack", "weight": 0.15},
    {"feature": "field:has_description", "weight": 0.12},  # nearly every report has one
]
DEFAULT_TEXT = re.compile(
    r"^(severity (normal|--)|priority (--|normal|major)|platform (all|unspecified|other)|"
    r"on (all|unspecified|other)|component (general|untriaged|other)|version unspecified|no .* given|"
    r"has a description)$",
    re.I,
)


def test_defaults_are_left_out_and_the_rest_kept() -> None:
    report = Report(tracker="bugzilla", external_id="1", title="Crash on start", description="It crashed.")
    shown = texts(from_features(MOZILLA_ITEMS, report))
    assert not [t for t in shown if DEFAULT_TEXT.match(t)], shown
    assert shown[:3] == ["filed under Firefox", "severity S2", "on Windows 10"]
    assert "a stack trace is pasted" in shown and "words: *crash*" in shown


def test_a_report_of_defaults_alone_says_nothing_stands_out() -> None:
    items = [
        {"feature": "field:severity=normal", "weight": 0.5},
        {"feature": "field:priority=--", "weight": 0.4},
    ]
    assert texts(from_features(items)) == ["no single word or field stands out"]


@pytest.mark.parametrize(
    ("field", "value", "default"),
    [
        ("severity", "normal", True),
        ("severity", "Normal ", True),
        ("severity", "critical", False),
        ("priority", "--", True),
        ("priority", "Major", True),  # Jira's default priority
        ("priority", "P1", False),
        ("platform", "All", True),
        ("op_sys", "Unspecified", True),
        ("op_sys", "Linux", False),
        ("component", "General", True),
        ("components", "Untriaged", True),
        ("component", "Layout", False),
        ("product", "Other", False),  # only the fields named in TRACKER_DEFAULTS have defaults
        ("target_milestone", "---", True),
    ],
)
def test_is_default(field: str, value: str, default: bool) -> None:
    assert is_default(field, value) is default


def test_real_reports_get_no_default_reasons(mozilla: list[Report]) -> None:
    """A backlog model on real Mozilla bugs: the defaults are in the reports, never in the reasons."""
    train, test = mozilla[:300], mozilla[300:360]
    labels = [r.labels["is_bug_derived"] for r in train]
    model = build_kind_model(mode="backlog", char_ngrams=None, cv=3).fit(train, labels)
    assert any((r.severity or "").lower() == "normal" for r in test)  # the defaults are there to leave out
    out = predict_reports(model, test, threshold=0.6)
    shown = [t for result in out for t in texts(result["explanation"])]
    assert shown and not [t for t in shown if DEFAULT_TEXT.match(t)], shown
    assert any(t.startswith(("filed under", "severity", "on ", "component")) for t in shown), shown
