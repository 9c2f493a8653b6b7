"""The per-shape comparison `ltv bench --reference` prints: undefined figures say so, verdicts follow the
targets, and the recommendation part reads the same split the warehouse evaluated."""

from __future__ import annotations

import math

import duckdb
import pandas as pd

from ltv.model_comparison import (
    RECOMMENDATION_ROWS,
    VALUE_MODELS,
    recommendation_comparison,
    render_comparison,
)


def _shape(v4_rmse, v2_rmse, targets, champion_ndcg, implicit_ndcg, beats):
    summary = [{"model": "v2", "rmse_mean": v2_rmse, "normalized_gini_mean": 0.5},
               {"model": "v4", "rmse_mean": v4_rmse, "normalized_gini_mean": 0.7},
               {"model": "baseline_rfm_boosting", "rmse_mean": 300.0, "normalized_gini_mean": 0.6}]
    return {"value": {"summary": summary, "champion": "v4", "targets": targets},
            "recommendations": {"champion": champion_ndcg, "implicit_bm25": implicit_ndcg, "implicit_k": 50,
                                "champion_beats_implicit": beats}}


def test_render_comparison_names_every_model_and_says_undefined():
    comparison = {"users": 3000, "seed": 42, "shapes": {
        "retail": _shape(250.0, 260.0, {"rmse_below_v2": True, "gini_above_baseline": True}, 0.29, 0.25, True),
        "ratings": _shape(0.26, math.nan, {"rmse_below_v2": None, "gini_above_baseline": False}, None, None, None),
    }}
    lines = render_comparison(comparison)
    value_header = next(line for line in lines if line.startswith("| shape |") and "champion |" in line and "v4" in line)
    assert all(model in value_header for model in VALUE_MODELS)
    retail, ratings = (line for line in lines if line.startswith(("| retail", "| ratings")) and " / " in line)
    assert "250.00 / 0.700" in retail and "260.00 / 0.500" in retail and retail.endswith("| v4 | yes | yes |")
    # v2 never fitted: NULL, and a target that cannot be judged is 'undefined', not a pass or a fail.
    assert "NULL / 0.500" in ratings and ratings.endswith("| v4 | undefined | **no** |")
    # v1 and v3 are absent from the summary: NULL, not 0.
    assert ratings.count("NULL / NULL") == 2
    recommendation_lines = [line for line in lines if line.count("|") == len(RECOMMENDATION_ROWS) + 4]
    assert recommendation_lines[-2].endswith("| 0.2900 | NULL | 0.2500 | 50 | yes |")
    assert recommendation_lines[-1].endswith("| NULL | NULL | NULL | 50 | undefined |")


def test_equal_figures_read_tie_not_no():
    # Fashion-like shape: every model at Gini 1.0 and every method serving popularity. Strictly better
    # is impossible there, and the table must not read as the model losing; a real loss still reads no.
    tied = _shape(0.0, 0.5, {"rmse_below_v2": True, "gini_above_baseline": False}, 0.31, 0.31, False)
    for row in tied["value"]["summary"]:
        row["normalized_gini_mean"] = 1.0
    lost = _shape(250.0, 260.0, {"rmse_below_v2": True, "gini_above_baseline": False}, 0.20, 0.25, False)
    lines = render_comparison({"users": 3000, "seed": 42, "shapes": {"fashion": tied, "retail": lost}})
    fashion_value, retail_value = (line for line in lines if line.startswith(("| fashion", "| retail")) and " / " in line)
    assert fashion_value.endswith("| v4 | yes | tie |")
    assert retail_value.endswith("| v4 | yes | **no** |")  # unequal figures keep the targets' verdict
    fashion_recs, retail_recs = (line for line in lines if line.startswith(("| fashion", "| retail")) and " / " not in line)
    assert fashion_recs.endswith("| 50 | tie |") and retail_recs.endswith("| 50 | **no** |")


def test_recommendation_comparison_reads_the_warehouse_evaluation(demo_warehouse):
    connection = duckdb.connect(str(demo_warehouse), read_only=True)
    try:
        result = recommendation_comparison(connection)
        evaluated = dict(connection.sql(
            "select model_version, ndcg_at_10 from ml.ml_recommendation_evaluation").fetchall())
        champion = connection.sql("select model_version from fct_recommendation_versions where is_champion").fetchall()
    finally:
        connection.close()
    for row, version in (("v1", "1"), ("v2", "2"), ("v3", "3"), ("popularity", "popularity")):
        assert math.isclose(result[row], evaluated[version])
    assert math.isclose(result["champion"], evaluated[str(champion[0][0])])
    assert 0 < result["implicit_bm25"] < 1 and result["implicit_k"] > 0
    assert result["champion_beats_implicit"] == (result["champion"] > result["implicit_bm25"])


def test_compare_versions_counts_the_splits_a_metric_was_defined_on(monkeypatch):
    from ltv.user_value import comparison

    # Three splits: the Gini is undefined on the second (too few spenders) for both models alike.
    long = pd.DataFrame({
        "seed": [0, 0, 1, 1, 2, 2],
        "model": ["v4", "baseline_rfm_boosting"] * 3,
        "status": ["fitted"] * 6,
        "rmse": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "normalized_gini": [0.5, 0.4, math.nan, math.nan, 0.7, 0.2],
        "top20_capture": [math.nan] * 6,
    })
    monkeypatch.setattr(comparison, "per_seed_metrics", lambda *arguments, **keywords: long)
    summary = comparison.compare_versions(None, None, seeds=range(3))
    assert summary.loc["v4", "seeds"] == 3 and summary.loc["v4", "fitted"] == 3
    assert summary.loc["v4", "rmse_splits"] == 3 and summary.loc["v4", "normalized_gini_splits"] == 2
    assert summary.loc["v4", "normalized_gini_mean"] == 0.6 and summary.loc["v4", "rmse_mean"] == 3.0
    assert math.isclose(summary.loc["baseline_rfm_boosting", "normalized_gini_mean"], 0.3)
    assert summary.loc["v4", "top20_capture_splits"] == 0 and math.isnan(summary.loc["v4", "top20_capture_mean"])
    assert comparison.value_targets(summary) == {"rmse_below_v2": None, "gini_above_baseline": True}
