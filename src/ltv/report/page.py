"""Assemble the report page: one section per dashboard (exposure), each a few charts or a note
saying why there is nothing to draw."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ltv.report import charts, curves


@dataclass
class Chart:
    chart_id: str
    title: str
    svg: str
    caption: str = ""


@dataclass
class Note:
    text: str


@dataclass
class Table:
    html: str  # rendered by pandas, its values escaped


@dataclass
class Section:
    section_id: str  # the anchor the exposures' url points at: keep in step with models/marts/_exposures.yml
    title: str
    intro: str
    parts: list = field(default_factory=list)


def is_empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or frame.empty


def champion_of(versions: pd.DataFrame | None):
    if is_empty(versions) or "is_champion" not in versions:
        return None
    champions = versions.loc[versions["is_champion"].fillna(False).astype(bool), "model_version"]
    return champions.iloc[0] if len(champions) else None


def value_section(tables: dict) -> Section:
    section = Section("customer-value", "Customer value",
                      "How well each user-value version ranks and sizes the spend of users it never saw "
                      "(the holdout), and what the served (champion) version says per segment.")
    versions, holdout = tables["fct_user_value_versions"], tables["fct_user_value_holdout"]
    champion = champion_of(versions)
    if not is_empty(versions):
        section.parts.append(versions_table(versions))
        section.parts.append(champion_note(versions, champion))
    if is_empty(holdout):
        section.parts.append(Note("No holdout users were measured (fewer labelled users than "
                                  "ltv_min_labelled_users, or no completed orders): gains, lift and "
                                  "calibration are undefined."))
    else:
        section.parts.extend(holdout_charts(holdout, champion))
    section.parts.append(segment_part(tables["fct_segment_summary"]))
    return section


def versions_table(versions: pd.DataFrame) -> Table:
    shown = [column for column in ("model_version", "holdout_users", "holdout_rmse", "baseline_rmse",
                                   "holdout_normalized_gini", "holdout_top20_capture", "beats_baseline",
                                   "is_champion") if column in versions]
    table = versions.sort_values("model_version")[shown].to_html(
        index=False, na_rep="NULL", float_format=lambda value: f"{value:,.3f}", classes="figures", border=0)
    return Table(table)


def holdout_charts(holdout: pd.DataFrame, champion) -> list:
    # A version that did not fit has no prediction for the holdout: it has no curve, rather than a wrong one.
    measured = holdout.dropna(subset=["predicted_spend", "actual_spend"])
    by_version = {version: rows for version, rows in measured.groupby("model_version", sort=True)}
    if not by_version:
        return [Note("No version predicted the held-out users: gains, lift and calibration are undefined.")]
    gains = {version: curves.thinned(curves.cumulative_gains(rows)) for version, rows in by_version.items()}
    gains = {version: curve for version, curve in gains.items() if not curve.empty}
    deciles = {version: curves.decile_summary(rows) for version, rows in by_version.items()}
    users = len(next(iter(by_version.values())))
    parts = []
    if gains:
        parts.append(Chart("value-gains", "Cumulative gains on the holdout", charts.gains_chart(
            gains, champion, "value-gains"), f"{users:,} held-out users per version; the steeper, the better."))
        parts.append(Chart("value-lift", "Lift by predicted decile", charts.lift_chart(
            deciles, champion, "value-lift"), "How many times the average spend each predicted tenth earned."))
    else:
        parts.append(Note("The held-out users spent nothing in the horizon: there is no spend to rank, "
                          "so gains and lift are undefined."))
    parts.append(Chart("value-calibration", "Predicted against actual spend by decile (calibration)",
                       charts.calibration_chart(deciles, champion, "value-calibration"),
                       "On the dashed line, the predicted amounts are right on average."))
    return parts


def champion_note(versions: pd.DataFrame, champion) -> Note:
    if champion is None:
        return Note("No version is marked champion in fct_user_value_versions.")
    reasons = versions.loc[versions["model_version"] == champion, "champion_reason"] \
        if "champion_reason" in versions else pd.Series(dtype=object)
    reason = reasons.dropna().iloc[0] if len(reasons.dropna()) else "no reason recorded"
    return Note(f"Served: v{champion} ({reason}).")


# The segment value column, by the names it has had; a renamed column is still found.
SEGMENT_VALUE_COLUMNS = ("total_predicted_spend", "expected_value")


def segment_part(segments: pd.DataFrame | None):
    if is_empty(segments) or "segment" not in segments or "users" not in segments:
        return Note("No segments: fct_segment_summary is empty or absent.")
    value_column = next((column for column in SEGMENT_VALUE_COLUMNS if column in segments), None)
    if value_column is None:
        return Note("fct_segment_summary has no predicted-value column to chart.")
    return Chart("segments", "Segments: size and predicted value",
                 charts.segment_chart(segments.fillna({value_column: 0}), value_column, "segments"),
                 f"{int(segments['users'].sum()):,} users; value from the champion's predictions.")


def recommendation_section(tables: dict) -> Section:
    section = Section("recommendations", "Recommendations",
                      "Offline quality of each item-similarity version on purchases held out after the "
                      "cut-off, against recommending the most popular items.")
    versions, runs = tables["fct_recommendation_versions"], tables["fct_model_runs"]
    if is_empty(versions):
        section.parts.append(Note("No recommendation version was evaluated."))
    elif versions["ndcg_at_10"].isna().all():
        statuses = sorted(set(versions["metric_status"].dropna())) if "metric_status" in versions else []
        section.parts.append(Note("No recommendation version could be measured offline"
                                  + (f" ({', '.join(statuses)})" if statuses else "")
                                  + ": NDCG@10 and coverage are undefined."))
    else:
        section.parts.append(Chart("recommendation-quality", "NDCG@10 and catalogue coverage by version",
                                   charts.recommendation_chart(recommendation_bars(versions, runs),
                                                               "recommendation-quality"),
                                   "Grey: the popularity baseline."))
    section.parts.append(personal_share_note(tables["fct_user_recommendations"]))
    return section


def recommendation_bars(versions: pd.DataFrame, runs: pd.DataFrame | None) -> pd.DataFrame:
    """One bar per version plus the popularity baseline: label, ndcg_at_10, catalogue_coverage."""
    latest = curves.latest_runs(runs, "item_similarity") if not is_empty(runs) else pd.DataFrame()
    coverage = (dict(zip(latest["run_key"], latest["catalogue_coverage"], strict=True))
                if "catalogue_coverage" in latest else {})
    rows = []
    for version in versions.sort_values("model_version").itertuples():
        label = f"v{version.model_version} {getattr(version, 'method', '') or ''}".strip()
        champion = getattr(version, "is_champion", False)
        if pd.notna(champion) and bool(champion):
            label += " ★"
        rows.append((label, version.ndcg_at_10, coverage.get(str(version.model_version))))
    baseline = versions["baseline_ndcg_at_10"].dropna() if "baseline_ndcg_at_10" in versions else pd.Series()
    if len(baseline):
        rows.append(("popularity", baseline.iloc[0], coverage.get("popularity")))
    return pd.DataFrame(rows, columns=["label", "ndcg_at_10", "catalogue_coverage"]).astype(
        {"ndcg_at_10": float, "catalogue_coverage": float})


def personal_share_note(recommendations: pd.DataFrame | None) -> Note:
    if is_empty(recommendations) or not {"user_id", "is_fallback"} <= set(recommendations):
        return Note("No recommendations are served.")
    per_user = recommendations.groupby("user_id")["is_fallback"].all()  # already one row per user when read
    personal = int((~per_user.fillna(True).astype(bool)).sum())
    return Note(f"{personal:,} of {len(per_user):,} users ({personal / len(per_user):.1%}) get personal "
                "recommendations; the others get the most popular items.")


def experience_section(tables: dict) -> Section:
    section = Section("customer-experience", "Customer experience",
                      "Sentiment of reviews and support messages, per text source and model version.")
    sentiment = tables["fct_text_sentiment"]
    if is_empty(sentiment) or sentiment["polarity"].notna().sum() == 0:
        section.parts.append(Note("This shop has no reviews or support messages with text: there is no "
                                  "sentiment to show."))
        return section
    scored = sentiment.dropna(subset=["polarity"])
    section.parts.append(Chart("sentiment-distribution", "Sentiment distribution by source",
                               charts.sentiment_distribution_chart(scored, "sentiment-distribution")))
    monthly = curves.sentiment_by_month(scored)
    if monthly.empty:
        section.parts.append(Note("No scored text carries a date: sentiment over time is undefined."))
    else:
        section.parts.append(Chart("sentiment-over-time", "Mean sentiment per month",
                                   charts.sentiment_time_chart(monthly, "sentiment-over-time")))
    return section


def quality_section(tables: dict) -> Section:
    section = Section("model-quality", "Model quality over time",
                      "The headline holdout metric of every fit in the run registry, per model family and "
                      "version, across builds (a reused fit adds no point).")
    runs = tables["fct_model_runs"]
    series = curves.quality_over_time(runs) if not is_empty(runs) else {}
    if not series:
        section.parts.append(Note("The run registry holds no measured fit yet."))
    else:
        section.parts.append(Chart("model-quality", "Holdout metric per fit", charts.quality_chart(
            series, "model-quality"), ", ".join(f"{name}: {metric}" for name, (metric, _) in series.items())))
    return section


def data_quality_section(tables: dict) -> Section:
    section = Section("data-quality", "Raw data quality",
                      "Raw rows that could not be used, by reason and raw table (quarantine_rows).")
    quarantine = tables["quarantine_rows"]
    if quarantine is None:
        section.parts.append(Note("This warehouse file has no quarantine_rows table."))
    elif quarantine.empty:
        section.parts.append(Note("No raw row was quarantined: every raw row was used."))
    else:
        counts = curves.quarantine_counts(quarantine)
        section.parts.append(Chart("quarantine", "Quarantined rows by reason and table",
                                   charts.quarantine_chart(counts, "quarantine"),
                                   f"{len(quarantine):,} quarantined rows in all."))
    return section


def build_sections(tables: dict) -> list[Section]:
    return [value_section(tables), recommendation_section(tables), experience_section(tables),
            quality_section(tables), data_quality_section(tables)]
