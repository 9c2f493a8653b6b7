"""The report's charts: matplotlib figures written as inline SVG.

matplotlib rather than a JavaScript charting library: an SVG drawn at build time needs no script to
be inlined or run, so the page opens offline in any browser, mail client or file preview, and the
picture is the same everywhere. Every function takes the frames of ltv.report.curves and returns the
SVG text of one chart.
"""

from __future__ import annotations

import io
import re

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

WIDTH, HEIGHT = 6.4, 3.6
CHAMPION_STYLE = {"linewidth": 2.8, "zorder": 3}
OTHER_STYLE = {"linewidth": 1.4, "alpha": 0.85}
BASELINE_COLOR = "#888888"


def new_figure(width: float = WIDTH, height: float = HEIGHT) -> Figure:
    # Figure, not pyplot: no global figure registry, nothing to close, safe in a long-lived process.
    return Figure(figsize=(width, height), layout="constrained")


def to_svg(figure: Figure, chart_id: str) -> str:
    """The figure as an <svg> element for inlining (no XML prolog, no timestamp).

    The hash salt is the chart's id so that the clip-path ids of two charts on one page never collide
    (they share one id namespace once inlined) and the same data gives the same file.
    """
    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": chart_id, "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<svg ", f'<svg id="{chart_id}" role="img" ', svg, count=1)


def version_label(version, champion) -> str:
    return f"v{version} (champion)" if champion is not None and str(version) == str(champion) else f"v{version}"


def gains_chart(gains: dict, champion, chart_id: str) -> str:
    """Cumulative gains of every version, the champion drawn bold, against random targeting."""
    figure = new_figure()
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color=BASELINE_COLOR, label="random targeting")
    for version, curve in gains.items():
        style = CHAMPION_STYLE if str(version) == str(champion) else OTHER_STYLE
        axes.plot(curve["share_of_users"], curve["share_of_spend"], label=version_label(version, champion), **style)
    axes.set(xlabel="share of holdout users targeted (highest predicted first)",
             ylabel="share of their actual spend", xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)
    return to_svg(figure, chart_id)


def decile_bars(axes, deciles: dict, champion, column: str) -> None:
    versions = list(deciles)
    width = 0.8 / max(len(versions), 1)
    for position, version in enumerate(versions):
        frame = deciles[version]
        offsets = frame["decile"] - 0.4 + width * (position + 0.5)
        axes.bar(offsets, frame[column], width=width, label=version_label(version, champion),
                 edgecolor="black" if str(version) == str(champion) else "none")
    axes.set_xticks(range(1, 11))
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small")


def lift_chart(deciles: dict, champion, chart_id: str) -> str:
    """Lift per predicted decile: the decile's mean actual spend over the holdout's mean."""
    figure = new_figure()
    axes = figure.add_subplot()
    decile_bars(axes, deciles, champion, "lift")
    axes.axhline(1.0, linestyle="--", color=BASELINE_COLOR)
    axes.set(xlabel="predicted decile (1 = highest predicted tenth)", ylabel="lift (1 = random)")
    return to_svg(figure, chart_id)


def calibration_chart(deciles: dict, champion, chart_id: str) -> str:
    """Mean predicted against mean actual spend per predicted decile; the diagonal is perfect."""
    figure = new_figure(WIDTH, 4.2)
    axes = figure.add_subplot()
    highest = 0.0
    for version, frame in deciles.items():
        style = CHAMPION_STYLE if str(version) == str(champion) else OTHER_STYLE
        axes.plot(frame["mean_predicted"], frame["mean_actual"], marker="o", label=version_label(version, champion),
                  **style)
        highest = max(highest, frame["mean_predicted"].max(), frame["mean_actual"].max())
    axes.plot([0, highest], [0, highest], linestyle="--", color=BASELINE_COLOR, label="predicted = actual")
    axes.set(xlabel="mean predicted spend in the decile", ylabel="mean actual spend in the decile")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return to_svg(figure, chart_id)


def segment_chart(segments: pd.DataFrame, value_column: str, chart_id: str) -> str:
    """Users and total predicted spend per segment, side by side, largest value first."""
    ordered = segments.sort_values(value_column, ascending=True)
    figure = new_figure(WIDTH * 1.3, HEIGHT)
    users_axes, value_axes = figure.subplots(1, 2, sharey=True)
    users_axes.barh(ordered["segment"], ordered["users"], color="#4c72b0")
    users_axes.set(xlabel="users", title="segment size")
    value_axes.barh(ordered["segment"], ordered[value_column], color="#dd8452")
    value_axes.set(xlabel=value_column.replace("_", " "), title="value")
    value_axes.xaxis.set_major_formatter(EngFormatter(sep=""))  # 150k, not 150000 running into 100000
    for axes in (users_axes, value_axes):
        axes.grid(axis="x", alpha=0.3)
    return to_svg(figure, chart_id)


