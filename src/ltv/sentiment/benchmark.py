"""Synthetic review-like texts and the v1 speed benchmark."""

from __future__ import annotations

import random
import resource
import time

from ltv.sentiment.textblob_v1 import score_textblob
from ltv.sentiment.workers import available_cores

_GOOD = [
    "good",
    "great",
    "excellent",
    "comfortable",
    "lovely",
    "perfect",
    "nice",
    "amazing",
    "soft",
    "sturdy",
]
_BAD = ["bad", "terrible", "awful", "poor", "cheap", "uncomfortable", "slow", "disappointing", "flimsy"]
_THINGS = [
    "shoes",
    "trainers",
    "boots",
    "jacket",
    "delivery",
    "packaging",
    "fit",
    "quality",
    "colour",
    "sole",
]
_ADVERBS = ["really", "very", "quite", "extremely", "slightly", "absolutely", "so", "rather", "pretty"]
_ASIDES = [
    "Bought two pairs in EU 42.",
    "Paid 49.99 in the sale.",
    "Arrived on Tuesday.",
    "Love them :)",
    "Would not recommend.",
    "Returned them :(",
    "Thanks!!!",
    "Never again.",
]


def synthetic_review(rng: random.Random, length: int = 300) -> str:
    """A review-like text of about `length` characters (benchmarks and tests; not realistic prose)."""
    sentences: list[str] = []
    size = 0
    while size < length:
        thing, roll = rng.choice(_THINGS), rng.random()
        quality = rng.choice(_GOOD if rng.random() < 0.6 else _BAD)
        if roll < 0.35:
            sentence = f"The {thing} {rng.choice(['is', 'was', 'feels'])} {rng.choice(_ADVERBS)} {quality}."
        elif roll < 0.5:
            sentence = f"The {thing} {rng.choice(['is', 'was', 'isn’t', 'was not'])} {quality} at all."
        elif roll < 0.65:
            sentence = f"{rng.choice(['Not', 'Never', 'Really'])} {quality} {thing}, {rng.choice(['honestly', 'sadly'])}."
        elif roll < 0.8:
            sentence = (
                f"Delivery took {rng.randint(1, 14)} days and the {thing} {rng.choice(['fits', 'broke'])}!"
            )
        else:
            sentence = rng.choice(_ASIDES)
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


def benchmark_textblob(n_texts: int, seed: int = 0, workers: int | None = None) -> dict[str, float]:
    """Time `score_textblob` on `n_texts` distinct synthetic ~300-character reviews.

    Generating the texts is not timed. Returns {"texts", "workers", "seconds" (wall clock),
    "texts_per_second", "cpu_seconds"}; cpu_seconds (this process and its workers) shows the cost
    independent of what else the machine is running.
    """
    rng = random.Random(seed)
    texts = [f"{synthetic_review(rng)} #{number}" for number in range(n_texts)]  # suffix: all distinct
    workers = workers or available_cores()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    score_textblob(texts, workers=workers)
    seconds = time.perf_counter() - started
    return {
        "texts": n_texts,
        "workers": workers,
        "seconds": seconds,
        "texts_per_second": n_texts / seconds,
        "cpu_seconds": _cpu_seconds() - cpu_before,
    }


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
