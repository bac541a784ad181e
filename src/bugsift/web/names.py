"""Plain names for what pages show: models ("Real defect? · at filing · v3") and label values ("Not a
defect"), instead of registry keys (``defect:is_bug:filing:v3``) and stored values (``not_defect``)."""

from __future__ import annotations

from typing import Any

TASK_WORDS = {
    "type": "Type",
    "defect": "Real defect?",
    "component": "Component",
    "files": "Files to fix",
    "duplicates": "Duplicates",
}
MODE_WORDS = {"filing": "at filing", "backlog": "in the backlog"}
"""filing: only what a new report has; backlog: also comments and later fields of stored reports."""
VALUE_WORDS = {"defect": "A defect", "not_defect": "Not a defect"}


def model_title(model: Any) -> str:
    """E.g. "Real defect? (is_bug) · at filing · v3"; the label set is named when it is not the task's own."""
    task = TASK_WORDS.get(model.task, model.task.replace("_", " ").capitalize())
    label = "" if model.label in (model.task, "all", "") else f" ({model.label})"
    mode = MODE_WORDS.get(model.mode, model.mode)
    return f"{task}{label} · {mode} · v{model.version}"


def value_words(value: Any) -> str:
    """A stored label value as a person reads it (``not_defect`` -> "Not a defect")."""
    text = "" if value is None else str(value)
    return VALUE_WORDS.get(text, text)