def quality_chart(series: dict, chart_id: str) -> str:
    """One panel per model family: its headline holdout metric per version across builds."""
    figure = new_figure(WIDTH * 1.3, 2.6 * len(series))
    panels = figure.subplots(len(series), 1, squeeze=False, sharex=True)[:, 0]
    builds = pd.concat([runs[["build_number", "built_at"]] for _, runs in series.values()]).drop_duplicates(
        "build_number").sort_values("build_number")
    for axes, (model_name, (metric, runs)) in zip(panels, series.items(), strict=True):
        for version, version_runs in runs.groupby("model_version", sort=True):
            axes.plot(version_runs["build_number"], version_runs[metric], marker="o", label=f"v{version}"
                      if str(version).isdigit() else str(version))
        axes.set(title=model_name, ylabel=metric)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", loc="best")
    panels[-1].set_xticks(builds["build_number"], [f"{moment:%Y-%m-%d %H:%M}" for moment in builds["built_at"]])
    panels[-1].set_xlim(builds["build_number"].min() - 0.5, builds["build_number"].max() + 0.5)
    panels[-1].set_xlabel("build (when it started)")
    figure.autofmt_xdate()
    return to_svg(figure, chart_id)


def recommendation_chart(versions: pd.DataFrame, chart_id: str) -> str:
    """NDCG@10 and catalogue coverage per similarity version, beside the popularity baseline."""
    figure = new_figure(WIDTH * 1.3, HEIGHT)
    ndcg_axes, coverage_axes = figure.subplots(1, 2)
    colors = ["#888888" if label == "popularity" else "#4c72b0" for label in versions["label"]]
    for axes, column in ((ndcg_axes, "ndcg_at_10"), (coverage_axes, "catalogue_coverage")):
        axes.bar(versions["label"], versions[column], color=colors)
        # An undefined figure is no bar of height 0: say so where the bar would be.
        for position, value in enumerate(versions[column]):
            if pd.isna(value):
                axes.annotate("undefined", (position, 0), ha="center", va="bottom", rotation=90, color="#555555")
        axes.grid(axis="y", alpha=0.3)
        axes.tick_params(axis="x", labelrotation=20)
    ndcg_axes.set(title="NDCG@10 (offline, held-out purchases)", ylabel="NDCG@10")
    coverage_axes.set(title="catalogue coverage", ylabel="share of items recommended", ylim=(0, 1))
    return to_svg(figure, chart_id)


def sentiment_distribution_chart(sentiment: pd.DataFrame, chart_id: str) -> str:
    """Histogram of polarity per text source (one panel each), one line per model version."""
    sources = sorted(sentiment["text_source"].unique())
    figure = new_figure(WIDTH * 1.3, 2.4 * len(sources))
    panels = figure.subplots(len(sources), 1, squeeze=False)[:, 0]
    bins = [edge / 10 for edge in range(-10, 11)]
    for axes, source in zip(panels, sources, strict=True):
        texts = sentiment[sentiment["text_source"] == source]
        for version, version_texts in texts.groupby("model_version", sort=True):
            axes.hist(version_texts["polarity"].clip(-1, 1), bins=bins, histtype="step", linewidth=1.6,
                      label=f"v{version} ({len(version_texts):,} texts)")
        axes.set(title=source, ylabel="texts")
        axes.legend(fontsize="small", loc="upper left")
        axes.grid(alpha=0.3)
    panels[-1].set_xlabel("polarity (−1 negative … +1 positive)")
    return to_svg(figure, chart_id)


def sentiment_time_chart(monthly: pd.DataFrame, chart_id: str) -> str:
    """Mean polarity per month, one line per source and version."""
    figure = new_figure(WIDTH * 1.3, HEIGHT)
    axes = figure.add_subplot()
    for (source, version), rows in monthly.groupby(["text_source", "model_version"], sort=True):
        axes.plot(rows["month"], rows["mean_polarity"], marker=".", label=f"{source} v{version}")
    axes.axhline(0.0, color=BASELINE_COLOR, linewidth=0.8)
    axes.set(ylabel="mean polarity", xlabel="month written")
    axes.legend(fontsize="small", ncol=2)
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return to_svg(figure, chart_id)


def quarantine_chart(counts: pd.DataFrame, chart_id: str) -> str:
    """Quarantined rows per reason, stacked by raw table."""
    figure = new_figure(WIDTH * 1.3, max(2.4, 0.45 * len(counts) + 1.2))
    axes = figure.add_subplot()
    left = pd.Series(0, index=counts.index)
    for table in counts.columns:
        axes.barh(counts.index, counts[table], left=left, label=table)
        left = left + counts[table]
    axes.invert_yaxis()
    axes.set(xlabel="quarantined raw rows")
    axes.xaxis.set_major_formatter(EngFormatter(sep=""))
    axes.legend(fontsize="small", title="raw table")
    axes.grid(axis="x", alpha=0.3)
    return to_svg(figure, chart_id)
