"""Time-ordered, stratified and random splits."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from bugsift.evaluate.splits import calibration_split, random_split, stratified_kfold, time_split

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def test_time_split_newest_go_to_test():
    dates = [day(5), day(1), day(9), day(3), day(7), day(2), day(8), day(4), day(6), day(0)]
    train, test = time_split(dates, test_fraction=0.2)
    assert test.tolist() == [2, 6]  # days 9 and 8
    assert sorted(train.tolist() + test.tolist()) == list(range(10))
    assert max(dates[i] for i in train) < min(dates[i] for i in test)


def test_time_split_per_group():
    # Project A is old, project B is recent: a global cut would put all of B in test.
    dates = [day(i) for i in range(5)] + [day(100 + i) for i in range(5)]
    groups = ["A"] * 5 + ["B"] * 5
    order = [3, 8, 0, 5, 9, 1, 6, 4, 2, 7]  # shuffle the input order
    dates = [dates[i] for i in order]
    groups = [groups[i] for i in order]
    train, test = time_split(dates, test_fraction=0.4, groups=groups)
    test_items = {(groups[i], dates[i]) for i in test}
    assert test_items == {("A", day(3)), ("A", day(4)), ("B", day(103)), ("B", day(104))}
    for g in "AB":
        newest_train = max(dates[i] for i in train if groups[i] == g)
        oldest_test = min(dates[i] for i in test if groups[i] == g)
        assert newest_train < oldest_test
    # Without groups the newest 4 are all from B.
    _, test_global = time_split(dates, test_fraction=0.4)
    assert {groups[i] for i in test_global} == {"B"}


def test_time_split_ties_broken_by_input_order():
    dates = [day(1)] * 5
    train, test = time_split(dates, test_fraction=0.4)
    assert train.tolist() == [0, 1, 2]
    assert test.tolist() == [3, 4]


def test_time_split_undated_go_to_train():
    dates = [None, day(1), day(2), None, day(3), day(4), float("nan")]
    train, test = time_split(dates, test_fraction=0.25)
    assert test.tolist() == [5]
    assert {0, 3, 6} <= set(train.tolist())


def test_time_split_naive_aware_and_dates_mix():
    dates = [datetime(2021, 1, 1), datetime(2020, 1, 1, tzinfo=UTC), date(2022, 1, 1), day(0)]
    _, test = time_split(dates, test_fraction=0.25)
    assert test.tolist() == [2]


def test_time_split_errors():
    with pytest.raises(ValueError, match="at least 2 dated"):
        time_split([day(1), None, None])
    with pytest.raises(ValueError, match="test part would be empty"):
        time_split([day(1), day(2)], test_fraction=0.2)
    with pytest.raises(ValueError, match="train part would be empty"):
        time_split([day(1), day(2)], test_fraction=0.9)
    with pytest.raises(ValueError, match="between 0 and 1"):
        time_split([day(1), day(2)], test_fraction=1.0)
    with pytest.raises(ValueError, match="groups"):
        time_split([day(1), day(2)], groups=["a"])
    with pytest.raises(TypeError, match="created_at"):
        time_split([day(1), "2020-01-01"])


def test_calibration_split_within_training_part():
    dates = [day(i) for i in range(20)] + [None]
    groups = ["A", "B"] * 10 + ["A"]
    train, test = time_split(dates, test_fraction=0.2, groups=groups)
    fit, calib = calibration_split(dates, train, calibration_fraction=0.25, groups=groups)
    assert set(fit) | set(calib) == set(train)
    assert not set(fit) & set(calib)
    assert not set(calib) & set(test)
    assert 20 in fit  # undated
    for g in "AB":
        assert max(dates[i] for i in fit if groups[i] == g and dates[i]) < min(
            dates[i] for i in calib if groups[i] == g
        )
        assert max(dates[i] for i in calib if groups[i] == g) < min(dates[i] for i in test if groups[i] == g)
    with pytest.raises(ValueError, match="calibration part"):
        calibration_split(dates, [0, 1], calibration_fraction=0.2)


def test_stratified_kfold_partitions_and_stratifies():
    y = np.array(["a"] * 50 + ["b"] * 10)
    folds = list(stratified_kfold(y, k=5, seed=3))
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(60))
    for train, test in folds:
        assert not set(train) & set(test)
        assert (y[test] == "b").sum() == 2


def test_stratified_kfold_falls_back_without_warning():
    y = ["a"] * 20 + ["rare"] * 2  # fewer than k members: StratifiedKFold would warn
    folds = list(stratified_kfold(y, k=5))
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(22))
    with pytest.raises(ValueError):
        list(stratified_kfold(["a", "b"], k=5))


def test_random_split():
    y = np.array(["a"] * 80 + ["b"] * 20)
    train, test = random_split(y, test_fraction=0.2, seed=1)
    assert len(test) == 20 and len(train) == 80
    assert (y[test] == "b").sum() == 4  # stratified
    assert random_split(y, 0.2, seed=1)[1].tolist() == test.tolist()  # reproducible
    y_rare = ["a"] * 9 + ["b"]  # a singleton class cannot be stratified
    train, test = random_split(y_rare, test_fraction=0.3, seed=0)
    assert len(test) == 3 and sorted(train.tolist() + test.tolist()) == list(range(10))
