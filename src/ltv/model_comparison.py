"""`ltv bench --reference`, model quality: each generated shape against the best single-purpose peers.

For every shape (the bundled demo, the default generator and each real-export shape of
`ltv generate --shape`) the shop is generated at a small size, built once with `dbt build`, and then
measured from the warehouse it produced:

* customer value: v1, v2, the latest version and the served champion against a plain gradient-boosting
  model on the RFM features, each fitted on the same train users and scored on the same holdout,
  averaged over several random holdout splits (one split is one draw; the targets are about means);
* recommendations: every similarity version, the served champion and popularity against implicit's
  BM25 item-kNN with its K chosen on the same time-based validation split, on the same evaluator.

The numbers come from the same functions the dbt models call, fed with the tables the build wrote, so
a shape's row says what a shop of that shape gets from `dbt build`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

# Users per generated shape: enough for a few hundred holdout users, small enough that the six
# builds take a few minutes together.
SHAPE_USERS = 3_000
VALUE_SPLITS = 10


def comparison_shops(data_dir: Path, users: int = SHAPE_USERS, seed: int = 42) -> dict[str, Path | None]:
    """Each shape's raw folder, generated once (cached by shape, size and seed); None is the bundled demo."""
    from ltv.generate import generate_shop
    from ltv.shapes import SHAPES, generate_shaped_shop

    shops: dict[str, Path | None] = {"demo (bundled seeds)": None}
    for shape in ("generated", *SHAPES):
        folder = (data_dir / f"shape-{shape}-{users}-seed{seed}").resolve()
        marker = folder / "complete.json"
        if not marker.exists():
            if shape == "generated":
                generate_shop(users, folder, seed=seed, file_format="parquet")
            else:
                generate_shaped_shop(shape, users, folder, seed=seed)
            marker.write_text(json.dumps({"shape": shape, "users": users, "seed": seed}))
        shops[shape] = folder
    return shops


def build_shop(name: str, raw_dir: Path | None, out_dir: Path, project_dir: Path, log=print) -> Path:
    """`dbt build` of one shop into its own fresh warehouse; raises with dbt's tail if it fails."""
    from ltv.bench import dbt_environment, measured_dbt_run

    folder = (out_dir / name.split()[0]).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / "warehouse.duckdb"
    for leftover in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        leftover.unlink(missing_ok=True)
    environment = dbt_environment(warehouse, raw_dir or Path("."), folder / "target")
    if raw_dir is None:
        environment.pop("LTV_RAW_DIR", None)
    result = measured_dbt_run(["build"], project_dir, environment, f"shape {name}")
    if result["exit_code"] != 0:
        raise RuntimeError(f"dbt build of shape {name} failed:\n" + "\n".join(result["output_tail"]))
    return warehouse


def compare_shop(warehouse: Path, splits: int = VALUE_SPLITS) -> dict:
    """The value and recommendation comparisons of one built shop (see the module docstring)."""
    import duckdb

    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {"value": value_comparison(connection, splits), "recommendations": recommendation_comparison(connection)}
    finally:
        connection.close()


def value_comparison(connection, splits: int) -> dict:
    """Every value version and the plain boosting baseline over `splits` seeded holdout splits, with the
    served champion of the build named, and the issue's two targets judged on the means."""
    from ltv.user_value.comparison import compare_versions, value_targets

    horizon_days = int(connection.sql("select horizon_days from intermediate.int_model_settings").fetchall()[0][0])
    summary = compare_versions(
        connection.sql("select * from intermediate.int_user_features_at_validation_cutoff").df(),
        connection.sql("select * from intermediate.int_user_features_at_cutoff").df(),
        seeds=range(splits), horizon_days=horizon_days)
    champion = connection.sql("select model_version from fct_user_value_versions where is_champion").fetchall()
    return {"summary": summary.reset_index(names="model").to_dict("records"),
            "champion": f"v{champion[0][0]}" if champion else None,
            "targets": value_targets(summary)}


