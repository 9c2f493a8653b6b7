"""The report page: its figures against independent computations, its sections for a shop that lacks
data, and, in headless Chromium, that every chart of the demo's report draws without a console error."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import PROJECT_DIR

from ltv.cli import main as ltv_main
from ltv.report import curves
from ltv.report.page import build_sections, recommendation_bars
from ltv.report.render import render_page, write_report
from ltv.report.tables import REPORT_RELATIONS

# The charts the demo's report must draw: it has every kind of data except quarantined rows.
DEMO_CHARTS = {"value-gains", "value-lift", "value-calibration", "segments", "recommendation-quality",
               "sentiment-distribution", "sentiment-over-time", "model-quality"}


# ---- the figures -------------------------------------------------------------------------------

def test_cumulative_gains_orders_by_prediction_and_breaks_ties_by_user():
    holdout = pd.DataFrame({"user_id": ["b", "a", "c", "d"], "predicted_spend": [1.0, 3.0, 2.0, 2.0],
                            "actual_spend": [10.0, 0.0, 30.0, 60.0]})
    gains = curves.cumulative_gains(holdout)
    # By hand: a (3), then c and d tie at 2 (c first by id), then b; total spend 100.
    assert gains["share_of_users"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert gains["share_of_spend"].tolist() == pytest.approx([0, 0, 0.3, 0.9, 1.0])


def test_gains_are_undefined_when_the_holdout_spent_nothing():
    holdout = pd.DataFrame({"user_id": ["a", "b"], "predicted_spend": [1.0, 2.0], "actual_spend": [0.0, 0.0]})
    assert curves.cumulative_gains(holdout).empty
    assert curves.decile_summary(holdout)["lift"].isna().all()


@pytest.mark.parametrize("users", [7, 20, 333])
def test_decile_summary_matches_a_brute_force_split(users):
    generator = np.random.default_rng(users)
    holdout = pd.DataFrame({"user_id": [f"U{index:04d}" for index in range(users)],
                            "predicted_spend": generator.gamma(2.0, 50.0, users),
                            "actual_spend": generator.gamma(1.0, 80.0, users) * generator.integers(0, 2, users)})
    summary = curves.decile_summary(holdout).set_index("decile")
    ranked = holdout.sort_values("predicted_spend", ascending=False).reset_index(drop=True)
    overall = ranked["actual_spend"].mean()
    for decile in range(1, 11):
        # Decile d holds the ranks r with (d-1)/10 <= r/n < d/10.
        members = ranked[[(decile - 1) * users <= rank * 10 < decile * users for rank in range(users)]]
        if members.empty:
            assert decile not in summary.index
            continue
        row = summary.loc[decile]
        assert row["users"] == len(members)
        assert row["mean_predicted"] == pytest.approx(members["predicted_spend"].mean())
        assert row["mean_actual"] == pytest.approx(members["actual_spend"].mean())
        assert row["lift"] == pytest.approx(members["actual_spend"].mean() / overall)
    assert summary["users"].sum() == users


def runs_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_name", "model_version", "invocation_id", "trained_at",
                                       "normalized_gini", "rmse", "ndcg_at_10", "catalogue_coverage"])


def test_quality_over_time_plots_each_familys_headline_metric_at_its_builds_start():
    first, second = pd.Timestamp("2026-01-01 10:00:00"), pd.Timestamp("2026-02-01 10:00:00")
    runs = runs_frame([
        ("user_value", "1", "build-1", first, 0.5, 100.0, None, None),
        ("user_value", "2", "build-1", first + pd.Timedelta(seconds=40), 0.6, 90.0, None, None),
        ("user_value", "2", "build-2", second + pd.Timedelta(seconds=5), 0.7, 80.0, None, None),
        ("item_similarity", "popularity", "build-2", second, None, None, 0.1, 0.04),
        ("new_family", "1", "build-2", second, None, 12.0, None, None),   # only rmse: that is its metric
        ("silent_family", "1", "build-2", second, None, None, None, None),  # nothing measured: no panel
    ])
    series = curves.quality_over_time(runs)
    assert {name: metric for name, (metric, _) in series.items()} == {
        "item_similarity": "ndcg_at_10", "new_family": "rmse", "user_value": "normalized_gini"}
    user_value = series["user_value"][1]
    assert user_value["built_at"].tolist() == [first, first, second]
    assert user_value["build_number"].tolist() == [1, 1, 2]
    assert series["item_similarity"][1]["build_number"].tolist() == [2]  # numbered across families
    assert user_value["normalized_gini"].tolist() == [0.5, 0.6, 0.7]


def test_recommendation_bars_put_each_version_beside_the_popularity_baseline():
    versions = pd.DataFrame({"model_version": [2, 1], "method": ["bm25", "cosine"], "ndcg_at_10": [0.3, 0.2],
                             "baseline_ndcg_at_10": [0.1, 0.1], "is_champion": [True, False]})
    early, late = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")
    runs = runs_frame([
        ("item_similarity", "1", "b1", early, None, None, 0.2, 0.50),
        ("item_similarity", "1", "b2", late, None, None, 0.2, 0.75),  # the latest run's coverage counts
        ("item_similarity", "2", "b2", late, None, None, 0.3, 0.60),
        ("item_similarity", "popularity", "b2", late, None, None, 0.1, 0.02),
    ])
    bars = recommendation_bars(versions, runs)
    assert bars.to_dict("list") == {"label": ["v1 cosine", "v2 bm25 ★", "popularity"],
                                    "ndcg_at_10": [0.2, 0.3, 0.1], "catalogue_coverage": [0.75, 0.60, 0.02]}


def test_sentiment_by_month_and_quarantine_counts_match_hand_counts():
    sentiment = pd.DataFrame({
        "text_source": ["review", "review", "review", "support_message"], "model_version": [1, 1, 1, 1],
        "written_at": pd.to_datetime(["2025-01-03", "2025-01-30", "2025-02-01", None]),
        "polarity": [0.5, -0.1, 0.2, 0.9]})
    monthly = curves.sentiment_by_month(sentiment)
    assert monthly["month"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    assert monthly["texts"].tolist() == [2, 1]
    assert monthly["mean_polarity"].tolist() == pytest.approx([0.2, 0.2])
    quarantine = pd.DataFrame({"source_table": ["orders", "orders", "items", "orders"],
                               "reason": ["duplicate", "unknown_user", "duplicate", "duplicate"]})
    counts = curves.quarantine_counts(quarantine)
    assert counts.index.tolist() == ["duplicate", "unknown_user"]
    assert counts.loc["duplicate"].to_dict() == {"items": 1, "orders": 2}
    assert counts.loc["unknown_user"].to_dict() == {"items": 0, "orders": 1}


# ---- a shop that lacks data ----------------------------------------------------------------------

def section_texts(tables: dict) -> dict[str, str]:
    return {section.section_id: render_page([section], "x", pd.Timestamp("2026-01-01"))
            for section in build_sections(tables)}


def test_a_shop_without_texts_holdout_or_quarantine_gets_notes_not_charts():
    tables = {name: None for name in REPORT_RELATIONS}
    tables["fct_text_sentiment"] = pd.DataFrame(columns=["text_source", "model_version", "written_at", "polarity"])
    tables["fct_user_value_holdout"] = pd.DataFrame(columns=["user_id", "model_version", "predicted_spend",
                                                             "actual_spend"])
    tables["quarantine_rows"] = pd.DataFrame(columns=["source_table", "reason"])
    texts = section_texts(tables)
    assert "<svg" not in "".join(texts.values())
    assert "no reviews or support messages with text" in texts["customer-experience"]
    assert "No holdout users were measured" in texts["customer-value"]
    assert "No raw row was quarantined" in texts["data-quality"]
    assert "no measured fit" in texts["model-quality"]
    assert "No recommendation version was evaluated" in texts["recommendations"]


# ---- the demo, published, and rendered in Chromium -----------------------------------------------

@pytest.fixture(scope="module")
def demo_report(demo_published) -> Path:
    """The report `ltv publish` writes beside the demo's served file."""
    return demo_published.with_name("ltv_report.html")


