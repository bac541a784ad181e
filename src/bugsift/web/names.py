"""Plain names for what pages show: models ("Real defect? · at filing · v3") and label values ("Not a
defect"), instead of registry keys (``defect:is_bug:filing:v3``) and stored values (``not_defect``)."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

TASK_WORDS = {
    "type": "Type",
    "defect": "Real defect?",
    "component": "Component",
    "files": "Files to fix",
    "duplicates": "Duplicates",
    "severity": "Severity",
    "priority": "Priority",
    "fix-time": "Days to a fix",
}
MODE_WORDS = {"filing": "at filing", "backlog": "in the backlog"}
"""filing: only what a new report has; backlog: also comments and later fields of stored reports."""
VALUE_WORDS = {
    "defect": "A defect",
    "not_defect": "Not a defect",
    "True": "Yes",  # imported flags (is_bug) as the tracker's export wrote them
    "False": "No",
    "true": "Yes",
    "false": "No",
}
FOLDED = "(other)"
"""How the component model names the components it folded together (``Core::(other)``, ``(other)``)."""
LABEL_WORDS = {
    "defect": "Real defect?",
    "type": "Type",
    "component": "Component",
    "duplicate_of": "Duplicate of",
    "files": "Files to fix",
}
"""Label names (the task's stored name, see `bugsift.web.suggest.LABEL_NAMES`) as a heading."""

# Only lower-case snake-case words are machine names (not_defect, needs_info, bug). Component names
# ("Core::Layout"), file paths, tracker ids ("HADOOP-12") and numbers are the tracker's own: kept as they are.
_MACHINE_VALUE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_VERSION_NAME = re.compile(
    r"(?P<task>(?:label|field):[^:]+|[a-z_-]+):(?P<label>[^:]*):(?P<mode>[a-z_]+):v(?P<version>\d+)"
)


def _title(task: str, label: str, mode: str, version: int | str) -> str:
    words = task_words(task)
    named = "" if label in (task, "all", "", task.partition(":")[2]) else f" ({label})"
    return f"{words}{named} · {MODE_WORDS.get(mode, mode)} · v{version}"


def task_words(task: Any) -> str:
    """A task as a heading: ``defect`` -> "Real defect?"."""
    text = "" if task is None else str(task)
    kind, _, name = text.partition(":")
    if name and kind == "label":  # label:is_bug -> "Is bug"
        return label_words(name)
    if name and kind == "field":  # field:cf_has_str -> "Cf has str (tracker field)"
        return f"{label_words(name)} (tracker field)"
    return TASK_WORDS.get(text, text.replace("_", " ").capitalize())


def model_title(model: Any) -> str:
    """E.g. "Real defect? (is_bug) · at filing · v3"; the label set is named when it is not the task's own."""
    return _title(model.task, model.label, model.mode, model.version)


def version_words(version_name: Any) -> str:
    """A model version as stored on a label (``defect:is_bug:filing:v3``) in the words of `model_title`;
    other names (``duplicates-text-similarity``) with their dashes as spaces; None as ""."""
    if version_name is None:
        return ""
    text = str(version_name)
    found = _VERSION_NAME.fullmatch(text)
    if found is None:
        return text.replace("-", " ").replace("_", " ")
    return _title(found["task"], found["label"], found["mode"], found["version"])


def value_words(value: Any) -> str:
    """A stored label value as a person reads it: ``not_defect`` -> "Not a defect", ``needs_info`` ->
    "Needs info", ``Core::(other)`` -> "Core: one of its smaller components"; a name the tracker gave
    (``Core::Layout``, ``HADOOP-12``, a path) is kept as it is."""
    text = "" if value is None else str(value)
    if text in VALUE_WORDS:
        return VALUE_WORDS[text]
    if text.endswith(FOLDED):  # the component model's bucket of components too small to learn alone
        product = text[: -len(FOLDED)].removesuffix("::")
        return f"{product}: one of its smaller components" if product else "one of the smaller components"
    if _MACHINE_VALUE.fullmatch(text):
        return text.replace("_", " ").capitalize()
    return text


def label_words(name: Any) -> str:
    """A label name (``duplicate_of``) as a heading ("Duplicate of")."""
    text = "" if name is None else str(name)
    return LABEL_WORDS.get(text, text.replace("_", " ").capitalize())


def heading(words: str) -> str:
    """Words before a value: "Type:", but "Real defect?" (a question takes no colon)."""
    return words if words.endswith(("?", ":")) else f"{words}:"


_STARRED = re.compile(r"\*([^*\n]+)\*")


def reason_markup(text: Any) -> Markup:
    """A reason's text as HTML: the report's own words, starred in the text (``words: *freeze*``), in
    italics; everything else escaped."""
    return Markup(_STARRED.sub(lambda m: f"<em>{m.group(1)}</em>", str(escape("" if text is None else text))))


def with_label_text(result: dict[str, Any]) -> dict[str, Any]:
    """A prediction (the predict contract) with ``label_text``, the words for ``prediction``, beside it
    and in each candidate: the form's script shows those and keeps the raw value for what it sends."""
    prediction = result.get("prediction")
    out = {**result, "label_text": None if prediction is None else value_words(prediction)}
    if isinstance(result.get("summary"), str) and result.get("unit"):  # fix-time: days, said in words
        out["label_text"] = result["summary"]
    if isinstance(result.get("candidates"), list):
        out["candidates"] = [
            {**c, "label_text": value_words(c.get("label"))} if isinstance(c, dict) else c
            for c in result["candidates"]
        ]
    return out