def recommendation_comparison(connection) -> dict:
    """NDCG@10 of every similarity version, the champion and popularity beside implicit's BM25."""
    from ltv.recommendation_reference import warehouse_reference_comparison

    return warehouse_reference_comparison(connection)


VALUE_MODELS = ("v1", "v2", "v3", "v4", "baseline_rfm_boosting")
RECOMMENDATION_ROWS = ("v1", "v2", "v3", "champion", "popularity", "implicit_bm25")


def _number(value, digits: int) -> str:
    return "NULL" if value is None or value != value else f"{value:.{digits}f}"


def _verdict(value: bool | None, ours: float | None = None, theirs: float | None = None) -> str:
    """yes / no / undefined, and "tie" where the two figures are equal: on shapes whose data allow no
    difference (every model at the best possible Gini, every method serving popularity) "no" would
    read as a model losing."""
    if value is False and ours is not None and theirs is not None and abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs)):
        return "tie"
    return {True: "yes", False: "**no**", None: "undefined"}[value]


def render_comparison(comparison: dict) -> list[str]:
    """The markdown section of the bench report: one value table and one recommendation table."""
    lines = ["", f"## Model quality per shape ({comparison['users']:,} users a generated shape, seed "
             f"{comparison['seed']})", "",
             f"Customer value: holdout RMSE / normalized Gini, mean over {VALUE_SPLITS} seeded splits "
             "(NULL: never fitted or undefined on this shape).", "",
             "| shape | " + " | ".join(VALUE_MODELS) + " | champion | v4 RMSE < v2 | v4 Gini > baseline |",
             "|---|" + "---|" * (len(VALUE_MODELS) + 3)]
    for name, result in comparison["shapes"].items():
        value = {row["model"]: row for row in result["value"]["summary"]}
        cells = [f"{_number(value.get(model, {}).get('rmse_mean'), 2)} / "
                 f"{_number(value.get(model, {}).get('normalized_gini_mean'), 3)}" for model in VALUE_MODELS]
        targets = result["value"]["targets"]

        def mean(model: str, metric: str, value: dict = value) -> float | None:
            figure = value.get(model, {}).get(f"{metric}_mean")
            return None if figure is None or figure != figure else figure

        rmse_verdict = _verdict(targets["rmse_below_v2"], mean("v4", "rmse"), mean("v2", "rmse"))
        gini_verdict = _verdict(targets["gini_above_baseline"], mean("v4", "normalized_gini"),
                                mean("baseline_rfm_boosting", "normalized_gini"))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {result['value']['champion']} | "
                     f"{rmse_verdict} | {gini_verdict} |")
    lines += ["", "Recommendations: NDCG@10 on the holdout after the cut-off; implicit's BM25 item-kNN with K "
              "chosen on the validation split v3 was tuned on.", "",
              "| shape | " + " | ".join(RECOMMENDATION_ROWS) + " | implicit K | champion beats implicit |",
              "|---|" + "---|" * (len(RECOMMENDATION_ROWS) + 2)]
    for name, result in comparison["shapes"].items():
        recommendations = result["recommendations"]
        cells = [_number(recommendations.get(row), 4) for row in RECOMMENDATION_ROWS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {recommendations.get('implicit_k')} | "
                     f"{_verdict(recommendations.get('champion_beats_implicit'), recommendations.get('champion'), recommendations.get('implicit_bm25'))} |")
    return lines


def run_model_comparison(data_dir: Path, out_dir: Path, project_dir: Path, users: int = SHAPE_USERS,
                         seed: int = 42, log=print) -> dict:
    shops = comparison_shops(data_dir, users, seed)
    results = {}
    for name, raw_dir in shops.items():
        started = time.monotonic()
        warehouse = build_shop(name, raw_dir, out_dir / "shapes", project_dir, log=log)
        results[name] = compare_shop(warehouse)
        log(f"compared shape {name}", started)
    return {"users": users, "seed": seed, "shapes": results}
