"""Model files: skops, never pickle, with an explicit list of the types a model file may contain.

`load_model` refuses a file holding any type outside the trusted list (skops raises
`UntrustedTypesFoundException` before building anything), so a model file cannot run arbitrary code.
The trusted list is `TRUSTED_TYPES` (the kind models) plus the ``TRUSTED_TYPES`` list that each model
module named in `TRUSTED_TYPE_MODULES` declares for its own classes; nothing is trusted by pattern.

`save_model` writes a temporary file beside the target and renames it into place only once it is complete,
so a full disk or a crash never leaves a partial model file; `load_model` turns every way a file can fail
to load into a `ModelFileError` that says why.
"""

from __future__ import annotations

import errno
import importlib
import io
import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bugsift.learn.torch_guard import torch_hidden
from bugsift.store.registry import ModelFileError

# The scikit-learn estimators that bugsift's model files hold. skops trusts every scikit-learn estimator
# by default and finds them at import by walking all of scikit-learn (`all_estimators`: about half of a
# CLI prediction's start-up); handed this list instead, its import is cheap and its defaults narrower.
MODEL_ESTIMATORS: tuple[tuple[str, str], ...] = (
    ("sklearn.calibration", "CalibratedClassifierCV"),
    ("sklearn.ensemble", "HistGradientBoostingClassifier"),
    ("sklearn.feature_extraction", "DictVectorizer"),
    ("sklearn.feature_extraction.text", "TfidfTransformer"),
    ("sklearn.feature_extraction.text", "TfidfVectorizer"),
    ("sklearn.isotonic", "IsotonicRegression"),
    ("sklearn.linear_model", "LogisticRegression"),
    ("sklearn.preprocessing", "LabelEncoder"),
    ("sklearn.preprocessing", "StandardScaler"),
    ("sklearn.svm", "LinearSVC"),
)


def _model_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
    """`sklearn.utils.all_estimators`' answer, narrowed to `MODEL_ESTIMATORS`."""
    return [(name, getattr(importlib.import_module(module), name)) for module, name in MODEL_ESTIMATORS]


@contextmanager
def _skops_defaults_narrowed() -> Iterator[None]:
    import sklearn.utils

    walk_everything = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = _model_estimators  # skops reads it once, at import
    try:
        yield
    finally:
        sklearn.utils.all_estimators = walk_everything


with torch_hidden(), _skops_defaults_narrowed():  # torch: see torch_guard
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

_WRITE_CHUNK = 1 << 20  # bytes per os.write: a partial write (a disk filling up) is seen and retried

# Every type a saved kind model contains, beyond the ones skops trusts by default (builtins, numpy arrays
# and dtypes, scipy sparse matrices, most scikit-learn estimators). Kept explicit on purpose: a new model
# class must be added here, and a test fails until it is.
TRUSTED_TYPES: list[str] = [
    "bugsift.learn.features.ReportFeatures",
    "bugsift.learn.kind.model.KindClassifier",
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
    "bugsift.learn.component.model",
    "bugsift.learn.files.model",
    "bugsift.learn.duplicates.ranker",
    "bugsift.learn.embeddings",
    "bugsift.learn.ordinal",
    "bugsift.learn.fix_time.model",
)


# 0.15 made each task a package under bugsift.learn; a file saved before names the old modules. It is read
# with the new names, so an upgrade keeps its models (the trusted list itself names only the new ones).
MOVED_MODULES: dict[str, str] = {
    "bugsift.learn.kind": "bugsift.learn.kind.model",
    "bugsift.learn.component": "bugsift.learn.component.model",
    "bugsift.learn.censored": "bugsift.learn.fix_time.censored",
    "bugsift.learn.fix_time_history": "bugsift.learn.fix_time.history",
    "bugsift.learn.fix_time_model": "bugsift.learn.fix_time.model",
    "bugsift.localize.model": "bugsift.learn.files.model",
    "bugsift.localize.ranker": "bugsift.learn.files.ranker",
    "bugsift.localize.task": "bugsift.learn.files.task",
    "bugsift.duplicates.ranker": "bugsift.learn.duplicates.ranker",
}


