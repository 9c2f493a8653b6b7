"""What the charts show, computed from the public tables: plain pandas, no drawing.

Each function returns a frame for one chart, or an empty frame when there is nothing to show; the
page then says why instead of drawing an empty chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DECILES = 10

# The one figure per model family that "quality over time" plots; a family not listed here gets the
# first metric it has values for, so a new model shows up without a change here.
HEADLINE_METRICS = {
    "user_value": "normalized_gini",
    "item_similarity": "ndcg_at_10",
    "text_sentiment": "auc_positive_vs_negative",
    "conversation_experience": "r2",
}
REGISTRY_METRICS = (
    "normalized_gini", "ndcg_at_10", "auc_positive_vs_negative", "r2", "spearman", "top20_capture",
    "rmse", "mae", "spearman_with_rating", "precision_at_10", "recall_at_10", "map_at_10", "mse",
)


def rank_by_prediction(frame: pd.DataFrame, predicted: str, key: str) -> pd.DataFrame:
    """Rows ordered best-predicted first; ties broken by `key`, so the order is reproducible."""
    return frame.sort_values([predicted, key], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def cumulative_gains(holdout: pd.DataFrame, predicted: str = "predicted_spend", actual: str = "actual_spend",
                     key: str = "user_id") -> pd.DataFrame:
    """Share of users targeted (best predicted first) against the share of actual spend they earned.

    One row per user plus the origin; empty when the users earned nothing in total (no curve is defined).
    """
    ranked = rank_by_prediction(holdout, predicted, key)
    total = ranked[actual].sum()
    if ranked.empty or not total > 0:
        return pd.DataFrame(columns=["share_of_users", "share_of_spend"], dtype=float)
    shares_of_users = np.arange(len(ranked) + 1) / len(ranked)
    shares_of_spend = np.concatenate([[0.0], ranked[actual].cumsum().to_numpy() / total])
    return pd.DataFrame({"share_of_users": shares_of_users, "share_of_spend": shares_of_spend})


def thinned(curve: pd.DataFrame, max_points: int = 1001) -> pd.DataFrame:
    """At most `max_points` evenly spaced rows of `curve`, first and last kept: a curve over 100,000
    users drawn point by point would make a page of megabytes that looks the same."""
    if len(curve) <= max_points:
        return curve
    positions = np.unique(np.linspace(0, len(curve) - 1, max_points).round().astype(int))
    return curve.iloc[positions].reset_index(drop=True)


def decile_summary(holdout: pd.DataFrame, predicted: str = "predicted_spend", actual: str = "actual_spend",
                   key: str = "user_id") -> pd.DataFrame:
    """Per predicted decile (1 = the tenth predicted highest): users, mean predicted and mean actual
    spend, and lift = the decile's mean actual spend over everyone's (NULL when nobody spent)."""
    columns = ["decile", "users", "mean_predicted", "mean_actual", "lift"]
    if holdout.empty:
        return pd.DataFrame(columns=columns)
    ranked = rank_by_prediction(holdout, predicted, key)
    ranked["decile"] = np.arange(len(ranked)) * DECILES // len(ranked) + 1
    summary = ranked.groupby("decile").agg(users=(key, "size"), mean_predicted=(predicted, "mean"),
                                           mean_actual=(actual, "mean")).reset_index()
    overall = ranked[actual].mean()
    summary["lift"] = summary["mean_actual"] / overall if overall > 0 else np.nan
    return summary[columns]


def headline_metric(runs: pd.DataFrame, model_name: str) -> str | None:
    """The metric plotted for `model_name`: its listed headline, else the first one it has values for."""
    family = runs[runs["model_name"] == model_name]
    candidates = [HEADLINE_METRICS[model_name]] if model_name in HEADLINE_METRICS else []
    candidates += [metric for metric in REGISTRY_METRICS if metric not in candidates]
    for metric in candidates:
        if metric in family and family[metric].notna().any():
            return metric
    return None


def quality_over_time(runs: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """Per model family: its headline metric and the runs that have it (built_at, build_number,
    version, value).

    built_at is when the build that made the fit started (its first fit), so the fits of one build
    line up on one date instead of spreading over the seconds the build took.
    """
    built_at = runs["trained_at"]
    if "invocation_id" in runs:
        built_at = runs.groupby("invocation_id")["trained_at"].transform("min").fillna(built_at)
    # Builds are numbered in time order and plotted evenly: a month between two builds and a minute
    # between two others would otherwise squeeze the points of the close ones into one.
    runs = runs.assign(built_at=built_at, build_number=built_at.rank(method="dense").astype(int))
    series = {}
    for model_name in sorted(runs["model_name"].dropna().unique()):
        metric = headline_metric(runs, model_name)
        if metric is None:
            continue
        family = runs[(runs["model_name"] == model_name) & runs[metric].notna()]
        series[model_name] = (metric, family.assign(model_version=family["model_version"].astype(str))
                              [["built_at", "build_number", "model_version", metric]].sort_values("built_at"))
    return series


def run_key(runs: pd.DataFrame) -> pd.Series:
    """What names a run's variant: its version as text ("2", "popularity"), or its method where it has
    no version (a baseline logged without one)."""
    key = runs["model_version"].astype("string")
    if "method" in runs:
        key = key.fillna(runs["method"].astype("string"))
    return key


def latest_runs(runs: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """The latest run of each variant of `model_name`, with its run_key."""
    family = runs[runs["model_name"] == model_name].sort_values("trained_at")
    family = family.assign(run_key=run_key(family))
    return family.groupby("run_key", sort=False, dropna=False).tail(1)


def sentiment_by_month(sentiment: pd.DataFrame) -> pd.DataFrame:
    """Mean polarity and texts per calendar month, per source and version (texts without a date left out)."""
    dated = sentiment.dropna(subset=["written_at", "polarity"])
    if dated.empty:
        return pd.DataFrame(columns=["text_source", "model_version", "month", "texts", "mean_polarity"])
    month = pd.to_datetime(dated["written_at"]).dt.to_period("M").dt.to_timestamp()
    return (dated.assign(month=month)
            .groupby(["text_source", "model_version", "month"])
            .agg(texts=("polarity", "size"), mean_polarity=("polarity", "mean")).reset_index())


def quarantine_counts(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows per raw table (columns) and reason (rows), most frequent reason first."""
    if quarantine.empty:
        return pd.DataFrame()
    counts = quarantine.groupby(["reason", "source_table"]).size().unstack("source_table", fill_value=0)
    return counts.loc[counts.sum(axis=1).sort_values(ascending=False).index]
