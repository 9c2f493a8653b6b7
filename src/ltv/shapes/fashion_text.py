"""Review texts for the `fashion` shape: English, about 300 characters, sentiment that follows the stars.

A comment is built from phrase lists (opener, aspects, a fit remark, sometimes an occasion, a closer),
chosen by pre-drawn random numbers, so that texts vary and the same seed gives the same texts.
"""

from __future__ import annotations

import numpy as np

CATEGORY_NOUNS = {
    "Dresses": "dress", "Knits": "top", "Blouses": "blouse", "Sweaters": "sweater", "Pants": "pair of pants",
    "Jeans": "pair of jeans", "Fine gauge": "cardigan", "Skirts": "skirt", "Jackets": "jacket",
    "Lounge": "lounge set", "Swim": "swimsuit", "Outerwear": "coat", "Shorts": "pair of shorts",
    "Sleep": "pajama set", "Legwear": "pair of leggings", "Intimates": "bralette",
}

OPENERS = {
    1: ("I really wanted to love this {noun}, but it went straight back.", "Huge disappointment.",
        "Save your money and skip this {noun}.", "This {noun} looks nothing like the photos online.",
        "I sent this {noun} back the same day.", "What a letdown this {noun} was."),
    2: ("I had high hopes for this {noun}, but it missed the mark.", "Sadly this {noun} did not work for me.",
        "Not great, unfortunately.", "This {noun} is a bit of a miss.", "I wanted to like this {noun} more than I do.",
        "Underwhelming {noun} for the price."),
    3: ("This {noun} is okay, nothing special.", "Mixed feelings about this {noun}.",
        "It's a decent {noun}, but not amazing.", "I'm on the fence about this {noun}.",
        "This {noun} has its good and bad points.", "Not bad, not great."),
    4: ("Really nice {noun}.", "I like this {noun} a lot.", "Pretty happy with this {noun}.",
        "This {noun} is a lovely find.", "Very pretty {noun}, with one small catch.", "A solid, good-looking {noun}."),
    5: ("Absolutely love this {noun}!", "This {noun} is even better in person.", "Perfect {noun}, I get compliments every time.",
        "I am obsessed with this {noun}.", "Best {noun} I have bought in years.", "Gorgeous {noun}, buy it!"),
}
POSITIVE_ASPECTS = (
    "The fabric is soft and feels much more expensive than it was.", "The colour is rich and true to the pictures.",
    "It drapes beautifully and the cut is very flattering.", "The stitching and little details are lovely.",
    "It is comfortable enough to wear all day long.", "It washed well and kept its shape.",
    "It works for the office and for weekends alike.", "The length is just right on me.",
    "The lining is a really nice touch.", "It layers well over jeans or leggings.",
    "The material is thick enough that nothing shows through.", "The pattern is even prettier up close.",
)
NEGATIVE_ASPECTS = (
    "The fabric is thin and feels cheap.", "The colour looks washed out compared to the photos.",
    "The cut is boxy and unflattering on me.", "A seam started coming apart after one wash.",
    "The material is scratchy and uncomfortable.", "It shrank after the first wash.",
    "The zipper is flimsy and kept getting stuck.", "It is much shorter than it looks in the pictures.",
    "It wrinkles as soon as you sit down.", "The fabric is see-through, so it needs a layer underneath.",
    "The sleeves are oddly tight and long.", "It pills already after a couple of wears.",
)
MINOR_COMPLAINTS = (
    "My only complaint is that it wrinkles easily.", "It runs a little long, so I may have it hemmed.",
    "The buttons feel a bit fragile.", "I wish it came in more colours.", "It needs a slip underneath for work.",
    "The pockets are a little shallow.",
)
FIT_SENTENCES = (
    "I'm {height} and ordered the {size}; it {fit}.", "I usually wear a {size}, and this one {fit}.",
    "At {height}, the {size} {fit}.", "I went with my normal {size} and it {fit}.",
)
FIT_GOOD = ("fits perfectly", "fits true to size", "is just right", "fits like it was made for me")
FIT_MIXED = ("runs slightly big", "is a little snug in the chest", "fits fine but a bit short", "runs a touch small")
FIT_BAD = ("was huge on me", "was way too tight in the shoulders", "fit terribly", "was swimming on me",
           "ran two sizes small")