def _renamed(node: Any) -> bool:
    """Rename the moved modules in a skops schema, in place; True when any was renamed."""
    changed = False
    if isinstance(node, dict):
        module = node.get("__module__")
        if isinstance(module, str) and module in MOVED_MODULES:
            node["__module__"] = MOVED_MODULES[module]
            changed = True
        for value in node.values():
            changed = _renamed(value) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _renamed(value) or changed
    return changed


def _readable(path: Path) -> Path | bytes:
    """The file as skops should read it: the path itself, or, for a file saved before 0.15, its bytes
    with the moved module names replaced."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
        if not _renamed(schema):
            return path
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as renamed:
            for item in archive.infolist():
                data = json.dumps(schema).encode() if item.filename == "schema.json" else archive.read(item)
                renamed.writestr(item, data)
    return out.getvalue()


def trusted_types() -> list[str]:
    """Every type `load_model` accepts: `TRUSTED_TYPES` plus the lists of `TRUSTED_TYPE_MODULES`."""
    out = list(TRUSTED_TYPES)
    for name in TRUSTED_TYPE_MODULES:
        out += [t for t in importlib.import_module(name).TRUSTED_TYPES if t not in out]
    return out


class RefusedModelFile(ModelFileError, UntrustedTypesFoundException):
    """A model file holding a type outside `trusted_types()` (still skops' exception, for its catchers)."""


class ModelWriteError(OSError):
    """A model file could not be written (nothing is left behind: no partial file, no temporary one)."""


def save_model(model: Any, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (skops format; conventionally ``*.skops``), whole or not at all.

    Raises `ModelWriteError` (an OSError) when the file cannot be written; ``path`` is then untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # same folder: rename is atomic
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            sio.dump(model, _FdWriter(fd))
            os.fsync(fd)  # the data is on disk before the name points at it
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ModelWriteError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    return path


class _FdWriter:
    """The file object skops writes to: every byte goes through os.write, partial writes continue."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            step = os.write(self.fd, view[written : written + _WRITE_CHUNK])
            if step == 0:  # no progress: never loop forever on a device that takes nothing
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += step
        return written


def untrusted_types(path: str | Path) -> list[str]:
    """Types in the file at ``path`` that `load_model` would refuse."""
    allowed = set(trusted_types())
    readable = _readable(Path(path))
    found = (
        sio.get_untrusted_types(data=readable)
        if isinstance(readable, bytes)
        else sio.get_untrusted_types(file=readable)
    )
    return [t for t in found if t not in allowed]


# The registry is in the shared database; the files are not: the usual cause on a second machine.
MISSING = (
    "the file is missing on this machine (with several machines, every host must mount the models "
    "directory at the same path: BUGSIFT_MODELS_PATH, docs/deployment.md)"
)


def load_model(path: str | Path) -> Any:
    """Read a model written by `save_model`.

    Raises `ModelFileError` (a ValueError) saying why when the file is missing, truncated or corrupt, or
    holds a type outside `trusted_types()`.
    """
    path = Path(path)
    try:
        readable = _readable(path)
        if isinstance(readable, bytes):
            return sio.loads(readable, trusted=trusted_types())
        return sio.load(readable, trusted=trusted_types())
    except FileNotFoundError:
        raise ModelFileError(path, MISSING) from None
    except zipfile.BadZipFile as error:
        raise ModelFileError(path, f"the file is truncated or corrupt ({error})") from None
    except UntrustedTypesFoundException as error:
        refused = ", ".join(untrusted_types(path)) or str(error).splitlines()[0]
        raise RefusedModelFile(
            path, f"refused: the file holds types bugsift does not trust: {refused}"
        ) from None
    except OSError as error:
        raise ModelFileError(path, f"the file cannot be read: {error.strerror or error}") from None
    except MemoryError:
        raise
    except Exception as error:  # a damaged archive fails in many ways inside skops: each one means "unusable"
        raise ModelFileError(path, f"the file is damaged: {type(error).__name__}: {error}") from None
