"""Reasons a person reads: one shape of explanation for every task.

Every answer's ``explanation`` is a list of ``{"text": str, "weight": float, "kind": str}``, strongest
first, at most `MAX_REASONS`. ``kind`` says where the reason comes from:

``words``    words of the report that pushed the answer (one reason: ``words: *freeze*, *second monitor*``)
``field``    a fact about the report (``a long log is pasted (120 lines)``, ``severity critical``)
``product``  where it was filed (``filed under Firefox``, ``component General``)
``similar``  a stored report or file it resembles (``very like #1234 (0.82)``)
``history``  what happened before (``fixed 3 times before``)
``note``     what the answer rests on (``text similarity alone: ...``)

`from_features` maps a model's feature names (``word:``/``title:``/``text:``/``comments:`` word n-grams,
``chars:`` char n-grams, ``field:`` numeric and one-hot fields) to such reasons: a word n-gram is kept
only if none of its words is an English stop word (scikit-learn's list); a char n-gram is never shown:
it becomes the whole word of the report that contains it, or nothing; a field becomes a phrase, unless
its value is a placeholder or the tracker's default (``severity normal``, ``priority --``, ``platform
All``, ``component General``: `is_default`), which nearly every report has. No feature id and no fragment
ever reaches the text (`INTERNAL` is the pattern tests check against).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from bugsift.sources.base import Report

MAX_REASONS = 6
MAX_WORDS = 5
# scikit-learn's list lacks the forms of "do" and the stems tokenisers leave of negated contractions
# ("doesn't" -> doesn), which then showed up as reasons.
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {
    *("does", "did", "doing", "doesn", "didn", "don", "isn", "wasn", "aren", "weren", "hasn", "haven"),
    *("hadn", "shouldn", "wouldn", "couldn", "won", "just", "really", "got", "gets"),
}
INTERNAL = re.compile(r"^(field|title|text|word|chars|comments|emb)[:_]")
"""A reason text that matches this is a leaked feature name (tests assert it never does)."""

NOTHING_STANDS_OUT = "no single word or field stands out"

_WORD_PREFIXES = ("word:", "title:", "text:", "comments:")
_GROUPS = {"comments": "in the comments: "}  # word families told apart from the report's own words
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# the placeholders of `features.clean_text`: a fact, not a word
_PLACEHOLDER = {
    "xxcode": "code is pasted",
    "xxstack": "a stack trace is pasted",
    "xxurl": "links to a page",
    "xxpath": "names a file path",
    "xxversion": "names a version number",
    "xxhex": "a memory address is pasted",
    "xxnum": "a long number is pasted",
}

_FLAGS = {
    "has_description": "has a description",
    "has_code": "code is pasted",
    "has_stack": "a stack trace is pasted",
    "title_question": "the title is a question",
    "title_camel_case": "a CamelCase name in the title",
    "title_identifier": "a code identifier in the title",
    "log_camel_case": "CamelCase names in the description",
    "log_dotted_names": "dotted names in the description",
    "log_calls": "function calls in the description",
    "log_i_my": "written in the first person (I, my)",
    "log_we_our": "written as the team (we, our)",
    "log_comments": "has comments",
    "log_attachments": "has attachments",
    "has_patch": "a patch is attached",
    "log_depends_on": "depends on other reports",
    "log_blocks": "blocks other reports",
    "log_duplicates": "has duplicates",
    "log_see_also": "has see-also links",
    "log_cc": "people follow it",
    "log_flags": "has review or release flags",
    "has_cf_crash_signature": "has a crash signature",
    "has_whiteboard": "has whiteboard tags",
    "has_url": "has a test-case URL",
    "has_mentors": "has a mentor",
    "has_cf_fx_points": "has story points",
    "has_cf_fx_iteration": "is planned in an iteration",
    "has_cf_user_story": "has a user story",
    "log_votes": "people voted for it",
    "log_versions": "names affected versions",
}

_LAG = {
    "newer": "a newer version than any seen before",
    "same_line": "the current version line",
    "near": "a recent version",
    "behind": "an old version",
}

_VALUE = {  # key=value fields: (phrase with {v}, kind)
    "product": ("filed under {v}", "product"),
    "component": ("component {v}", "product"),
    "components": ("component {v}", "product"),
    "project": ("in project {v}", "product"),
    "classification": ("classification {v}", "product"),
    "priority": ("priority {v}", "field"),
    "severity": ("severity {v}", "field"),
    "versions": ("version {v}", "field"),
    "version": ("version {v}", "field"),
    "platform": ("platform {v}", "field"),
    "op_sys": ("on {v}", "field"),
    "keywords": ("keyword {v}", "field"),
    "whiteboard": ("whiteboard tag {v}", "field"),
    "cf_has_str": ("steps to reproduce: {v}", "field"),
    "target_milestone": ("target milestone {v}", "field"),
    "tags": ("tag {v}", "field"),
    "labels": ("label {v}", "field"),
    "release_status": ("release status {v}", "field"),
    "release_tracking": ("release tracking {v}", "field"),
    "type": ("type {v}", "field"),
}


PLACEHOLDERS = frozenset({"", "-", "--", "---", "unspecified", "none", "n/a", "unknown", "(none)"})
"""Values that mean "not set" in any field of any tracker."""

TRACKER_DEFAULTS: dict[str, frozenset[str]] = {
    # Bugzilla's defaults (severity normal / --, priority --, platform and OS All or Unspecified),
    # Jira's (priority Major), Redmine's (priority Normal), and the catch-all components every product has.
    "severity": frozenset({"normal", "n/a"}),
    "priority": frozenset({"normal", "major", "medium"}),
    "platform": frozenset({"all", "other"}),
    "op_sys": frozenset({"all", "other"}),
    "component": frozenset({"general", "untriaged", "other"}),
    "components": frozenset({"general", "untriaged", "other"}),
    "version": frozenset({"other"}),
    "versions": frozenset({"other"}),
}
"""Per field, the value a reporter gets without choosing (lower case). A reason "severity normal" or
"component General" says what nearly every report says, so `is_default` values are left out of the
explanation (with `PLACEHOLDERS`, which mean "not set" everywhere)."""


_DEFAULT_FLAGS = frozenset({"version_none", "has_description"})
"""Flags that say a field was left at its placeholder ("no affected version given"), or what nearly every
report has (a description: 96% of the shared Jira and Mozilla reports): left out too."""


def is_default(field: str, value: str) -> bool:
    """True if ``value`` of ``field`` is a placeholder or the tracker's default: a reason about it tells
    a person nothing."""
    v = value.strip().lower()
    return v in PLACEHOLDERS or v in TRACKER_DEFAULTS.get(field, frozenset())


def reason(text: str, weight: float, kind: str) -> dict[str, Any]:
    """One reason in the explanation's shape."""
    return {"text": text, "weight": round(float(weight), 4), "kind": kind}