SIZES = ("size XS", "size S", "size M", "size L", "size XL", "petite S", "petite M", "size 0", "size 2", "size 4", "size 8", "size 12")
HEIGHTS = ("5'1\"", "5'3\"", "5'4\"", "5'5\"", "5'6\"", "5'7\"", "5'8\"", "5'10\"")
STYLING = (
    "I've worn it with sneakers and with heels and it looks great both ways.",
    "It looks just as good with a denim jacket as it does dressed up with jewellery.",
    "The quality is excellent, and it has held up beautifully after several washes.",
    "I've already worn it three times in the first week and it still looks brand new.",
)
MIXED_VERDICTS = (
    "For the price I expected a little more, but it's not terrible.",
    "It might work on a different body type, so I'd suggest trying it on.",
    "I'll probably keep it as a weekend piece, but it won't be a favourite.",
    "The design is cute, the execution just isn't quite there.",
)
LETDOWNS = (
    "The quality simply isn't there, and the photos are very misleading.",
    "It looked nothing like the model shots and felt cheap in the hand.",
    "Customer photos would have saved me the trouble of ordering it.",
    "I was really excited to receive it, which made it even more disappointing.",
)
OCCASIONS = (
    "I bought it for a wedding this summer.", "I got it on sale, which helped.", "I wear it mostly to work.",
    "It was a birthday present to myself.", "I picked it up for a holiday trip.", "I tried it in the store first.",
)
CLOSERS = {
    1: ("Returning it.", "Very disappointed.", "Would not recommend.", "Never again."),
    2: ("It's going back.", "Can't recommend it.", "Maybe it works for someone else.", "Pass."),
    3: ("Worth it on sale, maybe.", "Might keep it, might not.", "It's fine for the price.", "Try it in store first."),
    4: ("Would recommend.", "I'd buy it in another colour.", "Happy overall.", "Good buy."),
    5: ("Highly recommend!", "Buy it, you won't regret it!", "I ordered a second colour.", "Love love love it!"),
}
CARE_NOTES = (
    "I washed it on a cold, gentle cycle and hung it to dry.", "It is dry clean only, which is worth knowing before you buy.",
    "It arrived quickly and nicely packed.", "The fabric content is mostly cotton with a little stretch.",
)
OCCASION_SHARE = 0.7
CARE_SHARE = 0.35
DRAWS = 11  # random numbers per comment


def choose(options: tuple[str, ...], draw: int) -> str:
    return options[draw % len(options)]


def two_different(options: tuple[str, ...], first: int, second: int) -> tuple[str, str]:
    a = first % len(options)
    b = (a + 1 + second % (len(options) - 1)) % len(options)
    return options[a], options[b]


def body(rating: int, draws: np.ndarray) -> list[str]:
    """Middle sentences whose tone follows the rating."""
    if rating >= 5:
        return [*two_different(POSITIVE_ASPECTS, draws[1], draws[2]), choose(STYLING, draws[3])]
    if rating == 4:
        return [*two_different(POSITIVE_ASPECTS, draws[1], draws[2]), choose(MINOR_COMPLAINTS, draws[3])]
    if rating == 3:
        return [choose(POSITIVE_ASPECTS, draws[1]), choose(NEGATIVE_ASPECTS, draws[2]), choose(MIXED_VERDICTS, draws[3])]
    return [*two_different(NEGATIVE_ASPECTS, draws[1], draws[2]), choose(LETDOWNS, draws[3])]


def compose_comment(rating: int, noun: str, draws: np.ndarray, with_occasion: bool, with_care: bool) -> str:
    fit_words = FIT_GOOD if rating >= 4 else FIT_MIXED if rating == 3 else FIT_BAD
    fit = choose(FIT_SENTENCES, draws[4]).format(height=choose(HEIGHTS, draws[5]), size=choose(SIZES, draws[6]),
                                                 fit=choose(fit_words, draws[7]))
    sentences = [choose(OPENERS[rating], draws[0]).format(noun=noun), *body(rating, draws), fit]
    if with_occasion:
        sentences.append(choose(OCCASIONS, draws[8]))
    if with_care:
        sentences.append(choose(CARE_NOTES, draws[10]))
    sentences.append(choose(CLOSERS[rating], draws[9]))
    return " ".join(sentences)


def compose_comments(rng: np.random.Generator, ratings: np.ndarray, categories: np.ndarray) -> list[str]:
    """One comment per (rating, item category)."""
    draws = rng.integers(0, 1 << 30, size=(len(ratings), DRAWS))
    with_occasion = rng.random(len(ratings)) < OCCASION_SHARE
    with_care = rng.random(len(ratings)) < CARE_SHARE
    return [compose_comment(int(rating), CATEGORY_NOUNS[category], row, bool(occasion), bool(care))
            for rating, category, row, occasion, care in zip(ratings, categories, draws, with_occasion, with_care,
                                                             strict=True)]
