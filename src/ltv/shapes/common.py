"""Helpers shared by the real-shaped shops: random streams, counts and prices with a given profile,
popularity skew, distinct sampling per group, ids, timestamps and writing the files plus `shape.json`.

Every shape builds its tables in memory as Arrow tables (timestamps as `timestamp[s]`, or as text
where the shape says so) and hands them to `write_shop`, which owns the file formats.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
Z90 = 1.2815515655446004  # standard normal quantile of 0.90

# The full raw contract; a shape writes a subset (optional tables and columns may be absent).
CONTRACT_COLUMNS = {
    "users": ("user_id", "signed_up_at", "country"),
    "items": ("item_id", "title", "category", "brand", "price", "description"),
    "orders": ("order_id", "user_id", "ordered_at", "status"),
    "order_items": ("order_id", "item_id", "quantity", "unit_price"),
    "events": ("event_id", "user_id", "item_id", "event_type", "occurred_at"),
    "reviews": ("review_id", "user_id", "item_id", "rating", "comment", "created_at"),
    "support_conversations": ("conversation_id", "user_id", "opened_at", "first_response_at", "message",
                              "satisfaction_rating"),
}
FILE_FORMATS = ("parquet", "csv")

Tables = dict[str, pa.Table]


# --------------------------------------------------------------------------------------------------
# Randomness and distributions
# --------------------------------------------------------------------------------------------------

SHAPE_STREAM_BASE = 1_000  # keeps the shapes' streams apart from the demo generator's (1..4)


def random_generator(seed: int, shape_index: int, stream: int) -> np.random.Generator:
    """One independent stream per (seed, shape, purpose), so parts do not shift each other."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, SHAPE_STREAM_BASE + shape_index, stream])))


def lognormal_from_percentiles(rng: np.random.Generator, p10: float, p50: float, p90: float, size: int) -> np.ndarray:
    """Two-piece lognormal: median p50, and p10 / p90 hit separately (real prices are skewed in log space)."""
    sigma_low = np.log(p50 / p10) / Z90
    sigma_high = np.log(p90 / p50) / Z90
    z = rng.standard_normal(size)
    return p50 * np.exp(np.where(z < 0, z * sigma_low, z * sigma_high))


def prices_from_percentiles(rng: np.random.Generator, p10: float, p50: float, p90: float, size: int) -> np.ndarray:
    """Money rounded to cents, never below one cent (zero prices are placed deliberately, elsewhere)."""
    return np.maximum(np.round(lognormal_from_percentiles(rng, p10, p50, p90, size), 2), 0.01)


def heavy_tail_counts(rng: np.random.Generator, size: int, minimum: int, mean: float, sigma: float,
                      cap: int) -> np.ndarray:
    """Whole numbers >= minimum with the given mean: minimum + floor(lognormal), clipped at cap."""
    extra_mean = max(mean - minimum, 0.0) + 0.5  # flooring takes about half a unit off the mean
    mu = np.log(extra_mean) - sigma**2 / 2
    extra = np.floor(rng.lognormal(mu, sigma, size)).astype(np.int64)
    return np.minimum(minimum + extra, max(cap, minimum))


def counts_with_one_share(rng: np.random.Generator, size: int, one_share: float, mean: float, sigma: float,
                          cap: int) -> np.ndarray:
    """Orders per user: exactly one for `one_share` of users, otherwise 2 + a heavy tail; overall mean `mean`."""
    repeat_mean = (mean - one_share) / (1.0 - one_share)
    repeat = heavy_tail_counts(rng, size, 2, repeat_mean, sigma, cap)
    return np.where(rng.random(size) < one_share, 1, repeat)


