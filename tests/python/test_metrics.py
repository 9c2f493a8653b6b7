"""Tests for ltv.metrics against hand-computed values and slow, obviously-correct reimplementations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ltv.metrics import MIN_RANKED_SPENDERS, normalized_gini, spearman, top_share_capture, value_metrics


def brute_force_gini(actual: list[float], predicted: list[float]) -> float:
    """Kaggle's Gini written as a plain loop: order by predicted descending (ties by position), then
    sum the gap between the cumulative share of actual value and the share of customers seen."""
    count = len(actual)
    order = sorted(range(count), key=lambda index: (-predicted[index], index))
    total = sum(actual)
    running = 0.0
    gap_sum = 0.0
    for position, index in enumerate(order, start=1):
        running += actual[index]
        gap_sum += running / total - position / count
    return gap_sum / count


def brute_force_normalized_gini(actual: list[float], predicted: list[float]) -> float:
    return brute_force_gini(actual, predicted) / brute_force_gini(actual, actual)


def average_ranks(values: list[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def brute_force_spearman(actual: list[float], predicted: list[float]) -> float:
    return float(np.corrcoef(average_ranks(actual), average_ranks(predicted))[0, 1])


def test_gini_perfect_and_reversed_ranking():
    actual = [10.0, 0.0, 3.0, 7.0, 1.0]
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    # Any order-preserving transformation of the truth is still a perfect ranking.
    assert normalized_gini(actual, [value * 2 + 5 for value in actual]) == pytest.approx(1.0)
    assert normalized_gini(actual, [-value for value in actual]) == pytest.approx(-1.0)


def test_gini_hand_computed_example():
    # Ordered by prediction the actual values are 3, 0, 1, 0: cumulative shares 3/4, 3/4, 1, 1 sum to
    # 3.5, minus (n + 1) / 2 = 2.5, over n = 4 gives 0.25. The best order 3, 1, 0, 0 gives 0.3125.
    assert normalized_gini([3.0, 0.0, 1.0, 0.0], [0.9, 0.4, 0.2, 0.1]) == pytest.approx(0.25 / 0.3125)
    # Here the ranking is as good as chance: cumulative shares 1/4, 1/4, 1, 1 sum to exactly 2.5.
    assert normalized_gini([3.0, 0.0, 1.0, 0.0], [0.2, 0.4, 0.9, 0.1]) == pytest.approx(0.0)


def test_gini_ties_follow_input_order():
    # Both predictions tie, so input order decides: the customer listed first is ranked first.
    assert normalized_gini([0.0, 5.0], [1.0, 1.0]) == pytest.approx(-1.0)
    assert normalized_gini([5.0, 0.0], [1.0, 1.0]) == pytest.approx(1.0)


def test_gini_matches_brute_force_on_random_data_with_ties_and_negatives():
    generator = np.random.default_rng(7)
    for _ in range(20):
        count = int(generator.integers(2, 60))
        actual = np.round(generator.gamma(0.5, 40.0, size=count) - 5.0, 0)
        actual[0] = abs(actual[0]) + 100.0  # keep the total clearly positive
        predicted = np.round(generator.normal(size=count), 1)  # coarse rounding produces ties
        expected = brute_force_normalized_gini(actual.tolist(), predicted.tolist())
        assert normalized_gini(actual, predicted) == pytest.approx(expected, abs=1e-12)


def test_gini_undefined_inputs_return_none_not_zero():
    # 0.0 would read as "no better than chance"; these inputs have no ranking to judge at all.
    assert normalized_gini([], []) is None
    assert normalized_gini([0.0, 0.0, 0.0], [1.0, 2.0, 3.0]) is None  # every label 0
    assert normalized_gini([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) is None  # every label equal
    assert normalized_gini([0.1, 0.1, 0.1], [3.0, 1.0, 2.0]) is None  # equal, not exactly summable
    assert normalized_gini([4.0, -4.0], [1.0, 2.0]) is None  # labels sum to zero
    # One differing label is enough: ordered by prediction the labels are 0, 0, 1, cumulative
    # shares 0, 0, 1 sum to 1, minus (n + 1) / 2 = 2, over n = 3: -1/3. Best order 1, 0, 0: 1/3.
    assert normalized_gini([1.0, 0.0, 0.0], [1.0, 2.0, 3.0]) == pytest.approx(-1.0)


def test_top20_capture_counts_ceil_of_a_fifth():
    actual = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    # n = 10: the top two by prediction are the last two customers, who earned 19 of 55.
    assert top_share_capture(actual, actual) == pytest.approx(19 / 55)
    # n = 6: ceil(1.2) = 2 customers.
    assert top_share_capture([5.0, 1.0, 1.0, 1.0, 1.0, 1.0], [6, 5, 1, 1, 1, 1]) == pytest.approx(6 / 10)
    # n = 15: exactly 3 customers even though 0.2 * 15 is not exactly 3.0 in floating point.
    fifteen = [1.0] * 15
    assert top_share_capture(fifteen, list(range(15))) == pytest.approx(3 / 15)
    # n = 1: the single customer is the top fifth.
    assert top_share_capture([4.0], [0.0]) == pytest.approx(1.0)


def test_top20_capture_ties_follow_input_order_and_undefined_total():
    assert top_share_capture([9.0, 1.0, 0.0, 0.0, 0.0], [1, 1, 1, 1, 1]) == pytest.approx(0.9)
    assert top_share_capture([1.0, 9.0, 0.0, 0.0, 0.0], [1, 1, 1, 1, 1]) == pytest.approx(0.1)
    # A share of a zero total is undefined.
    assert top_share_capture([0.0, 0.0], [1.0, 2.0]) is None
    assert top_share_capture([5.0, -5.0], [1.0, 2.0]) is None
    assert top_share_capture([], []) is None


def test_spearman_matches_average_rank_brute_force():
    generator = np.random.default_rng(3)
    actual = np.round(generator.exponential(3.0, size=40), 0)  # many ties, including zeros
    predicted = np.round(actual + generator.normal(0, 2.0, size=40), 0)
    assert spearman(actual, predicted) == pytest.approx(
        brute_force_spearman(actual.tolist(), predicted.tolist())
    )


def test_spearman_hand_computed():
    # No ties: ranks 1, 2, 3, 4 against 1, 3, 2, 4; squared rank differences sum to 2, so
    # rho = 1 - 6 * 2 / (4 * (4 ** 2 - 1)) = 0.8.
    assert spearman([10.0, 20.0, 30.0, 40.0], [1.0, 3.0, 2.0, 4.0]) == pytest.approx(0.8)
    assert spearman([10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    # Two rows are enough when both sides vary.
    assert spearman([1.0, 2.0], [5.0, 7.0]) == pytest.approx(1.0)


def test_spearman_undefined_inputs_return_none_not_zero():
    assert spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) is None  # constant prediction
    assert spearman([0.0, 0.0, 0.0], [1.0, 2.0, 3.0]) is None  # constant label
    assert spearman([1.0], [2.0]) is None  # fewer than two rows
    assert spearman([], []) is None


def test_value_metrics_hand_computed():
    actual = [0.0, 10.0, 20.0, 30.0, -5.0]
    predicted = [1.0, 12.0, 15.0, 30.0, 0.0]
    metrics = value_metrics(actual, predicted)
    errors = [1.0, 2.0, -5.0, 0.0, 5.0]
    assert metrics["rmse"] == pytest.approx(math.sqrt(sum(error**2 for error in errors) / 5))
    assert metrics["mae"] == pytest.approx(sum(abs(error) for error in errors) / 5)
    assert metrics["predicted_total"] == pytest.approx(58.0)
    assert metrics["actual_total"] == pytest.approx(55.0)
    assert metrics["rows"] == 5
    # The predictions order the customers exactly as their actual values do.
    assert metrics["spearman"] == pytest.approx(1.0)
    assert metrics["normalized_gini"] == pytest.approx(1.0)
    assert metrics["top20_capture"] == pytest.approx(30.0 / 55.0)  # ceil(0.2 * 5) = 1 customer
    json.dumps(metrics, allow_nan=False)
    assert all(type(value) in (float, int) for value in metrics.values())


def test_value_metrics_zero_rows_and_bad_input():
    metrics = value_metrics([], [])
    assert metrics["rows"] == 0 and metrics["rmse"] is None and metrics["actual_total"] == 0.0
    json.dumps(metrics, allow_nan=False)
    with pytest.raises(ValueError, match="missing"):
        value_metrics([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="values"):
        value_metrics([1.0, 2.0], [1.0])


def test_value_metrics_all_zero_labels_keep_errors_and_null_the_ranking():
    # The shop where nobody spends in the horizon: errors are defined, rankings are not.
    actual = [0.0, 0.0, 0.0, 0.0]
    predicted = [1.0, 3.0, 0.0, 2.0]
    metrics = value_metrics(actual, predicted)
    assert metrics["rmse"] == pytest.approx(math.sqrt((1 + 9 + 0 + 4) / 4))
    assert metrics["mae"] == pytest.approx((1 + 3 + 0 + 2) / 4)
    assert metrics["spearman"] is None
    assert metrics["normalized_gini"] is None
    assert metrics["top20_capture"] is None
    assert metrics["predicted_total"] == pytest.approx(6.0) and metrics["actual_total"] == 0.0
    assert metrics["rows"] == 4
    encoded = json.loads(json.dumps(metrics, allow_nan=False))
    assert encoded["spearman"] is None and encoded["normalized_gini"] is None and encoded["top20_capture"] is None


def test_value_metrics_all_equal_nonzero_labels():
    # Every label 5: Gini and Spearman are undefined (nothing to rank); top-20 % capture is a
    # share of a non-zero total, hence defined: ceil(0.2 * 5) = 1 customer earned 5 of 25.
    metrics = value_metrics([5.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert metrics["spearman"] is None and metrics["normalized_gini"] is None
    assert metrics["top20_capture"] == pytest.approx(5 / 25)
    assert metrics["rmse"] == pytest.approx(math.sqrt((16 + 9 + 4 + 1 + 0) / 5))


def test_chance_gini_spreads_as_one_over_root_three_k_the_reason_for_min_ranked_spenders():
    """MIN_RANKED_SPENDERS rests on the spread of a chance ranking's normalized Gini over k spenders,
    about 1/sqrt(3k): simulated here with the brute-force Gini (random order, k spenders in 200)."""
    generator = np.random.default_rng(7)
    for spenders, expected in [(1, 0.577), (2, 0.408), (MIN_RANKED_SPENDERS, 0.183)]:
        scores = []
        for _ in range(1500):
            actual = [0.0] * 200
            for index in generator.choice(200, size=spenders, replace=False):
                actual[int(index)] = 1.0
            scores.append(brute_force_normalized_gini(actual, generator.random(200).tolist()))
        assert math.isclose(float(np.std(scores)), expected, rel_tol=0.08), spenders
        assert math.isclose(expected, 1 / math.sqrt(3 * spenders), abs_tol=1e-3)
