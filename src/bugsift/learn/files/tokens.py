"""Words of reports, paths and source files, in one shared shape.

Identifiers are kept whole (lower-cased) and also split at camelCase and underscores, so that a report
saying "the table viewer" meets ``TableViewer.java`` and a stack frame ``TableViewer.refresh`` meets both.
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# English stop words and the Java words every file has; neither says where a bug is.
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | frozenset(
    [
        "java",
        "org",
        "com",
        "net",
        "src",
        "main",
        "test",
        "tests",
        "public",
        "private",
        "protected",
        "static",
        "final",
        "void",
        "int",
        "boolean",
        "class",
        "interface",
        "extends",
        "implements",
        "import",
        "package",
        "return",
        "new",
        "null",
        "true",
        "false",
        "this",
        "super",
        "string",
        "if",
        "else",
        "for",
        "while",
        "try",
        "catch",
        "throw",
        "throws",
        "long",
        "char",
        "byte",
        "short",
        "double",
        "float",
        "object",
    ]
)
MAX_CHARS = 20_000


def split_identifier(word: str) -> list[str]:
    """``TableViewerRow_2`` -> ``["table", "viewer", "row"]`` (lower-cased parts of two letters or more)."""
    return [p.lower() for p in _CAMEL.findall(word.replace("$", "_")) if len(p) > 1 and not p.isdigit()]


def text_tokens(text: str) -> list[str]:
    """Words of a report or a source file: whole identifiers plus their camelCase parts, no stop words."""
    out: list[str] = []
    for word in _WORD.findall(text[:MAX_CHARS]):
        whole = word.lower().strip("_$")
        parts = split_identifier(word)
        if len(whole) > 1 and whole not in STOP_WORDS and not whole.isdigit():
            out.append(whole)
        if len(parts) > 1:
            out.extend(p for p in parts if p not in STOP_WORDS)
    return out


def path_tokens(path: str) -> list[str]:
    """Words of a repository path: every directory and the file name, without the extension."""
    stem = path.rsplit(".", 1)[0] if path.endswith(".java") else path
    return text_tokens(stem.replace("/", " ").replace(".", " "))


def class_name(path: str) -> str:
    """``a/b/TableViewer.java`` -> ``TableViewer``."""
    base = path.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def is_test_path(path: str) -> bool:
    """Whether a path looks like test code (a test folder, or a name ending in Test/Tests)."""
    lower = path.lower()
    name = class_name(path)
    return "/test" in lower or lower.startswith("test") or name.endswith(("Test", "Tests", "TestCase"))
