"""ml_user_value vN on Spark: fitted on the driver from a bounded sample of the labelled users, with
the very code the DuckDB build fits with (ltv.user_value.fit_user_value); scored and explained in the
executors' Python workers, batch by batch, by the same score_user_value with the fitted model shipped
to them; what needs every user at once (value deciles, the join with the fit's split) in Spark.

The bound is var ltv_spark_fit_sample_users. Up to it, the fit sees exactly the DuckDB build's rows
and the table equals DuckDB's. Above it, a fixed sample of that many labelled users (by a seeded hash
of user_id, so the same users every build) is fitted on, split into train and holdout and measured as
on DuckDB; the other labelled users are scored like everyone but have split 'not_sampled' and no
cut-off prediction. Collected to the driver: that sample, v4's validation rows of the same users, and
the fit's split (one row per sampled user) going back; never a table that grows with the shop.

What Spark does not get: reuse of unchanged fits (registry.fitted_models is DuckDB's), so v3 fits
v2's part and v4 fits v3's recipe itself, as a DuckDB build with ltv_reuse_unchanged_work false does.
A batch that cannot be scored or explained stops the build with the reason (on DuckDB the version's
table is then empty, or its drivers NULL, and the registry says why): a worker cannot tell the driver.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd

# Above the million users of the largest shop measured so far, whose fits the DuckDB build makes in one
# process: the default changes nothing there; a larger shop is fitted on a sample of this many.
DEFAULT_FIT_SAMPLE_USERS = 1_000_000
# Users ranked together in one window partition for the value deciles (an exact global rank).
RANK_BUCKET_USERS = 1_000_000


def output_schema(version: int) -> str:
    """score_user_value's columns as Spark DDL."""
    from ltv.user_value import output_columns

    def spark_type(column: str) -> str:
        if column in ("model_version", "value_decile"):
            return "bigint"
        if column in ("user_id", "split") or (column.startswith("driver_") and not column.endswith("_contribution")):
            return "string"
        return "double"

    return ", ".join(f"{column} {spark_type(column)}" for column in output_columns(version))


def _labelled(frame):
    """The rows whose label is a finite number (fit_user_value's np.isfinite of the label)."""
    from pyspark.sql import functions as F

    from ltv.user_value import LABEL_COLUMN

    label = F.col(LABEL_COLUMN).cast("double")
    return frame.where(label.isNotNull() & ~F.isnan(label) & (F.abs(label) != float("inf")))


def fit_sample(features_at_cutoff, columns: list[str], bound: int, seed: int) -> tuple:
    """(the labelled users the fit sees, how many are labelled, whether that is a sample): all of
    them up to `bound`, else the `bound` with the smallest seeded hash of user_id (a distributed
    top-k: no more than `bound` rows reach the driver)."""
    from pyspark.sql import functions as F

    labelled = _labelled(features_at_cutoff.select(*columns))
    count = labelled.count()
    if count <= bound:
        return labelled, count, False
    order = F.xxhash64(F.col("user_id").cast("string"), F.lit(seed))
    return labelled.orderBy(order, F.col("user_id").cast("string")).limit(bound), count, True


def _score_batches(batches, fit, columns: list[str]):
    """score_user_value on each batch of features in a worker; the deciles and the split are
    redone in Spark over every user (a batch sees only its own)."""
    from ltv.user_value import score_user_value

    for batch in batches:
        if batch.empty:
            continue
        predictions, run = score_user_value(fit, batch)
        if run["status"] != "fitted" or "drivers not explained" in run["message"]:
            raise RuntimeError(f"user_value v{fit.version} on Spark: {run['message']}")
        yield predictions[columns]


def _split_frame(frames, fit):
    """The fit's split lookup (one row per sampled labelled user) as a Spark DataFrame; NaN (no
    value, as on DuckDB) becomes null."""
    from pyspark.sql import functions as F

    from ltv.user_value import SPLIT_VALUE_COLUMNS

    lookup = fit.split_lookup[["user_id", "split", *SPLIT_VALUE_COLUMNS]]
    schema = "user_id string, split string, " + ", ".join(f"{column} double" for column in SPLIT_VALUE_COLUMNS)
    frame = frames.session.createDataFrame(lookup.astype({"user_id": object, "split": object}), schema)
    return frame.select("user_id", "split", *(F.when(~F.isnan(column), F.col(column)).alias(column)
                                              for column in SPLIT_VALUE_COLUMNS))


def _rank_offsets(scored, users: int):
    """(scored, bucket, offset): scored (persisted when it is read more than once), a column putting
    each user into a range of predicted_spend (higher spend, higher bucket) and the column of the
    number of users in the buckets above it. One bucket up to RANK_BUCKET_USERS users; above, ranges
    from approximate quantiles (ties stay in one bucket)."""
    from pyspark.sql import functions as F

    buckets = max(1, math.ceil(users / RANK_BUCKET_USERS))
    if buckets == 1:
        return scored, F.lit(0), F.lit(0)
    scored = scored.persist()  # scored once, though the bucket bounds and counts read it too
    spend = F.col("predicted_spend")
    bounds = sorted(set(scored.approxQuantile("predicted_spend", [i / buckets for i in range(1, buckets)],
                                              1.0 / (10 * buckets))))
    bucket = sum(((spend > bound).cast("int") for bound in bounds), F.lit(0))
    counts = dict(scored.groupBy(bucket.alias("bucket")).count().collect())
    offsets, above = [], 0
    for index in range(len(bounds), -1, -1):
        offsets.append(above)
        above += counts.get(index, 0)
    offsets.reverse()
    return scored, bucket, F.element_at(F.array(*(F.lit(offset) for offset in offsets)), bucket + 1)