def zipf_weights(n: int, top_fraction: float, top_share: float) -> np.ndarray:
    """Popularity weights 1 / rank**s, with s chosen so the top `top_fraction` of items hold `top_share`."""
    if n <= 1:
        return np.ones(max(n, 0))
    ranks = np.arange(1, n + 1, dtype=np.float64)
    n_top = max(1, int(round(n * top_fraction)))
    low, high = 0.0, 8.0
    for _ in range(60):  # bisection: the top share grows with s
        s = (low + high) / 2
        weights = ranks**-s
        if weights[:n_top].sum() / weights.sum() < top_share:
            low = s
        else:
            high = s
    weights = ranks ** -((low + high) / 2)
    return weights / weights.sum()


def popularity(rng: np.random.Generator, n: int, top_fraction: float, top_share: float) -> np.ndarray:
    """Zipf weights in random item order, so popularity is independent of item number and price."""
    return rng.permutation(zipf_weights(n, top_fraction, top_share))


def weighted_draws(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


def sample_distinct(rng: np.random.Generator, counts: np.ndarray, weights: np.ndarray,
                    rounds: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """For each group g, up to counts[g] distinct items drawn by weight (without replacement).

    Each round draws the number still missing per group and drops repeats, so a group ends short only
    if it keeps hitting items it already has. Deduplication sorts (group, item) keys rather than
    hashing them (much faster here). Returns (group, item) sorted by group, then item.
    """
    n_items = len(weights)
    counts = np.minimum(counts, n_items)
    kept = np.empty(0, dtype=np.int64)  # sorted, unique keys group * n_items + item
    have = np.zeros(len(counts), dtype=np.int64)
    for _ in range(rounds):
        need = counts - have
        active = np.flatnonzero(need > 0)
        if active.size == 0:
            break
        groups = np.repeat(active, need[active])
        keys = np.sort(groups * n_items + weighted_draws(rng, weights, len(groups)))
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        if kept.size:
            found = np.minimum(np.searchsorted(kept, keys), kept.size - 1)
            keys = keys[kept[found] != keys]
        kept = np.sort(np.concatenate([kept, keys]))
        have += np.bincount(keys // n_items, minlength=len(counts))
    return kept // n_items, kept % n_items


def constant_text(value: str, size: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), size)


def owners(counts: np.ndarray) -> np.ndarray:
    """Row i of the expanded table belongs to owners(counts)[i]."""
    return np.repeat(np.arange(len(counts)), counts)


def group_starts(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def deterministic_count(share: float, total: int, minimum: int = 0) -> int:
    """round(share * total), at least `minimum`, never more than total."""
    return min(total, max(minimum, int(round(share * total))))


def choose_positions(rng: np.random.Generator, total: int, count: int) -> np.ndarray:
    return np.sort(rng.choice(total, size=count, replace=False)) if count else np.empty(0, dtype=np.int64)


def pick(rng: np.random.Generator, options: tuple[str, ...], size: int, p=None) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=size, p=p)]


# --------------------------------------------------------------------------------------------------
# Ids and timestamps
# --------------------------------------------------------------------------------------------------


def format_ids(numbers: np.ndarray, prefix: str = "", width: int = 0) -> pa.Array:
    """Text ids: '17850' (no width) or 'U000042' (prefix and zero padding), vectorised in Arrow."""
    ids = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string())
    if width:
        ids = pc.utf8_lpad(ids, width=width, padding="0")
    if prefix:
        ids = pc.binary_join_element_wise(prefix, ids, "")
    return ids


def id_width(largest: int, minimum: int = 0) -> int:
    return max(minimum, len(str(int(largest))))


def seconds(moment: str) -> int:
    """'1997-01-01' -> seconds since 1970 (UTC)."""
    return int(np.datetime64(moment, "s").astype(np.int64))


def uniform_seconds(rng: np.random.Generator, low, high, size: int) -> np.ndarray:
    return np.floor(rng.uniform(low, high, size)).astype(np.int64)


def signed_up_before(rng: np.random.Generator, earliest_activity: np.ndarray, max_lead_days: float,
                     window_start: int) -> np.ndarray:
    """Sign-up moments up to max_lead_days before each user's first activity, never before the window
    (drawn inside the room there is, so no pile-up at the window start)."""
    room = np.minimum(max_lead_days * SECONDS_PER_DAY, earliest_activity - window_start)
    return earliest_activity - np.floor(rng.random(len(earliest_activity)) * room).astype(np.int64)


