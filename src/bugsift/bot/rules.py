"""The bot's rules: a TOML file of ``[[rule]]`` tables, validated with errors that name the line.

```toml
[[rule]]
name = "component"
tracker = "redmine"     # the tracker name the reports are stored under
task = "component"      # component | type | defect | duplicates | severity | priority
action = "set"          # set the field | label (add a label or keyword) | comment
precision = 0.9         # act only on labels whose held-out precision at their threshold reaches this
apply = true            # false: plan and digest only
grace_minutes = 30      # leave new reports to people this long
```
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from bugsift.learn.scale.scales import SCALES
from bugsift.learn.tasks import PATTERN_TASK_NAME

TASKS = ("component", "type", "defect", "duplicates", "severity", "priority")
KINDS = ("redmine", "bugzilla", "github", "jira")
ACTIONS = ("set", "label", "comment")
# What each task may do: a field to set only where the tracker has one for it.
ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "component": ("set", "label", "comment"),
    "type": ("set", "label", "comment"),
    "defect": ("label", "comment"),
    "duplicates": ("comment",),
    "severity": ("set", "label", "comment"),
    "priority": ("set", "label", "comment"),
}


# A label set or a tracker field has no column of ours to set: the bot adds a label or comments.
PATTERN_ACTIONS = ("label", "comment")


def allowed_actions(task: str) -> tuple[str, ...]:
    return ALLOWED_ACTIONS.get(task, PATTERN_ACTIONS)


class RulesError(ValueError):
    """A rules file that cannot be used: the message names the file and line."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    tracker: str = Field(min_length=1, max_length=64)
    kind: Literal["redmine", "bugzilla", "github", "jira"] | None = Field(default=None, validate_default=True)
    """What kind of tracker ``tracker`` is, when its name is not the kind itself."""
    task: str
    """One of `TASKS`, or a label set or tracker field (``label:NAME``, ``field:NAME``: label or comment)."""
    action: Literal["set", "label", "comment"]
    precision: float = Field(default=0.9, ge=0.5, le=1.0)
    apply: bool = False
    grace_minutes: float = Field(default=30, ge=0)
    allow: tuple[str, ...] = ()
    """Only these values may be written (empty: any value the model knows)."""
    deny: tuple[str, ...] = ()
    """Values never written, whatever the model says."""
    projects: tuple[str, ...] = ()
    """Only reports of these projects or products (empty: every one)."""
    max_age_days: float | None = Field(default=None, gt=0)
    """Leave reports filed longer ago than this alone."""
    only_untriaged: bool = True
    """Act only where the field is still empty or one of ``untriaged_values``."""
    untriaged_values: tuple[str, ...] = ("Untriaged", "General")
    skip_reporters: tuple[str, ...] = ()
    max_per_hour: int = Field(default=20, ge=0)
    min_support: int = Field(default=10, ge=1)
    """Held-out predictions of a label, at or above its threshold, needed before it is trusted."""
    label_format: str = "{value}"
    """What ``action = "label"`` adds, e.g. ``"bugsift:{value}"``."""
    review_days: float = Field(default=14, gt=0)
    """An action no person reverted within this many days counts as right in the live precision."""
    scale: str | None = None
    """Severity and priority: the scale the model's answers must be on (default: the newest model's,
    if the tracker uses it)."""
    act_on_defaults: bool = False
    """Severity and priority: choose the thresholds on the held-out reports people gave a level, as before
    0.11, not on the untouched ones the rule acts on: it acts far more often, at a precision the replay
    shows does not hold (HIVE priority 0.58 at a 0.8 target)."""

    @field_validator("allow", "deny", "projects", "skip_reporters", "untriaged_values", mode="before")
    @classmethod
    def _list_of_text(cls, value: object) -> object:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("label_format")
    @classmethod
    def _has_value(cls, value: str) -> str:
        if "{value}" not in value:
            raise ValueError("label_format must contain {value}")
        return value

    @field_validator("kind")
    @classmethod
    def _kind_known(cls, kind: str | None, info: ValidationInfo) -> str | None:
        tracker = info.data.get("tracker")
        if kind is None and tracker not in KINDS:
            raise ValueError(
                f"tracker {tracker!r} is not a kind the bot knows: say kind = one of {', '.join(KINDS)}"
            )
        return kind

    @field_validator("task")
    @classmethod
    def _task_known(cls, task: str) -> str:
        if task not in TASKS and not re.fullmatch(PATTERN_TASK_NAME, task):
            known = ", ".join(TASKS)
            raise ValueError(f"task must be one of {known}, label:NAME or field:NAME, not {task!r}")
        return task

    @field_validator("action")
    @classmethod
    def _action_fits_task(cls, action: str, info: ValidationInfo) -> str:
        task = info.data.get("task")
        if task is not None and action not in allowed_actions(task):
            allowed = " or ".join(allowed_actions(task))
            raise ValueError(f"task {task!r} can only {allowed}, not {action!r}")
        return action

    @field_validator("deny")
    @classmethod
    def _not_also_allowed(cls, deny: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        overlap = set(info.data.get("allow") or ()) & set(deny)
        if overlap:
            raise ValueError(f"values both allowed and denied: {', '.join(sorted(overlap))}")
        return deny

    @field_validator("scale")
    @classmethod
    def _scale_known(cls, scale: str | None, info: ValidationInfo) -> str | None:
        task = info.data.get("task")
        if scale is None:
            return None
        if task not in ("severity", "priority"):
            raise ValueError(f"only severity and priority rules name a scale, not {task!r}")
        known = [s.name for s in SCALES if s.field == task]
        if scale not in known:
            raise ValueError(f"unknown {task} scale {scale!r} (known: {', '.join(known)})")
        return scale

    def admits(self, value: str) -> bool:
        """Whether the rule lets the bot write this value (allow and deny lists)."""
        if value in self.deny:
            return False
        return not self.allow or value in self.allow


def load_rules(path: Path) -> list[Rule]:
    """Read and validate a rules file; any problem is one RulesError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(
            f"{path}: no rules file (write one: see docs/bot.md, or set BUGSIFT_BOT_RULES)"
        ) from None
    except UnicodeDecodeError as error:
        raise RulesError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, where: str = "bot.toml") -> list[Rule]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        if found:
            message = str(error)[: found.start()].strip()
            raise RulesError(f"{where}:{found[1]}: {message} (column {found[2]})") from None
        raise RulesError(f"{where}: {error}") from None
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        line = _line_of_key(text, unknown[0], 0, len(text.splitlines()))
        raise RulesError(f"{where}:{line}: unknown top-level key {unknown[0]!r} (rules are [[rule]] tables)")
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise RulesError(f"{where}: no [[rule]] table")
    starts = _rule_starts(text)
    rules: list[Rule] = []
    for index, table in enumerate(tables):
        start = starts[index] if index < len(starts) else 1
        end = starts[index + 1] - 1 if index + 1 < len(starts) else len(text.splitlines())
        try:
            rule = Rule.model_validate(table)
        except ValidationError as error:
            problem = error.errors()[0]
            key = str(problem["loc"][0]) if problem["loc"] else ""
            line = _line_of_key(text, key, start, end) if key else start
            label = f"{key}: " if key else ""
            raise RulesError(f"{where}:{line}: rule {index + 1}: {label}{_message(problem)}") from None
        if any(r.name == rule.name for r in rules):
            line = _line_of_key(text, "name", start, end)
            raise RulesError(f"{where}:{line}: rule {index + 1}: name {rule.name!r} is already used")
        rules.append(rule)
    return rules


def _message(problem: dict[str, object]) -> str:
    if problem["type"] == "extra_forbidden":
        return "unknown key (see docs/bot.md for the keys a rule takes)"
    if problem["type"] == "missing":
        return "missing"
    return str(problem["msg"]).removeprefix("Value error, ")


def _rule_starts(text: str) -> list[int]:
    """1-based line of each ``[[rule]]`` header."""
    return [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[\s*rule\s*\]\]", line)]


def _line_of_key(text: str, key: str, start: int, end: int) -> int:
    """The line of ``key = ...`` between lines start and end (the table's start when not written there)."""
    pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        if start <= number <= end and pattern.match(line):
            return number
    return max(start, 1)
