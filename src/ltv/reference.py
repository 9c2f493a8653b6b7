"""The published approach, for comparison in `ltv bench --reference`.

pandas feature code, a dense scikit-learn cosine over items, dense user scores, and TextBlob called
row by row — what the method's notebooks do. It is timed on the same Parquet files ltv reads, and
the item count at which its dense items×items matrix stops fitting in memory is reported.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

# sklearn's cosine_similarity keeps the normalised input and the dense float64 output, and the
# score step needs a dense user-chunk × items block beside it: about three n×n float64 matrices.
DENSE_COPIES = 3


def reference_features(raw_dir: Path) -> pd.DataFrame:
    orders = pd.read_parquet(raw_dir / "orders.parquet")
    lines = pd.read_parquet(raw_dir / "order_items.parquet")
    events = pd.read_parquet(raw_dir / "events.parquet")
    reviews = pd.read_parquet(raw_dir / "reviews.parquet")
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    today = orders["ordered_at"].max()
    lines["amount"] = lines["quantity"] * lines["unit_price"]
    completed = orders[orders["status"] == "completed"].merge(
        lines.groupby("order_id")["amount"].sum().reset_index(), on="order_id")
    per_user = completed.groupby("user_id").agg(first=("ordered_at", "min"), purchases=("order_id", "count"),
                                                spend=("amount", "sum"))
    last_activity = pd.concat([
        orders[["user_id", "ordered_at"]].rename(columns={"ordered_at": "at"}),
        events[["user_id", "occurred_at"]].rename(columns={"occurred_at": "at"}),
        reviews[["user_id", "created_at"]].rename(columns={"created_at": "at"}),
    ]).assign(at=lambda frame: pd.to_datetime(frame["at"])).groupby("user_id")["at"].max()
    features = per_user.join(last_activity.rename("last_activity"), how="outer")
    days_since_first = (today - features["first"]).dt.days
    features["activity"] = 1 / ((today - features["last_activity"]).dt.days + 1)
    features["frequency"] = features["purchases"] / (days_since_first + 1)
    features["amount"] = features["spend"] / (days_since_first + 1)
    return features.fillna(0)


def reference_similarity_and_scores(raw_dir: Path, user_chunk: int = 10_000) -> dict:
    from scipy import sparse
    from sklearn.metrics.pairwise import cosine_similarity

    orders = pd.read_parquet(raw_dir / "orders.parquet", columns=["order_id", "user_id", "status"])
    lines = pd.read_parquet(raw_dir / "order_items.parquet", columns=["order_id", "item_id"])
    bought = lines.merge(orders[orders["status"] == "completed"], on="order_id")[["user_id", "item_id"]].drop_duplicates()
    users = bought["user_id"].astype("category")
    items = bought["item_id"].astype("category")
    incidence = sparse.csr_matrix((np.ones(len(bought)), (users.cat.codes, items.cat.codes)),
                                  shape=(len(users.cat.categories), len(items.cat.categories)))
    started = time.monotonic()
    similarity = cosine_similarity(incidence.T, dense_output=True)
    np.fill_diagonal(similarity, 0)
    similarity_seconds = time.monotonic() - started
    started = time.monotonic()
    for start in range(0, incidence.shape[0], user_chunk):
        scores = incidence[start:start + user_chunk] @ similarity
        scores[incidence[start:start + user_chunk].nonzero()] = -np.inf
        np.argpartition(-scores, 10, axis=1)[:, :10]
    return {"items": incidence.shape[1], "similarity_seconds": similarity_seconds,
            "score_seconds": time.monotonic() - started}


def reference_sentiment(raw_dir: Path) -> tuple[int, float]:
    from textblob import TextBlob

    comments = pd.read_parquet(raw_dir / "reviews.parquet", columns=["comment"])["comment"].dropna().tolist()
    started = time.monotonic()
    for comment in comments:
        TextBlob(comment).sentiment  # noqa: B018 (the call is what is timed)
    return len(comments), time.monotonic() - started


def dense_cosine_memory_gb(n_items: int) -> float:
    return DENSE_COPIES * 8 * n_items * n_items / 1024**3


def largest_dense_catalogue(memory_gb: float) -> int:
    """The most items whose dense cosine (DENSE_COPIES float64 n×n matrices) fits in memory_gb."""
    return int((memory_gb * 1024**3 / (DENSE_COPIES * 8)) ** 0.5)


def run_reference(raw_dir: Path, log=print) -> dict:
    seconds = {}
    started = time.monotonic()
    reference_features(raw_dir)
    seconds["features (pandas)"] = round(time.monotonic() - started, 1)
    log("reference features done", started)
    similarity = reference_similarity_and_scores(raw_dir)
    seconds["item similarity (dense sklearn cosine)"] = round(similarity["similarity_seconds"], 1)
    seconds["recommendation scores (dense)"] = round(similarity["score_seconds"], 1)
    log("reference similarity done")
    texts, sentiment_seconds = reference_sentiment(raw_dir)
    seconds[f"sentiment (TextBlob row by row, {texts:,} texts)"] = round(sentiment_seconds, 1)
    seconds["total"] = round(sum(seconds.values()), 1)
    with open("/proc/meminfo") as handle:
        memory_gb = int(handle.readline().split()[1]) / 1024 / 1024
    notes = [
        f"Dense cosine over {similarity['items']:,} items needs about "
        f"{dense_cosine_memory_gb(similarity['items']):.1f} GB; on this {memory_gb:.0f} GB machine the "
        f"published approach runs out of memory above about {largest_dense_catalogue(memory_gb):,} items "
        f"(50,000 items would need {dense_cosine_memory_gb(50_000):.0f} GB).",
        f"Peak RSS of the reference run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB.",
    ]
    return {"seconds": seconds, "notes": notes, "items": similarity["items"]}
