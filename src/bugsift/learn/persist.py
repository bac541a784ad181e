"""Model files: skops, never pickle, with an explicit list of the types a model file may contain.

`load_model` refuses a file holding any type outside the trusted list (skops raises
`UntrustedTypesFoundException` before building anything), so a model file cannot run arbitrary code.
The trusted list is `TRUSTED_TYPES` (the kind models) plus the ``TRUSTED_TYPES`` list that each model
module named in `TRUSTED_TYPE_MODULES` declares for its own classes; nothing is trusted by pattern.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import skops.io as sio

# Every type a saved kind model contains, beyond the ones skops trusts by default (builtins, numpy arrays
# and dtypes, scipy sparse matrices, most scikit-learn estimators). Kept explicit on purpose: a new model
# class must be added here, and a test fails until it is.
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.features.ReportFeatures",
    "bugsift.learn.kind.KindClassifier",
    "builtins.float",
    "builtins.int",
    "builtins.str",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int32",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
    "bugsift.learn.vectorizers.CompactTfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._split.StratifiedKFold",
]


# Other model modules that save through `save_model` declare their own ``TRUSTED_TYPES`` list.
TRUSTED_TYPE_MODULES: tuple[str, ...] = (
    "bugsift.learn.component",
    "bugsift.localize.model",
    "bugsift.duplicates.ranker",
    "bugsift.learn.embeddings",
)


def trusted_types() -> list[str]:
    """Every type `load_model` accepts: `TRUSTED_TYPES` plus the lists of `TRUSTED_TYPE_MODULES`."""
    out = list(TRUSTED_TYPES)
    for name in TRUSTED_TYPE_MODULES:
        out += [t for t in importlib.import_module(name).TRUSTED_TYPES if t not in out]
    return out


def save_model(model: Any, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (skops format; conventionally ``*.skops``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    return path


def untrusted_types(path: str | Path) -> list[str]:
    """Types in the file at ``path`` that `load_model` would refuse."""
    allowed = set(trusted_types())
    return [t for t in sio.get_untrusted_types(file=Path(path)) if t not in allowed]


def load_model(path: str | Path) -> Any:
    """Read a model written by `save_model`; raises if the file holds a type outside `trusted_types()`."""
    return sio.load(Path(path), trusted=trusted_types())
