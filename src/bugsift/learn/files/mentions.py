"""Names a report mentions (stack-trace frames, qualified and plain class names, file names) matched to paths.

* Stack frames ``at org.eclipse.swt.widgets.Table.select(Table.java:123)``: the class, in frame order (the
  top frames are the likeliest), nested classes (``Table$1``) folded into their file.
* Qualified names ``org.eclipse.ui.internal.WorkbenchPage`` anywhere in the text.
* Class-like names (``TableViewer``, ``Display``) and file names (``Table.java``), in the summary and in the
  description separately. A plain capitalized word ("Display") is weaker evidence than a camelCase name.

A name matches a candidate whose file is ``<Name>.java``; a qualified name must also match the folders
(``org/eclipse/swt/widgets/Table.java``). A name that several candidates share counts 1/n for each.
Method names alone cannot be placed without the source text (see `source_text`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from bugsift.learn.files.tokens import class_name

_FRAME = re.compile(r"\bat\s+((?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$<>]*)\s*\(")
_QUALIFIED = re.compile(r"\b((?:[a-z_][\w]*\.){2,}[A-Z][\w$]*)")
_NAME = re.compile(r"\b([A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*)(\.java)?\b")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|^[A-Z]{2,}[a-z]")

MENTION_FEATURES = ("mention_summary", "mention_description", "stack_frame", "qualified_name")


@dataclass
class Mentions:
    stack: list[str] = field(default_factory=list)
    """Qualified class names of stack frames, top frame first, each once."""
    qualified: set[str] = field(default_factory=set)
    summary_names: dict[str, float] = field(default_factory=dict)
    """Class-like names in the summary -> strength (1.0 camelCase or ``X.java``, 0.5 a capitalized word)."""
    description_names: dict[str, float] = field(default_factory=dict)


def _outer_class(qualified: str) -> str:
    return qualified.split("$", 1)[0]


def _names(text: str) -> dict[str, float]:
    names: dict[str, float] = {}
    for match in _NAME.finditer(text):
        name, java = match.group(1), match.group(2)
        strength = 1.0 if java or _CAMEL.search(name) else 0.5
        names[name] = max(names.get(name, 0.0), strength)
    return names


def extract_mentions(title: str, description: str) -> Mentions:
    text = f"{title}\n{description}"
    stack: list[str] = []
    for match in _FRAME.finditer(text):
        parts = match.group(1).split(".")
        # drop the method: frames are package.Class.method
        qualified = _outer_class(".".join(parts[:-1])) if len(parts) > 1 else ""
        if qualified and qualified not in stack:
            stack.append(qualified)
    qualified_names = {_outer_class(q) for q in _QUALIFIED.findall(text)}
    return Mentions(
        stack=stack,
        qualified=qualified_names,
        summary_names=_names(title),
        description_names=_names(description),
    )


class NameIndex:
    """Class name -> file ids of a file table, to place mentioned names quickly."""

    def __init__(self, paths: list[str]) -> None:
        self.paths: list[str] = []
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.extend(paths)

    def extend(self, paths: list[str]) -> None:
        for path in paths:
            self.by_name[class_name(path)].append(len(self.paths))
            self.paths.append(path)

    def qualified(self, name: str) -> list[int]:
        simple = name.rsplit(".", 1)[-1]
        suffix = "/" + name.replace(".", "/") + "."
        return [i for i in self.by_name.get(simple, ()) if ("/" + self.paths[i]).find(suffix) >= 0]


def mention_features(mentions: Mentions, index: NameIndex, candidate_ids: np.ndarray) -> np.ndarray:
    """One row per candidate, columns `MENTION_FEATURES` (0 where a candidate is not mentioned)."""
    values: dict[int, np.ndarray] = {}
    allowed = set(candidate_ids.tolist()) if len(candidate_ids) < 50_000 else None

    def put(ids: list[int], column: int, value: float) -> None:
        ids = [i for i in ids if allowed is None or i in allowed]
        for i in ids:
            row = values.setdefault(i, np.zeros(len(MENTION_FEATURES)))
            row[column] = max(row[column], value / len(ids))

    for names, column in ((mentions.summary_names, 0), (mentions.description_names, 1)):
        for name, strength in names.items():
            put(index.by_name.get(name, []), column, strength)
    for rank, qualified in enumerate(mentions.stack):
        put(index.qualified(qualified), 2, 1.0 / (1.0 + rank))
    for qualified in mentions.qualified:
        put(index.qualified(qualified), 3, 1.0)
    out = np.zeros((len(candidate_ids), len(MENTION_FEATURES)))
    if values:
        position = {int(c): k for k, c in enumerate(candidate_ids)}
        for i, row in values.items():
            k = position.get(i)
            if k is not None:
                out[k] = row
    return out
