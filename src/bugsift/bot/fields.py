"""The report fields the bot's `set` rules write, and what counts as "not set" for severity and priority.

Severity and priority are on a tracker's ordered scale (`bugsift.learn.scale.scales`). The tracker fills in a
default by itself ('normal' in Bugzilla, 'Major' in Jira, 'Normal' in Redmine, '--'), which the scale
targets treat as "not set": the bot never writes one, and a report whose field still holds it is the
untriaged report a scale rule may act on.
"""

from __future__ import annotations

from bugsift.learn.scale.scales import (  # is_untouched is also imported from here by the planner
    BY_NAME,
    DEFAULT,
    NOT_SET,
    is_untouched,
    scales_of,
)
from bugsift.store.bot_actions import FIELD_OF_TASK  # noqa: F401 - re-exported: the column each settable task writes

SCALE_TASKS = ("severity", "priority")

def never_written(field: str, kind: str, scale: str | None, level: str) -> bool:
    """Whether a level means "not set" on the model's own scale or in this tracker (its default)."""
    own = BY_NAME.get(scale or "")
    return is_untouched(field, kind, level) or (
        own is not None and own.classify(level)[0] in (DEFAULT, NOT_SET)
    )


def untouched_spellings(field: str, kind: str) -> tuple[str, ...]:
    """The stored values `is_untouched` accepts, as the SQL pre-filter of the candidates needs them."""
    values = {"", "--", "---"}
    for scale in scales_of(field, kind):
        for level in scale.defaults:
            values |= {level, level.lower(), level.upper(), level.capitalize()}
    return tuple(sorted(values))


def levels_of(field: str, kind: str, scale: str | None) -> set[str]:
    """Every level a report of this kind could carry in ``field``: its tracker's scales and the model's."""
    levels = {level for s in scales_of(field, kind) for level in s.levels}
    return levels | set(BY_NAME[scale].levels if scale in BY_NAME else ())


def scale_fits(scale: str, field: str, kind: str) -> bool:
    """Whether a model's answers, on ``scale``, are values this kind of tracker holds in ``field``."""
    return any(s.name == scale for s in scales_of(field, kind))
