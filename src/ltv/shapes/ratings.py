"""Shop C, `ratings`: a film-rating site (1997-09 .. 1998-04) where ratings are the main signal.

Every user rates at least 20 distinct films (about 80 on average, a few hundreds), as star ratings
without comments, centred on 3-4 stars. Each rating is preceded by a few 'view' events of the film.
Buying is rare: about one user in ten has 1-3 completed orders of 1-2 films they rated, at the
site's nominal price of 1.0. Ratings follow a latent taste (film quality, user generosity, genre
affinity), so they carry signal for similarity and recommendations. Ids are plain numbers as text,
users and films both counting from '1', as in the real export.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ltv.shapes.common import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Tables,
    constant_text,
    format_ids,
    group_starts,
    heavy_tail_counts,
    owners,
    pick,
    popularity,
    random_generator,
    sample_distinct,
    seconds,
    signed_up_before,
    timestamp_array,
    uniform_seconds,
)

NAME = "ratings"
DESCRIPTION = ("shop C: film-rating site 1997-09..1998-04, ~80 star ratings per user without comments, "
               "view events before each rating, rare 1-2 line orders at price 1.0, no support")
SHAPE_INDEX = 3

START = seconds("1997-09-20")
END = seconds("1998-04-23")  # exclusive
ITEMS_PER_USER = 1.78
MIN_ITEMS = 40
TOP_ITEM_SHARE = 0.073
MIN_RATINGS, MEAN_RATINGS, RATINGS_SIGMA, MAX_RATINGS = 20, 80.0, 0.9, 560
RATING_SHARE = np.array([0.05, 0.11, 0.27, 0.34, 0.21])
MEDIAN_ACTIVE_DAYS, ACTIVE_DAYS_SIGMA = 2.0, 2.0  # most users rate in a session or two, some for months
MEAN_EXTRA_VIEWS = 1.0  # each rating: 1 + Poisson(1) views of the film before it
MAX_VIEW_LEAD_DAYS = 2
MAX_SIGNUP_LEAD_DAYS = 1
BUYER_SHARE = 0.10
ORDERS_PER_BUYER = (1, 2, 3)
ORDERS_PER_BUYER_SHARE = (0.6, 0.3, 0.1)
TWO_LINE_SHARE = 0.3
PRICE = 1.0
GENRES = ("Drama", "Comedy", "Action", "Thriller", "Romance", "Adventure", "Children's", "Crime", "Sci-Fi",
          "Horror", "War", "Mystery", "Musical", "Documentary", "Animation", "Western", "Film-Noir", "Fantasy")
GENRE_SHARE = np.array([0.25, 0.17, 0.08, 0.08, 0.07, 0.05, 0.04, 0.04, 0.03, 0.03, 0.03, 0.02, 0.02, 0.03,
                        0.02, 0.02, 0.01, 0.01])
TITLE_FIRST = ("The", "A", "Last", "Little", "Dark", "Silent", "Lost", "Wild", "Broken", "Secret", "Midnight",
               "Golden", "Crimson", "Distant", "Paper", "Electric", "Hollow", "Bright")
TITLE_SECOND = ("Harbor", "Road", "City", "Summer", "Garden", "Empire", "River", "Heart", "Game", "Station",
                "Island", "Mirror", "Letter", "Storm", "Kingdom", "Promise", "Affair", "Witness", "Planet")
COUNTRIES = ("US", "CA", "GB")
COUNTRY_SHARE = (0.95, 0.03, 0.02)

STREAM_ITEMS, STREAM_USERS, STREAM_RATINGS, STREAM_EVENTS, STREAM_ORDERS, STREAM_POPULARITY = 1, 2, 3, 4, 5, 6


def build(n_users: int, seed: int) -> Tables:
    n_items = max(MIN_ITEMS, int(round(ITEMS_PER_USER * n_users)))
    items, genre = build_items(n_items, seed)
    weights = popularity(random_generator(seed, SHAPE_INDEX, STREAM_POPULARITY), n_items, 0.01, TOP_ITEM_SHARE)
    users, active_from, active_days = build_users(n_users, seed)
    user, item, created_at, rating = build_ratings(n_users, n_items, weights, genre, active_from, active_days, seed)
    reviews = pa.table({
        "review_id": format_ids(np.arange(1, len(user) + 1)),
        "user_id": format_ids(user + 1),
        "item_id": format_ids(item + 1),
        "rating": pa.array(rating),
        "comment": pa.nulls(len(user), type=pa.string()),
        "created_at": timestamp_array(created_at),
    })
    events = build_events(reviews, user, created_at, active_from, seed)
    orders, order_items = build_orders(n_users, user, item, created_at, active_from, seed)
    return {"users": users, "items": items, "orders": orders, "order_items": order_items,
            "reviews": reviews, "events": events}


def build_items(n_items: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ITEMS)
    genre = rng.choice(len(GENRES), size=n_items, p=GENRE_SHARE / GENRE_SHARE.sum())
    year = rng.integers(1930, 1998, n_items, endpoint=True)
    year = np.where(rng.random(n_items) < 0.6, rng.integers(1990, 1998, n_items, endpoint=True), year)
    title = pick(rng, TITLE_FIRST, n_items) + " " + pick(rng, TITLE_SECOND, n_items) + " (" + year.astype(str) + ")"
    items = pa.table({
        "item_id": format_ids(np.arange(1, n_items + 1)),
        "title": pa.array(title, type=pa.string()),
        "category": pa.array(np.asarray(GENRES, dtype=object)[genre], type=pa.string()),
        "price": pa.array(np.full(n_items, PRICE)),
    })
    return items, genre


def build_users(n_users: int, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Users, the moment each starts rating, and for how long (seconds) they keep rating."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_USERS)
    active_from = uniform_seconds(rng, START, END - SECONDS_PER_DAY, n_users)
    wanted = rng.lognormal(np.log(MEDIAN_ACTIVE_DAYS * SECONDS_PER_DAY), ACTIVE_DAYS_SIGMA, n_users)
    active_days = np.minimum(wanted, END - 1 - active_from).astype(np.int64)
    signed_up = signed_up_before(rng, active_from, MAX_SIGNUP_LEAD_DAYS, START)
    users = pa.table({
        "user_id": format_ids(np.arange(1, n_users + 1)),
        "signed_up_at": timestamp_array(signed_up),
        "country": pa.array(pick(rng, COUNTRIES, n_users, p=COUNTRY_SHARE), type=pa.string()),
    })
    return users, active_from, active_days


def build_ratings(n_users: int, n_items: int, weights: np.ndarray, genre: np.ndarray, active_from: np.ndarray,
                  active_span: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct films per user; stars from a latent score, cut at the quantiles of RATING_SHARE."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_RATINGS)
    wanted = heavy_tail_counts(rng, n_users, MIN_RATINGS, MEAN_RATINGS, RATINGS_SIGMA, min(MAX_RATINGS, n_items))
    user, item = sample_distinct(rng, wanted, weights)
    created_at = active_from[user] + (rng.random(len(user)) * active_span[user]).astype(np.int64)
    quality = rng.normal(0.0, 0.8, n_items)
    generosity = rng.normal(0.0, 0.5, n_users)
    affinity = rng.normal(0.0, 0.4, (n_users, len(GENRES)))
    score = quality[item] + generosity[user] + affinity[user, genre[item]] + rng.normal(0.0, 0.7, len(user))
    cuts = np.quantile(score, np.cumsum(RATING_SHARE)[:-1]) if len(score) else np.zeros(4)
    rating = (1 + np.searchsorted(cuts, score, side="right")).astype(np.int64)
    return user, item, created_at, rating


def build_events(reviews: pa.Table, user: np.ndarray, created_at: np.ndarray, active_from: np.ndarray,
                 seed: int) -> pa.Table:
    """A few views of each rated film, in the hours or days before the rating (not before the user's start)."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_EVENTS)
    views = 1 + rng.poisson(MEAN_EXTRA_VIEWS, len(user))
    rating = owners(views)
    lead = uniform_seconds(rng, 0, MAX_VIEW_LEAD_DAYS * SECONDS_PER_DAY, len(rating))
    occurred_at = np.maximum(created_at[rating] - lead, active_from[user[rating]])
    rows = pa.array(rating)
    return pa.table({
        "event_id": format_ids(np.arange(1, len(rating) + 1)),
        "user_id": reviews["user_id"].take(rows),
        "item_id": reviews["item_id"].take(rows),
        "event_type": constant_text("view", len(rating)),
        "occurred_at": timestamp_array(occurred_at),
    })


def build_orders(n_users: int, user: np.ndarray, item: np.ndarray, created_at: np.ndarray, active_from: np.ndarray,
                 seed: int) -> tuple[pa.Table, pa.Table]:
    """Rare purchases of films the buyer rated: 1-3 orders of 1-2 distinct films, shortly before rating them."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ORDERS)
    rated = np.bincount(user, minlength=n_users)
    buyers = np.flatnonzero((rng.random(n_users) < BUYER_SHARE) & (rated >= 2))
    n_orders = rng.choice(ORDERS_PER_BUYER, size=len(buyers), p=ORDERS_PER_BUYER_SHARE)
    buyer = buyers[owners(n_orders)]
    start, count = group_starts(rated)[buyer], rated[buyer]
    first = start + rng.integers(0, count)
    second = start + (first - start + 1 + rng.integers(0, count - 1)) % count  # another of the buyer's films
    two_lines = rng.random(len(buyer)) < TWO_LINE_SHARE
    line_order = np.concatenate([np.arange(len(buyer)), np.flatnonzero(two_lines)])
    line_rating = np.concatenate([first, second[two_lines]])
    sort = np.argsort(line_order, kind="stable")
    line_order, line_rating = line_order[sort], line_rating[sort]

    bought = np.minimum.reduceat(created_at[line_rating], np.flatnonzero(np.r_[True, np.diff(line_order) != 0])) \
        if len(line_order) else np.empty(0, dtype=np.int64)
    lead = uniform_seconds(rng, 0, SECONDS_PER_HOUR, len(buyer))
    ordered_at = np.maximum(bought - lead, active_from[buyer])
    order_ids = format_ids(np.arange(1, len(buyer) + 1))
    orders = pa.table({
        "order_id": order_ids,
        "user_id": format_ids(buyer + 1),
        "ordered_at": timestamp_array(ordered_at),
        "status": constant_text("completed", len(buyer)),
    })
    order_items = pa.table({
        "order_id": order_ids.take(pa.array(line_order)),
        "item_id": format_ids(item[line_rating] + 1),
        "quantity": pa.array(np.ones(len(line_order), dtype=np.int64)),
        "unit_price": pa.array(np.full(len(line_order), PRICE)),
    })
    return orders, order_items