def from_texts(texts: Iterable[str], kind: str = "note", weight: float = 0.0) -> list[dict[str, Any]]:
    """Plain sentences (a task's own wording) as reasons of one kind."""
    return [reason(t, weight, kind) for t in texts if t]


def is_readable(text: str) -> bool:
    """True unless ``text`` is a feature name or a bare stop word (what tests assert of every reason)."""
    t = text.strip().lower()
    return bool(t) and not INTERNAL.match(t) and t not in STOP_WORDS


def _report_text(report: Report | None) -> str:
    if report is None:
        return ""
    return f"{report.title or ''}\n{report.description or ''}"


def _field_phrase(name: str, report: Report | None) -> tuple[str, str] | None:
    """(phrase, kind) of a ``field:`` feature, or None to leave it out."""
    if "=" in name:
        key, _, value = name.partition("=")
        value = value.strip()
        if not value:
            return None
        if key == "version_lag":
            return (f"affects {_LAG[value]}", "field") if value in _LAG else None
        if key == "filed_hour":
            try:
                hour = int(value)
            except ValueError:
                return None
            return f"filed between {hour:02d}:00 and {(hour + 3) % 24:02d}:00 UTC", "field"
        if is_default(key, value):
            return None
        phrase, kind = _VALUE.get(key, (key.replace("_", " ").strip() + " {v}", "field"))
        return phrase.format(v=value[:80]), kind
    if name in _DEFAULT_FLAGS:
        return None
    description = (report.description or "") if report is not None else ""
    if name == "log_lines":
        lines = description.count("\n") + 1 if description else 0
        if lines >= 30:
            return f"a long log is pasted ({lines} lines)", "field"
        return (f"{lines} lines of description", "field") if lines else ("an empty description", "field")
    if name == "log_description_chars":
        size = len(description)
        return (
            f"a long description ({size:,} characters)"
            if size >= 2000
            else f"a short description ({size:,} characters)"
            if size < 300
            else f"a description of {size:,} characters"
        ), "field"
    if name == "log_question_marks":
        n = description.count("?")
        return (f"asks questions ({n} question marks)" if n else "asks no question"), "field"
    if name in _FLAGS:
        return _FLAGS[name], "field"
    words = [w for w in name.replace("_", " ").split() if w not in ("log", "has", "cf")]
    return (" ".join(words), "field") if words else None