def with_value_deciles(scored, users: int):
    """value_deciles over every user: rank k (0-based) by predicted_spend descending, then user_id,
    gives decile 10 - floor(10k / users). Exact; each bucket of users is ranked in its own window."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if users == 0:
        return scored.withColumn("value_decile", F.lit(None).cast("bigint"))
    scored, bucket, offset = _rank_offsets(scored, users)
    order = Window.partitionBy(bucket).orderBy(F.col("predicted_spend").desc(), F.col("user_id"))
    rank = F.row_number().over(order) - 1 + offset
    decile = F.lit(10) - F.floor(rank * F.lit(10) / F.lit(users)).cast("bigint")
    return scored.withColumn("value_decile", decile.cast("bigint"))


def _split_columns(frames, predictions, fit, features_at_cutoff, sampled: bool):
    """The fit's split per user; 'not_sampled' for labelled users the sample left out, else
    'scoring_only' for users not labelled at the cut-off."""
    from pyspark.sql import functions as F

    from ltv.user_value import LABEL_COLUMN

    joined = predictions.join(_split_frame(frames, fit), "user_id", "left")
    split = F.col("split")
    if sampled:
        labelled = _labelled(features_at_cutoff.select("user_id", LABEL_COLUMN)).select(
            F.col("user_id").cast("string").alias("user_id"), F.lit(True).alias("_labelled"))
        joined = joined.join(labelled, "user_id", "left")
        split = F.when(split.isNull() & F.col("_labelled"), F.lit("not_sampled")).otherwise(split)
    return joined.withColumn("split", F.coalesce(split, F.lit("scoring_only")))


def scored_users(frames, fit, features_latest, features_at_cutoff, sampled: bool):
    """(every user of features_latest scored with the fit in the executors, in score_user_value's
    columns, how many)."""
    from ltv.user_value import REQUIRED_COLUMNS, SPLIT_VALUE_COLUMNS, output_columns

    version = fit.version
    columns = output_columns(version)
    if fit.state is None:
        return frames.session.createDataFrame([], output_schema(version)), 0
    latest = features_latest.select(*REQUIRED_COLUMNS[version])
    users = latest.count()
    # The split lookup stays here: it is joined in Spark, not shipped to every worker.
    shipped = dataclasses.replace(fit, split_lookup=fit.split_lookup.iloc[0:0])
    scored = frames.map_batches(latest, partial(_score_batches, fit=shipped, columns=columns),
                                output_schema(version))
    scored = scored.drop("value_decile", "split", *SPLIT_VALUE_COLUMNS)
    scored = _split_columns(frames, with_value_deciles(scored, users), fit, features_at_cutoff, sampled)
    return scored.select(*columns), users


def _fit(frames, features_at_cutoff, features_at_validation_cutoff, fit_arguments: dict, bound: int):
    """(fit_user_value on the sampled users, whether they are a sample, the labelled users' count)."""
    from ltv.dbt_entrypoints.value_models import _training_columns
    from ltv.user_value import fit_user_value

    columns = _training_columns(fit_arguments["version"])
    sample, labelled_users, sampled = fit_sample(features_at_cutoff, columns, bound, fit_arguments["seed"])
    validation = None
    if features_at_validation_cutoff is not None:
        # Tuning reads only the labelled validation rows of training users (tuning.validation_split).
        validation = _labelled(features_at_validation_cutoff.select(*columns)).join(
            sample.select("user_id"), "user_id", "left_semi").toPandas()
    fit = fit_user_value(sample.toPandas(), features_at_validation_cutoff=validation, **fit_arguments)
    return fit, sampled, labelled_users


def user_value(frames, features_at_cutoff, features_latest, settings: dict, version: int,
               features_at_validation_cutoff, bound: int):
    """ml_user_value vN on Spark: value_models.user_value's table and registry runs (see the module)."""
    from pyspark.sql import functions as F

    from ltv.dbt_entrypoints.common import _as_date
    from ltv.dbt_entrypoints.value_models import _fit_arguments

    fit_arguments = _fit_arguments(settings, version)
    fit, sampled, labelled_users = _fit(frames, features_at_cutoff, features_at_validation_cutoff, fit_arguments,
                                        bound)
    predictions, users = scored_users(frames, fit, features_latest, features_at_cutoff, sampled)
    run = dict(fit.run)
    if fit.state is not None:
        sample_note = (f" (a sample of {bound} of the {labelled_users} labelled users: ltv_spark_fit_sample_users)"
                       if sampled else "")
        run["message"] = f"{run['message']}{sample_note}, scored {users} users for a {fit.horizon_days}-day horizon"
    if settings:
        for recorded in (run, fit.baseline_run):
            if recorded is not None:
                frames.record_run(recorded, cutoff_date=_as_date(settings["cutoff_date"]),
                                  horizon_days=settings["horizon_days"])
    scoring_date = settings.get("scoring_date")
    as_of = (F.lit(pd.Timestamp(scoring_date).isoformat()) if scoring_date is not None else F.lit(None))
    return predictions.withColumn("features_as_of_date", as_of.cast("timestamp_ntz"))
