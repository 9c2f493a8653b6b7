"""Conversation experience score v1 (published formula) and v2 (fitted weights)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from ltv.experience import SCORE_COLUMNS, fit_experience, holdout_split, normalize_response_time


def synthetic_conversations(count: int, seed: int) -> pd.DataFrame:
    """Satisfaction driven by response time much more than by sentiment (unequal weights), plus noise."""
    rng = np.random.default_rng(seed)
    hours = rng.exponential(20.0, count)
    sentiment = rng.uniform(-1, 1, count)
    sentiment[rng.random(count) < 0.1] = np.nan  # some conversations had no text
    fast = 1 - np.minimum(hours, 72) / 72
    satisfaction = np.clip(
        np.round(1.2 + 3.2 * fast + 0.4 * np.nan_to_num(sentiment) + rng.normal(0, 0.4, count)), 1, 5
    )
    satisfaction[rng.random(count) < 0.3] = np.nan  # most customers do not rate
    return pd.DataFrame(
        {
            "conversation_id": [f"C{number:05d}" for number in rng.permutation(count)],
            "response_hours": hours,
            "sentiment": sentiment,
            "satisfaction_rating": satisfaction,
        }
    )


def test_normalize_response_time_by_hand():
    hours = pd.Series([0.0, 7.2, 36.0, 72.0, 100.0, -1.0, None])
    expected = [1.0, 0.9, 0.5, 0.0, 0.0, 1.0, None]
    result = normalize_response_time(hours)
    assert result[:6].tolist() == pytest.approx(expected[:6])
    assert pd.isna(result[6])
    assert normalize_response_time(pd.Series([12.0]), cap_hours=24)[0] == pytest.approx(0.5)


def test_v1_formula_by_hand():
    conversations = pd.DataFrame(
        {
            "conversation_id": ["a", "b", "c", "d", "e"],
            "response_hours": [0.0, 36.0, 72.0, 200.0, None],
            "sentiment": [1.0, 0.2, -1.0, None, 0.5],
            "satisfaction_rating": [5, None, 1, 2, 4],
        }
    )
    scores, run = fit_experience(conversations, "v1")
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores["conversation_id"].tolist() == ["a", "b", "c", "d", "e"]
    assert (scores["model_version"] == "v1").all()
    # 0.5 * sentiment + 0.5 * (1 - min(h, 72) / 72); null sentiment counts as 0
    expected_score = [0.5 * 1 + 0.5 * 1, 0.5 * 0.2 + 0.5 * 0.5, 0.5 * -1 + 0.5 * 0, 0.5 * 0 + 0.5 * 0]
    assert scores["experience_score"][:4].tolist() == pytest.approx(expected_score)
    # [-0.5, 1] onto [1, 5]: -0.5 -> 1, 1 -> 5, 0.35 -> 1 + 0.85 * 4 / 1.5
    assert scores["predicted_satisfaction"][:4].tolist() == pytest.approx(
        [5.0, 1 + 0.85 * 4 / 1.5, 1.0, 1 + 0.5 * 4 / 1.5]
    )
    assert scores["normalized_response_time"][:4].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    # no response time: nothing to score
    assert (
        scores.loc[4, ["experience_score", "predicted_satisfaction", "normalized_response_time"]].isna().all()
    )
    # too few ratings for a holdout: v1 still scores, but reports no metrics
    assert run["status"] == "fitted"
    assert run["model_name"] == "conversation_experience" and run["model_version"] == "v1"
    assert "at least 30" in run["message"]
    assert run["metrics"] == {"mse": None, "mae": None, "r2": None}
    assert run["parameters"]["sentiment_weight"] == run["parameters"]["response_time_weight"] == 0.5


def _held_out_by_definition(conversation_id: str, seed: int = 42) -> bool:
    return int(hashlib.md5(f"{seed}:{conversation_id}".encode()).hexdigest()[:8], 16) < 0.2 * 16**8


def test_holdout_split_keeps_each_conversation_on_its_side_as_conversations_arrive():
    ids = [f"C{number:05d}" for number in range(2000)]
    train, holdout = holdout_split(pd.Series(ids[:1000]), seed=42)
    more_train, more_holdout = holdout_split(pd.Series(ids[::-1]), seed=42)  # twice as many, another order
    assert set(holdout) == {conversation_id for conversation_id in ids[:1000] if _held_out_by_definition(conversation_id)}
    assert set(holdout) == set(more_holdout) & set(ids[:1000]) and set(train) == set(more_train) & set(ids[:1000])
    assert list(holdout) == sorted(holdout) and list(train) == sorted(train)
    assert 0.15 < len(more_holdout) / 2000 < 0.25
    # Another seed, another holdout; a few ids where none falls below the limit: the smallest holds out.
    assert set(holdout_split(pd.Series(ids[:1000]), seed=7)[1]) != set(holdout)
    few = [conversation_id for conversation_id in ids if not _held_out_by_definition(conversation_id)][:3]
    smallest = min(few, key=lambda conversation_id: hashlib.md5(f"42:{conversation_id}".encode()).hexdigest())
    assert list(holdout_split(pd.Series(few), seed=42)[1]) == [smallest]
    assert [len(part) for part in holdout_split(pd.Series([], dtype=object), seed=42)] == [0, 0]


def test_v2_coefficients_equal_least_squares_on_the_train_rows():
    conversations = synthetic_conversations(400, seed=1)
    scores, run = fit_experience(conversations, "v2", seed=42)
    assert run["status"] == "fitted"

    # The split, computed again from its definition: held out when the first 8 hex digits of
    # md5("42:<id>") are below 20 % of 16^8.
    rated = conversations[conversations["satisfaction_rating"].notna()]
    held = rated["conversation_id"].map(_held_out_by_definition)
    train = rated.loc[~held.to_numpy()].set_index("conversation_id").sort_index()
    assert run["train_rows"] == len(train) and run["holdout_rows"] == held.sum()
    assert 0.15 < held.mean() < 0.25

    hours = train["response_hours"].to_numpy()
    design = np.column_stack(
        [
            np.ones(len(train)),
            train["sentiment"].fillna(0).to_numpy(),
            1 - np.minimum(hours, 72) / 72,
            np.log1p(hours),
        ]
    )
    solution, *_ = np.linalg.lstsq(design, train["satisfaction_rating"].to_numpy(), rcond=None)
    parameters = run["parameters"]
    assert parameters["intercept"] == pytest.approx(solution[0], abs=1e-8)
    assert [
        parameters["coefficients"][name]
        for name in ("sentiment", "normalized_response_time", "log1p_response_hours")
    ] == pytest.approx(solution[1:], abs=1e-8)

    # scores follow from the coefficients
    everyone = conversations.set_index("conversation_id")
    hours_all = everyone["response_hours"].to_numpy()
    features_all = np.column_stack(
        [
            np.ones(len(everyone)),
            everyone["sentiment"].fillna(0),
            1 - np.minimum(hours_all, 72) / 72,
            np.log1p(hours_all),
        ]
    )
    raw = features_all @ solution
    by_id = scores.set_index("conversation_id").loc[everyone.index]
    assert by_id["predicted_satisfaction"].to_numpy() == pytest.approx(np.clip(raw, 1, 5), abs=1e-8)
    assert by_id["experience_score"].to_numpy() == pytest.approx(np.clip((raw - 3) / 2, -1, 1), abs=1e-8)
    assert by_id["experience_score"].between(-1, 1).all()


def test_v2_beats_v1_on_the_same_holdout():
    conversations = synthetic_conversations(600, seed=2)
    v1_scores, v1_run = fit_experience(conversations, "v1", seed=42)
    v2_scores, v2_run = fit_experience(conversations, "v2", seed=42)
    assert v1_run["holdout_rows"] == v2_run["holdout_rows"] > 0
    assert v2_run["metrics"]["mse"] < v1_run["metrics"]["mse"]
    assert v2_run["metrics"]["r2"] > v1_run["metrics"]["r2"]

    # v1's metrics, recomputed by hand on v2's holdout rows
    rated = conversations[conversations["satisfaction_rating"].notna()]
    holdout_ids = rated.loc[rated["conversation_id"].map(_held_out_by_definition).to_numpy(), "conversation_id"]
    assert len(holdout_ids) == v2_run["holdout_rows"]
    actual = rated.set_index("conversation_id").loc[holdout_ids, "satisfaction_rating"].to_numpy()
    predicted = v1_scores.set_index("conversation_id").loc[holdout_ids, "predicted_satisfaction"].to_numpy()
    assert v1_run["metrics"]["mse"] == pytest.approx(np.mean((predicted - actual) ** 2))
    assert v1_run["metrics"]["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)))
    r2 = 1 - np.sum((predicted - actual) ** 2) / np.sum((actual - actual.mean()) ** 2)
    assert v1_run["metrics"]["r2"] == pytest.approx(r2)


def test_fit_is_deterministic_and_independent_of_row_order():
    conversations = synthetic_conversations(300, seed=3)
    first_scores, first_run = fit_experience(conversations, "v2", seed=7)
    shuffled = conversations.sample(frac=1.0, random_state=0).reset_index(drop=True)
    second_scores, second_run = fit_experience(shuffled, "v2", seed=7)
    assert second_run == first_run
    pd.testing.assert_frame_equal(
        second_scores.set_index("conversation_id").sort_index(),
        first_scores.set_index("conversation_id").sort_index(),
    )
    _, other_seed_run = fit_experience(conversations, "v2", seed=8)
    assert other_seed_run["parameters"] != first_run["parameters"]


def test_v2_is_skipped_with_too_few_ratings():
    conversations = synthetic_conversations(200, seed=4)
    rated = conversations.index[conversations["satisfaction_rating"].notna()]
    conversations.loc[rated[29:], "satisfaction_rating"] = np.nan  # 29 ratings left
    scores, run = fit_experience(conversations, "v2")
    assert run["status"] == "skipped"
    assert "29" in run["message"] and "30" in run["message"]
    assert list(scores.columns) == SCORE_COLUMNS and len(scores) == 0
    assert run["train_rows"] == run["holdout_rows"] == 0


def test_zero_conversations():
    empty = pd.DataFrame(columns=["conversation_id", "response_hours", "sentiment", "satisfaction_rating"])
    for version in ("v1", "v2"):
        scores, run = fit_experience(empty, version)
        assert list(scores.columns) == SCORE_COLUMNS and len(scores) == 0
        assert run["status"] == "skipped" and run["model_version"] == version


def test_bad_input_is_refused():
    conversations = synthetic_conversations(50, seed=5)
    with pytest.raises(ValueError, match="version"):
        fit_experience(conversations, "v3")
    duplicated = pd.concat([conversations, conversations.head(1)])
    with pytest.raises(ValueError, match="unique"):
        fit_experience(duplicated, "v1")