def _whole_word(fragment: str, words: Sequence[str]) -> str | None:
    """The first word of the report that contains the char n-gram ``fragment`` (spaces: word edges)."""
    core = fragment.strip().lower()
    if len(core) < 2:
        return None
    start, end = fragment.startswith(" "), fragment.endswith(" ")
    for word in words:
        if core in word and (not start or word.startswith(core)) and (not end or word.endswith(core)):
            return word
    return None


def _good_word(word: str) -> bool:
    if len(word) < 3 or word.isdigit() or word.startswith("xx"):
        return False
    return word not in STOP_WORDS and word.replace("'", "") not in STOP_WORDS


def from_features(
    items: Iterable[dict[str, Any]], report: Report | None = None, n: int = MAX_REASONS
) -> list[dict[str, Any]]:
    """Reasons from ``[{"feature": "word:crash", "weight": 0.4}, ...]`` (strongest first).

    Word n-grams and the whole words of char n-grams make one ``words`` reason (its weight: their sum);
    every other feature its own reason; the strongest ``n`` are returned.
    """
    groups: dict[str, dict[str, float]] = {"words: ": {}}
    words = groups["words: "]
    facts: dict[str, list[Any]] = {}  # text -> [weight, kind]
    report_words: list[str] | None = None

    def fact(text: str, weight: float, kind: str) -> None:
        entry = facts.setdefault(text, [0.0, kind])
        entry[0] += weight

    for item in items:
        feature, weight = str(item.get("feature", "")), float(item.get("weight", 0.0))
        if weight <= 0 or not feature:
            continue
        family, _, name = feature.partition(":")
        if feature.startswith(_WORD_PREFIXES):
            tokens = name.split()
            if len(tokens) == 1 and tokens[0] in _PLACEHOLDER:
                fact(_PLACEHOLDER[tokens[0]], weight, "field")
            elif tokens and all(_good_word(t) for t in tokens):
                group = groups.setdefault(_GROUPS.get(family, "words: "), {})
                group[name] = group.get(name, 0.0) + weight
        elif family == "chars":
            if report_words is None:
                report_words = _WORD.findall(_report_text(report).lower())
            word = _whole_word(name, report_words)
            if word is not None and _good_word(word):
                words[word] = words.get(word, 0.0) + weight
        elif family == "field":
            phrase = _field_phrase(name, report)
            if phrase is not None and is_readable(phrase[0]):
                fact(phrase[0], weight, phrase[1])
        # embedding dimensions and unknown families say nothing a person can read: left out
    out = [reason(text, w, kind) for text, (w, kind) in facts.items()]
    for head, group in groups.items():
        if not group:
            continue
        ranked = sorted(group.items(), key=lambda kv: -kv[1])
        shown: list[str] = []
        for word, _ in ranked:  # a word already inside a shown pair (or the reverse) adds nothing
            if any(word in s.split() or s in word.split() for s in shown):
                continue
            shown.append(word)
            if len(shown) >= MAX_WORDS:
                break
        total = sum(w for word, w in ranked if word in shown)
        out.append(reason(head + ", ".join(f"*{w}*" for w in shown), total, "words"))
    if not out:  # every pushing feature was a stop word, a fragment or an embedding dimension
        return [reason(NOTHING_STANDS_OUT, 0.0, "note")]
    out.sort(key=lambda r: -r["weight"])
    return out[: max(1, n)]


def texts(explanation: Any) -> list[str]:
    """The reason texts of an explanation (reason dicts; plain strings from older answers pass through)."""
    out = []
    for item in explanation or []:
        text = item.get("text") if isinstance(item, dict) else item
        if isinstance(text, str) and text and is_readable(text):
            out.append(text)
    return out