def test_the_demo_report_is_self_contained_and_has_a_section_per_exposure(demo_report):
    page = demo_report.read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    exposures = yaml.safe_load((PROJECT_DIR / "models/marts/_exposures.yml").read_text())["exposures"]
    for exposure in exposures:
        file_name, anchor = exposure["url"].split("#")
        assert file_name == demo_report.name
        assert f'<section id="{anchor}">' in page, exposure["name"]
    assert set(re.findall(r'data-chart="([^"]+)"', page)) == DEMO_CHARTS


def test_the_demo_reports_lift_equals_sql_over_the_served_file(demo_report):
    connection = duckdb.connect(str(demo_report.with_name("ltv.duckdb")), read_only=True)
    try:
        holdout = connection.execute("select * from fct_user_value_holdout").df()
        # Independently in SQL: rank by prediction (ties by user), decile = rank * 10 // n + 1.
        expected = connection.execute("""
            with ranked as (
                select model_version, actual_spend,
                       (row_number() over (partition by model_version order by predicted_spend desc, user_id) - 1)
                       * 10 // count(*) over (partition by model_version) + 1 as decile,
                       avg(actual_spend) over (partition by model_version) as overall
                from fct_user_value_holdout)
            select model_version, decile, avg(actual_spend) / any_value(overall) as lift
            from ranked group by all order by all""").df()
    finally:
        connection.close()
    assert holdout["model_version"].nunique() >= 3 and len(expected) == 10 * holdout["model_version"].nunique()
    for version, rows in holdout.groupby("model_version"):
        lift = curves.decile_summary(rows)["lift"].to_numpy()
        assert lift == pytest.approx(expected[expected["model_version"] == version]["lift"].to_numpy())
    assert expected[expected["decile"] == 1]["lift"].min() > 1.5  # the demo's models rank: a sanity floor


