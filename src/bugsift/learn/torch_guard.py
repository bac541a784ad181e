"""Keep torch out of a process until a model that needs sentence embeddings loads it.

skops builds its list of trusted types at import by walking every scikit-learn module
(`sklearn.utils.all_estimators`); on the way it imports ``sklearn.externals.array_api_compat.torch``,
which imports torch whenever it is installed: 1.6 s and ~300 MB for a CLI run that never encodes a
report. `torch_hidden` makes that one import fail like a missing package (the walk skips such modules);
torch stays importable for `bugsift.learn.embeddings` afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


class _HideTorch(MetaPathFinder):
    """A finder that answers "no such module" for torch and its submodules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"torch is not imported here (bugsift {__name__})", name=fullname)
        return None


@contextmanager
def torch_hidden() -> Iterator[None]:
    """Imports inside the block see torch as not installed, unless it is imported already.

    A finder, not ``sys.modules["torch"] = None``: scipy and scikit-learn test
    ``sys.modules.get("torch")`` for a module object and would fail on a None.
    """
    if "torch" in sys.modules:
        yield
        return
    finder: Any = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