def timestamp_array(utc_seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(utc_seconds, dtype=np.int64).astype("datetime64[s]"))


def offset_text(utc_seconds: np.ndarray, offset_seconds: np.ndarray) -> pa.Array:
    """ISO 8601 local time with its UTC offset: '2011-06-01T10:00:00+01:00' (whole-hour offsets)."""
    local = timestamp_array(np.asarray(utc_seconds) + offset_seconds).cast(pa.string())
    local = pc.replace_substring(local, " ", "T")
    hours = np.asarray(offset_seconds) // SECONDS_PER_HOUR
    suffix = np.where(hours < 0, "-", "+").astype(object) + np.char.zfill(np.abs(hours).astype(str), 2).astype(object)
    return pc.binary_join_element_wise(local, pa.array(suffix + ":00", type=pa.string()), "")


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def for_format(table: pa.Table, file_format: str) -> pa.Table:
    """CSV gets timestamps as 'YYYY-MM-DD HH:MM:SS' text (naive = UTC); Parquet keeps TIMESTAMP columns."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("s")).cast(pa.string()) if file_format == "csv" \
                else column.cast(pa.timestamp("us"))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_file(table: pa.Table, path: Path, file_format: str) -> None:
    """Writes to a hidden temporary name and renames, so an interrupted run leaves no complete-looking file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        if file_format == "parquet":
            pq.write_table(table, partial, compression="zstd")
        else:
            pa_csv.write_csv(table, partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def remove_stale_files(out_dir: Path, keep: set[str]) -> None:
    """Drop contract-table files (either format) and defects.json left by an earlier run in this folder,
    so the folder holds exactly this shop: an absent optional table must really be absent."""
    for table in CONTRACT_COLUMNS:
        for file_format in FILE_FORMATS:
            name = f"{table}.{file_format}"
            if name not in keep:
                (out_dir / name).unlink(missing_ok=True)
    (out_dir / "defects.json").unlink(missing_ok=True)


def check_columns(tables: Tables) -> None:
    for name, table in tables.items():
        unknown = [column for column in table.column_names if column not in CONTRACT_COLUMNS[name]]
        if unknown:
            raise AssertionError(f"{name} has columns outside the contract: {unknown}")


def manifest(shape: str, description: str, n_users: int, seed: int, file_format: str,
             written: dict[str, pa.Table]) -> dict:
    files = {
        name: {"file": f"{name}.{file_format}", "rows": table.num_rows, "columns": table.column_names,
               "types": {field.name: str(field.type) for field in table.schema}}
        for name, table in written.items()
    }
    return {
        "shape": shape,
        "description": description,
        "n_users": n_users,
        "seed": seed,
        "format": file_format,
        "files": files,
        "absent_tables": [name for name in CONTRACT_COLUMNS if name not in written],
        "absent_columns": {name: [column for column in CONTRACT_COLUMNS[name] if column not in table.column_names]
                           for name, table in written.items()},
    }


def write_shop(tables: Tables, out_dir: str | Path, file_format: str, shape: str, description: str,
               n_users: int, seed: int) -> dict[str, int]:
    """Write each table as `<table>.<format>` plus `shape.json`; return rows written per table."""
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be 'parquet' or 'csv', not {file_format!r}")
    check_columns(tables)
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    written = {name: for_format(table, file_format) for name, table in tables.items()}
    for name, table in written.items():
        write_file(table, out_path / f"{name}.{file_format}", file_format)
    remove_stale_files(out_path, {f"{name}.{file_format}" for name in written})
    document = manifest(shape, description, n_users, seed, file_format, written)
    (out_path / "shape.json").write_text(json.dumps(document, indent=2) + "\n")
    return {name: table.num_rows for name, table in written.items()}