def chromium_path() -> str | None:
    return os.environ.get("LTV_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def coloured_pixels(png: bytes) -> int:
    """Pixels of a clearly saturated colour: the data marks (matplotlib draws them in colour), never
    the axes, grid or text (black and greys), so a chart with axes but nothing plotted counts ~0."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def rendered_charts(page_path: Path) -> tuple[dict, list[str]]:
    """Open the page in headless Chromium: per chart, its rendered box and its coloured pixels; and
    every console error, page error or failed request."""
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    charts = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            for figure in page.query_selector_all("figure.chart"):
                svg = figure.query_selector("svg")
                box = svg.bounding_box() if svg else None
                charts[figure.get_attribute("data-chart")] = (box or {"width": 0, "height": 0},
                                                              coloured_pixels(svg.screenshot()) if svg else 0)
        finally:
            browser.close()
    return charts, errors


def test_every_chart_of_the_demo_report_draws_in_chromium(demo_report):
    charts, errors = rendered_charts(demo_report)
    assert errors == []
    assert set(charts) == DEMO_CHARTS
    for chart_id, (box, coloured) in charts.items():
        assert box["width"] > 300 and box["height"] > 200, chart_id
        assert coloured > 300, f"{chart_id} drew {coloured} coloured pixels"


def test_the_quarantine_chart_draws_and_a_shop_without_texts_says_so_in_chromium(tmp_path):
    tables = {name: None for name in REPORT_RELATIONS}
    tables["quarantine_rows"] = pd.DataFrame({"source_table": ["orders"] * 3 + ["reviews"],
                                              "reason": ["duplicate", "unknown_user", "duplicate", "invalid_rating"]})
    tables["fct_text_sentiment"] = pd.DataFrame(columns=["text_source", "model_version", "written_at", "polarity"])
    page_path = tmp_path / "report.html"
    page_path.write_text(render_page(build_sections(tables), "x", pd.Timestamp("2026-01-01")))
    charts, errors = rendered_charts(page_path)
    assert errors == []
    assert set(charts) == {"quarantine"} and charts["quarantine"][1] > 300
    assert "no reviews or support messages with text" in page_path.read_text()


def test_ltv_report_rewrites_the_page_of_a_served_file(demo_report, tmp_path):
    out = tmp_path / "elsewhere.html"
    assert ltv_main(["report", "--warehouse", str(demo_report.with_name("ltv.duckdb")), "--out", str(out)]) == 0
    assert set(re.findall(r'data-chart="([^"]+)"', out.read_text())) == DEMO_CHARTS


def test_ltv_report_without_a_warehouse_fails_in_one_line(tmp_path, capsys):
    assert ltv_main(["report", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "ltv report: " in message and "ltv publish" in message


def test_write_report_reads_public_tables_from_any_schema(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    connection = duckdb.connect(str(warehouse))
    connection.execute("create schema analytics")
    connection.execute("create table analytics.quarantine_rows as select 'orders' as source_table, "
                       "'duplicate' as reason, '{}'::json as raw_row")
    connection.close()
    page = write_report(warehouse, tmp_path / "out" / "report.html").read_text()
    assert 'data-chart="quarantine"' in page and "1 quarantined rows in all" in page



def test_a_one_item_catalogue_gets_a_note_with_the_reason_not_empty_bars():
    tables = {name: None for name in REPORT_RELATIONS}
    tables["fct_recommendation_versions"] = pd.DataFrame({
        "model_version": [1, 2], "method": ["cosine", "bm25"], "ndcg_at_10": [None, None],
        "baseline_ndcg_at_10": [None, None], "metric_status": ["degenerate_catalogue"] * 2,
        "is_champion": [True, False]})
    text = section_texts(tables)["recommendations"]
    assert "<svg" not in text and "(degenerate_catalogue): NDCG@10 and coverage are undefined" in text


def test_a_version_without_predictions_gets_no_curve():
    holdout = pd.DataFrame({"user_id": ["a", "b", "c", "a", "b", "c"], "model_version": [1, 1, 1, 2, 2, 2],
                            "predicted_spend": [3.0, 2.0, 1.0, None, None, None],
                            "actual_spend": [5.0, 0.0, 1.0, 5.0, 0.0, 1.0]})
    tables = {name: None for name in REPORT_RELATIONS}
    tables["fct_user_value_holdout"] = holdout
    text = section_texts(tables)["customer-value"]
    assert 'data-chart="value-gains"' in text and ">v1<" in text and ">v2<" not in text
    tables["fct_user_value_holdout"] = holdout[holdout["model_version"] == 2]
    assert "No version predicted the held-out users" in section_texts(tables)["customer-value"]


def test_recommendation_bars_with_integer_versions_and_a_baseline_logged_by_method_only():
    versions = pd.DataFrame({"model_version": [1], "method": ["cosine"], "ndcg_at_10": [0.2],
                             "baseline_ndcg_at_10": [0.1], "is_champion": [pd.NA]})
    runs = pd.DataFrame({"model_name": ["item_similarity"] * 2, "model_version": pd.array([1, None], dtype="Int64"),
                         "method": ["cosine", "popularity"], "trained_at": [pd.Timestamp("2026-01-01")] * 2,
                         "catalogue_coverage": [0.5, 0.03]})
    bars = recommendation_bars(versions, runs)
    assert bars.to_dict("list") == {"label": ["v1 cosine", "popularity"], "ndcg_at_10": [0.2, 0.1],
                                    "catalogue_coverage": [0.5, 0.03]}


def test_a_long_gains_curve_is_thinned_to_evenly_spaced_points_of_the_exact_curve():
    users = 25_000
    holdout = pd.DataFrame({"user_id": [f"U{index:05d}" for index in range(users)],
                            "predicted_spend": np.arange(users, 0, -1, dtype=float),
                            "actual_spend": np.ones(users)})
    curve = curves.cumulative_gains(holdout)
    thin = curves.thinned(curve, 1001)
    assert len(thin) == 1001 and thin.iloc[0].tolist() == [0.0, 0.0] and thin.iloc[-1].tolist() == [1.0, 1.0]
    # Everyone spent 1, best predicted first: the exact curve is the diagonal, and so is every kept point.
    assert thin["share_of_spend"].to_numpy() == pytest.approx(thin["share_of_users"].to_numpy())
    assert thin["share_of_users"].diff().dropna().to_numpy() == pytest.approx(np.full(1000, 1 / 1000), rel=1e-3)
