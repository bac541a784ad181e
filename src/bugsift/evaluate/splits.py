"""Train/test splits for evaluation: time-ordered by default, stratified random or k-fold on request.

All functions return index arrays (``np.intp``, sorted ascending, i.e. in input order) into the
sequences they were given, never copies of the data.

Time-ordered splits put the *newest* reports in the test part, per group (e.g. per Jira project) when
groups are given, so that a model is always judged on reports filed after the ones it learnt from.
Reports without a filing date cannot be placed in time; they always go to the training part.
Thresholds and calibration must be tuned on a part carved out of the training part
(:func:`calibration_split`), never on the test part.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from datetime import UTC, date, datetime

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

__all__ = ["calibration_split", "random_split", "stratified_kfold", "time_split"]


def _as_utc(value: object, position: int) -> datetime | None:
    """Normalise one filing date to an aware UTC datetime; None (or NaT/NaN) means undated."""
    if value is None or value != value:  # value != value catches float NaN and pandas NaT
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"created_at[{position}] is {type(value).__name__}, expected datetime, date or None")


def _check_fraction(name: str, fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {fraction!r}")


def _n_newest(n_dated: int, fraction: float) -> int:
    """Number of newest items of a group that go to the held-out part (rounded half up)."""
    return min(n_dated, math.floor(fraction * n_dated + 0.5))


def time_split(
    created_at: Sequence[datetime | None],
    test_fraction: float = 0.2,
    groups: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split by filing time: the newest ``test_fraction`` of each group is test, the rest is train.

    Per group, round(test_fraction * dated items in the group) newest items go to test (ties in time are
    broken by input order: the later one in the input counts as newer). Undated items go to train.
    Naive datetimes are taken as UTC. Raises ValueError if fewer than 2 items are dated or if either
    part would be empty. Returns ``(train_idx, test_idx)``.
    """
    _check_fraction("test_fraction", test_fraction)
    n = len(created_at)
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} items but created_at has {n}")

    by_group: dict[Hashable, list[tuple[datetime, int]]] = {}
    n_dated = 0
    for i, value in enumerate(created_at):
        when = _as_utc(value, i)
        if when is None:
            continue
        n_dated += 1
        key = groups[i] if groups is not None else None
        by_group.setdefault(key, []).append((when, i))
    if n_dated < 2:
        raise ValueError(f"time_split needs at least 2 dated items, got {n_dated} (of {n})")

    is_test = np.zeros(n, dtype=bool)
    for items in by_group.values():
        items.sort()  # by (time, input position): stable tie-breaking by input order
        n_test = _n_newest(len(items), test_fraction)
        for _, i in items[len(items) - n_test :]:
            is_test[i] = True

    test_idx = np.flatnonzero(is_test)
    train_idx = np.flatnonzero(~is_test)
    if test_idx.size == 0:
        raise ValueError(
            f"test part would be empty: test_fraction={test_fraction} of {n_dated} dated items "
            f"in {len(by_group)} group(s) rounds to 0 in every group"
        )
    if train_idx.size == 0:
        raise ValueError(f"train part would be empty: test_fraction={test_fraction} takes every item")
    return train_idx, test_idx


def calibration_split(
    created_at: Sequence[datetime | None],
    train_idx: Sequence[int] | np.ndarray,
    calibration_fraction: float = 0.2,
    groups: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve the newest ``calibration_fraction`` of a training part (per group) out as a calibration part.

    ``created_at`` and ``groups`` cover the whole data set; ``train_idx`` selects the training part.
    Returns ``(fit_idx, calibration_idx)`` as indices into the whole data set (undated items go to fit).
    """
    train_idx = np.asarray(train_idx, dtype=np.intp)
    if train_idx.ndim != 1:
        raise ValueError("train_idx must be one-dimensional")
    if groups is not None and len(groups) != len(created_at):
        raise ValueError(f"groups has {len(groups)} items but created_at has {len(created_at)}")
    sub_dates = [created_at[i] for i in train_idx]
    sub_groups = [groups[i] for i in train_idx] if groups is not None else None
    try:
        fit_local, calib_local = time_split(sub_dates, calibration_fraction, sub_groups)
    except ValueError as exc:
        raise ValueError(f"cannot carve a calibration part out of the training part: {exc}") from exc
    return np.sort(train_idx[fit_local]), np.sort(train_idx[calib_local])


def _class_counts(y: Sequence[Hashable] | np.ndarray) -> np.ndarray:
    _, counts = np.unique(np.asarray(y), return_counts=True)
    return counts


def stratified_kfold(
    y: Sequence[Hashable] | np.ndarray, k: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, test_idx)`` for k shuffled folds, stratified by ``y``.

    Falls back to plain shuffled KFold (no warning) when some class has fewer than k members.
    """
    n = len(y)
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    if n < k:
        raise ValueError(f"cannot make {k} folds out of {n} items")
    placeholder = np.zeros((n, 1))
    if _class_counts(y).min() >= k:
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(placeholder, np.asarray(y))
    else:
        folds = KFold(n_splits=k, shuffle=True, random_state=seed).split(placeholder)
    for train_idx, test_idx in folds:
        yield np.sort(train_idx).astype(np.intp), np.sort(test_idx).astype(np.intp)


def random_split(
    y: Sequence[Hashable] | np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled split, stratified by ``y`` where possible; returns ``(train_idx, test_idx)``.

    Stratification is used when every class has at least 2 members and both parts can hold every class;
    otherwise the split is a plain shuffled one. The test part has ceil(test_fraction * n) items.
    """
    _check_fraction("test_fraction", test_fraction)
    n = len(y)
    n_test = math.ceil(test_fraction * n)
    if n < 2 or n_test >= n:
        raise ValueError(f"cannot split {n} items with test_fraction={test_fraction}")
    counts = _class_counts(y)
    stratify = None
    if counts.min() >= 2 and n_test >= counts.size and n - n_test >= counts.size:
        stratify = np.asarray(y)
    train_idx, test_idx = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(train_idx).astype(np.intp), np.sort(test_idx).astype(np.intp)
