"""Synthetic online shop: the bundled demo data and large sets for benchmarks.

`ltv generate --users N --out DIR` writes seven tables (users, items, orders, order_items, events,
reviews, support_conversations) as Parquet or CSV. The data is not uniform noise: it follows a
BG/NBD-style generative story (each customer buys at a latent rate until they silently drop out),
items belong to themes that are bought together, popularity is Zipf-like, review text follows the
rating, and support satisfaction follows response time and tone. Bad experiences raise the chance of
dropping out, so experience predicts long-term value, which is what the downstream models look for.

Everything is drawn from numpy Generators seeded from (seed, stream, block), never from the clock,
Python's hash() or set ordering, and every timestamp lies in a fixed window, so the same arguments give
byte-identical files. Users are generated in blocks of BLOCK_USERS, each with its own random stream,
and blocks are grouped into chunks that are appended to the output files; the chunk size therefore
only changes memory use, never the data.

With dirty=True known defects are injected at small known rates and a `defects.json` manifest records
exactly how many rows the quarantine step must reject, per table and reason.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from stdnum import luhn

# --------------------------------------------------------------------------------------------------
# Fixed window and sizes
# --------------------------------------------------------------------------------------------------

WINDOW_START = np.datetime64("2023-01-01T00:00:00", "s")
WINDOW_END = np.datetime64("2026-01-01T00:00:00", "s")  # exclusive
WINDOW_START_SECONDS = int(WINDOW_START.astype(np.int64))
WINDOW_END_SECONDS = int(WINDOW_END.astype(np.int64))
WINDOW_SECONDS = WINDOW_END_SECONDS - WINDOW_START_SECONDS
SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600

# Users per random stream. Fixed so that the data does not depend on the chunk size.
BLOCK_USERS = 1_000
DEFAULT_CHUNK_USERS = 100_000

TABLE_NAMES = ("users", "items", "orders", "order_items", "events", "reviews", "support_conversations")

# Column kinds: "id" (int64 number formatted as prefix + zero-padded digits, -1 = null), "text"
# (object array of str or None), "timestamp" (int64 seconds since epoch), "money" (float64),
# "integer" (int64) and "optional_integer" (float64 with NaN = null).
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("user_id", "id"), ("signed_up_at", "timestamp"), ("country", "text")),
    "items": (
        ("item_id", "id"),
        ("title", "text"),
        ("category", "text"),
        ("brand", "text"),
        ("price", "money"),
        ("description", "text"),
    ),
    "orders": (("order_id", "id"), ("user_id", "id"), ("ordered_at", "timestamp"), ("status", "text")),
    "order_items": (("order_id", "id"), ("item_id", "id"), ("quantity", "integer"), ("unit_price", "money")),
    "events": (
        ("event_id", "id"),
        ("user_id", "id"),
        ("item_id", "id"),
        ("event_type", "text"),
        ("occurred_at", "timestamp"),
    ),
    "reviews": (
        ("review_id", "id"),
        ("user_id", "id"),
        ("item_id", "id"),
        ("rating", "integer"),
        ("comment", "text"),
        ("created_at", "timestamp"),
    ),
    "support_conversations": (
        ("conversation_id", "id"),
        ("user_id", "id"),
        ("opened_at", "timestamp"),
        ("first_response_at", "timestamp"),
        ("message", "text"),
        ("satisfaction_rating", "optional_integer"),
    ),
}

# Which entity an id column points at, so that it is formatted with that entity's prefix and width.
ID_ENTITY = {
    "user_id": "user",
    "item_id": "item",
    "order_id": "order",
    "event_id": "event",
    "review_id": "review",
    "conversation_id": "conversation",
}
ID_PREFIX = {"user": "U", "item": "I", "order": "O", "event": "E", "review": "R", "conversation": "C"}

ORDER_STATUSES = ("completed", "cancelled", "returned")
EVENT_TYPES = ("view", "add_to_cart", "search", "login")
VIEW, ADD_TO_CART, SEARCH, LOGIN = range(4)
COMPLETED, CANCELLED, RETURNED = range(3)

COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE", "IE")
COUNTRY_SHARE = np.array([0.34, 0.16, 0.12, 0.08, 0.06, 0.05, 0.05, 0.05, 0.04, 0.03, 0.02])

# --------------------------------------------------------------------------------------------------
# Catalogue word banks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    name: str
    median_price: float
    price_spread: float  # sigma of log price
    return_propensity: float  # relative chance that an order with this category comes back
    nouns: tuple[tuple[str, str], ...]  # (title form, how a reviewer refers to it)
    materials: tuple[str, ...]
    size_kind: str  # picks the size phrases used in texts


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Apparel", 35.0, 0.55, 2.2,
        (("T-Shirt", "t-shirt"), ("Hoodie", "hoodie"), ("Rain Jacket", "rain jacket"), ("Fleece", "fleece"),
         ("Jeans", "pair of jeans"), ("Leggings", "pair of leggings"), ("Base Layer Top", "base layer"),
         ("Knit Sweater", "sweater"), ("Shorts", "pair of shorts"), ("Beanie", "beanie"),
         ("Socks 3-Pack", "pack of socks"), ("Wrap Dress", "dress"), ("Chinos", "pair of chinos"),
         ("Pyjama Set", "pyjama set"), ("Puffer Vest", "vest")),
        ("organic cotton", "recycled polyester", "merino wool", "brushed fleece", "stretch denim", "linen"),
        "clothing",
    ),
    Category(
        "Footwear", 70.0, 0.45, 2.6,
        (("Running Shoes", "pair of running shoes"), ("Hiking Boots", "pair of hiking boots"),
         ("Sandals", "pair of sandals"), ("Trainers", "pair of trainers"), ("Slippers", "pair of slippers"),
         ("Trail Shoes", "pair of trail shoes"), ("Wellington Boots", "pair of wellies"),
         ("Loafers", "pair of loafers"), ("Canvas Sneakers", "pair of sneakers")),
        ("full-grain leather", "breathable mesh", "suede", "recycled rubber", "canvas"),
        "shoe",
    ),
    Category(
        "Electronics", 80.0, 0.85, 1.0,
        (("Wireless Headphones", "pair of headphones"), ("Bluetooth Speaker", "speaker"),
         ("Power Bank 20000mAh", "power bank"), ("HD Webcam", "webcam"), ("USB-C Hub", "USB-C hub"),
         ("Smartwatch", "smartwatch"), ("E-Reader", "e-reader"), ("Mechanical Keyboard", "keyboard"),
         ("Wireless Mouse", "mouse"), ("27-inch Monitor", "monitor"), ("Action Camera", "action camera"),
         ("Video Baby Monitor", "baby monitor"), ("Rechargeable Headlamp", "headlamp"),
         ("Game Controller", "controller")),
        ("aluminium", "matte plastic", "soft-touch silicone", "tempered glass"),
        "gadget",
    ),
    Category(
        "Home & Kitchen", 30.0, 0.75, 0.8,
        (("Cast Iron Skillet", "skillet"), ("Chef's Knife", "knife"), ("Burr Coffee Grinder", "grinder"),
         ("Electric Kettle", "kettle"), ("Chunky Throw Blanket", "throw"), ("Cushion Covers", "set of cushion covers"),
         ("Storage Boxes", "set of storage boxes"), ("Insulated Water Bottle", "water bottle"),
         ("Bento Lunch Box", "lunch box"), ("Personal Blender", "blender"), ("Stoneware Mug Set", "mug set"),
         ("Soy Candle", "candle"), ("Enamel Camping Mug", "enamel mug"), ("Dutch Oven", "dutch oven")),
        ("stainless steel", "stoneware", "cast iron", "bamboo", "borosilicate glass", "cotton"),
        "volume",
    ),
    Category(
        "Beauty", 18.0, 0.55, 0.6,
        (("Vitamin C Serum", "serum"), ("Daily Moisturiser", "moisturiser"), ("Repair Shampoo", "shampoo"),
         ("Lip Balm Trio", "lip balm"), ("Mineral Sunscreen SPF 50", "sunscreen"), ("Ionic Hair Dryer", "hair dryer"),
         ("Body Wash", "body wash"), ("Nail Care Kit", "nail kit"), ("Eye Cream", "eye cream"),
         ("Clay Face Mask", "face mask")),
        ("aloe vera", "shea butter", "hyaluronic acid", "niacinamide", "argan oil"),
        "volume",
    ),
    Category(
        "Sports & Outdoors", 45.0, 0.85, 1.0,
        (("2-Person Tent", "tent"), ("Sleeping Bag", "sleeping bag"), ("Yoga Mat", "yoga mat"),
         ("Adjustable Dumbbells", "set of dumbbells"), ("Resistance Bands", "set of resistance bands"),
         ("Camping Stove", "camping stove"), ("Trekking Poles", "pair of trekking poles"),
         ("Daypack 25L", "backpack"), ("Cooler Box", "cool box"), ("Foam Roller", "foam roller"),
         ("Bike Helmet", "helmet"), ("Running Belt", "running belt"), ("Travel Towel", "travel towel")),
        ("ripstop nylon", "TPE foam", "aluminium", "recycled polyester", "EVA foam"),
        "gear",
    ),
    Category(
        "Toys & Games", 25.0, 0.65, 0.7,
        (("Family Board Game", "board game"), ("1000-Piece Puzzle", "puzzle"), ("Building Blocks Set", "block set"),
         ("Plush Bear", "teddy"), ("Remote Control Car", "RC car"), ("Card Game", "card game"),
         ("Stacking Rings", "stacking toy"), ("Kids Art Kit", "art kit"), ("Marble Run", "marble run")),
        ("FSC wood", "BPA-free plastic", "soft plush", "recycled card"),
        "pack",
    ),
    Category(
        "Books", 14.0, 0.4, 0.3,
        (("Weeknight Cookbook", "cookbook"), ("Bird Field Guide", "field guide"), ("Crime Novel", "novel"),
         ("Maths Workbook", "workbook"), ("Bedtime Picture Book", "picture book"), ("City Travel Guide", "travel guide"),
         ("Dotted Journal", "journal"), ("Hiking Trail Atlas", "trail atlas"), ("Houseplant Handbook", "handbook")),
        ("recycled paper", "FSC-certified paper", "heavyweight matte paper", "cream wove paper"),
        "book",
    ),
    Category(
        "Baby", 28.0, 0.75, 0.9,
        (("Ergonomic Baby Carrier", "baby carrier"), ("Muslin Cloths", "pack of muslins"),
         ("Anti-Colic Bottle Set", "bottle set"), ("Changing Bag", "changing bag"), ("Sleep Sack", "sleep sack"),
         ("Teething Toy", "teether"), ("Convertible High Chair", "high chair"), ("Water Wipes", "pack of wipes"),
         ("Stroller Fan", "stroller fan"), ("Baby Bath Seat", "bath seat")),
        ("organic cotton", "food-grade silicone", "bamboo fibre", "BPA-free plastic"),
        "baby",
    ),
    Category(
        "Garden", 32.0, 0.75, 0.7,
        (("Pruning Shears", "pair of secateurs"), ("Expandable Garden Hose", "hose"), ("Raised Bed Kit", "raised bed"),
         ("Herb Seed Kit", "seed kit"), ("Gardening Gloves", "pair of gloves"), ("Watering Can", "watering can"),
         ("Bird Feeder", "bird feeder"), ("Compost Bin", "compost bin"), ("Solar Path Lights", "set of solar lights"),
         ("Kneeling Pad", "kneeler")),
        ("galvanised steel", "recycled plastic", "FSC timber", "nitrile-coated cotton"),
        "volume",
    ),
    Category(
        "Pet Supplies", 22.0, 0.65, 0.6,
        (("Orthopaedic Dog Bed", "dog bed"), ("Cat Scratching Post", "scratching post"), ("Reflective Dog Lead", "lead"),
         ("Slow Feeder Bowl", "bowl"), ("Rope Chew Toy", "chew toy"), ("Clumping Cat Litter", "bag of litter"),
         ("Grain-Free Dog Treats", "bag of treats"), ("Deshedding Brush", "brush"), ("Pet Carrier", "carrier")),
        ("memory foam", "natural rubber", "sisal rope", "ceramic", "nylon webbing"),
        "pet",
    ),
    Category(
        "Office", 40.0, 0.85, 0.7,
        (("Lumbar Support Cushion", "cushion"), ("A5 Hardback Notebook", "notebook"), ("Gel Pens 12-Pack", "pack of pens"),
         ("Monitor Stand", "monitor stand"), ("Desk Organiser", "desk organiser"), ("Laptop Stand", "laptop stand"),
         ("Magnetic Whiteboard", "whiteboard"), ("Ergonomic Footrest", "footrest"), ("Cross-Cut Shredder", "shredder"),
         ("LED Desk Lamp", "desk lamp")),
        ("aluminium", "bamboo", "recycled paper", "memory foam", "powder-coated steel"),
        "gear",
    ),
)
CATEGORY_NAMES = tuple(category.name for category in CATEGORIES)
CATEGORY_INDEX = {name: index for index, name in enumerate(CATEGORY_NAMES)}


@dataclass(frozen=True)
class Theme:
    name: str
    popularity: float  # how often users pick this theme as a preference
    category_weights: dict[str, float]
    qualifiers: tuple[str, ...]  # title words that make the theme visible
    use: tuple[str, ...]  # "ideal for ..." phrases, reused in reviews


THEMES: tuple[Theme, ...] = (
    Theme("camping", 1.0,
          {"Sports & Outdoors": 0.45, "Apparel": 0.15, "Footwear": 0.15, "Home & Kitchen": 0.1, "Electronics": 0.1,
           "Books": 0.05},
          ("Trail", "Basecamp", "Wilderness", "Outdoor", "Expedition"),
          ("camping trips", "weekends in the woods", "festival camping", "wild camping")),
    Theme("baby", 0.9,
          {"Baby": 0.6, "Toys & Games": 0.15, "Apparel": 0.1, "Books": 0.1, "Home & Kitchen": 0.05},
          ("Little One", "Nursery", "Tiny Steps", "Newborn", "Snuggle"),
          ("the nursery", "a newborn", "our little one", "new parents")),
    Theme("home office", 1.1,
          {"Office": 0.45, "Electronics": 0.35, "Home & Kitchen": 0.15, "Books": 0.05},
          ("WorkFlow", "Desk Pro", "Focus", "Ergo", "Studio"),
          ("working from home", "long days at the desk", "video calls", "my home office")),
    Theme("fitness", 1.0,
          {"Sports & Outdoors": 0.45, "Apparel": 0.25, "Footwear": 0.15, "Electronics": 0.1, "Beauty": 0.05},
          ("Active", "Core", "FlexFit", "Power", "Studio Fit"),
          ("home workouts", "the gym", "HIIT sessions", "yoga classes")),
    Theme("cooking", 0.9,
          {"Home & Kitchen": 0.7, "Books": 0.2, "Electronics": 0.1},
          ("Chef's", "Kitchen Pro", "Everyday", "Artisan", "Bistro"),
          ("weeknight dinners", "batch cooking", "baking with the kids", "Sunday roasts")),
    Theme("gardening", 0.7,
          {"Garden": 0.7, "Apparel": 0.1, "Books": 0.1, "Footwear": 0.1},
          ("Green Thumb", "Allotment", "Bloom", "Backyard", "Potting Shed"),
          ("the allotment", "a small balcony garden", "weekend gardening", "growing veg")),
    Theme("pets", 0.8,
          {"Pet Supplies": 0.85, "Home & Kitchen": 0.1, "Books": 0.05},
          ("Happy Paws", "Pet-Friendly", "Furry Friend", "Waggy", "Whisker"),
          ("our dog", "a very fussy cat", "long walks with the dog", "two rescue cats")),
    Theme("skincare", 0.8,
          {"Beauty": 0.85, "Electronics": 0.05, "Books": 0.1},
          ("Glow", "Pure", "Radiance", "Gentle", "Daily Ritual"),
          ("my morning routine", "sensitive skin", "dry winter skin", "a simple skincare routine")),
    Theme("gaming", 0.7,
          {"Electronics": 0.55, "Toys & Games": 0.3, "Office": 0.15},
          ("Pro Gamer", "Arena", "Level Up", "Quest", "Pixel"),
          ("late-night gaming", "family game nights", "streaming", "co-op sessions")),
    Theme("travel", 0.8,
          {"Apparel": 0.25, "Electronics": 0.25, "Sports & Outdoors": 0.2, "Books": 0.15, "Beauty": 0.15},
          ("Voyager", "Carry-On", "Globetrotter", "Jetset", "Roam"),
          ("long-haul flights", "a city break", "backpacking", "business trips")),
    Theme("running", 0.7,
          {"Footwear": 0.4, "Apparel": 0.35, "Electronics": 0.15, "Sports & Outdoors": 0.1},
          ("Stride", "Tempo", "Marathon", "Pace", "Road Runner"),
          ("marathon training", "my 5k runs", "trail running", "early morning runs")),
    Theme("cosy home", 0.9,
          {"Home & Kitchen": 0.7, "Books": 0.15, "Apparel": 0.15},
          ("Hygge", "Fireside", "Snug", "Cabin", "Homely"),
          ("cosy nights in", "the living room", "winter evenings", "reading on the sofa")),
    Theme("kids' play", 0.7,
          {"Toys & Games": 0.65, "Books": 0.2, "Apparel": 0.15},
          ("Playtime", "Little Explorer", "Imagination", "Rainy Day", "Tinker"),
          ("rainy afternoons", "my 5-year-old", "birthday presents", "the playroom")),
    Theme("back to school", 0.6,
          {"Office": 0.5, "Books": 0.3, "Electronics": 0.2},
          ("Study", "Campus", "Scholar", "Exam Ready", "Class Act"),
          ("revision", "the new school year", "uni lectures", "homework")),
)
THEME_NAMES = tuple(theme.name for theme in THEMES)

BRANDS = (
    "Northpeak", "Brightwell", "Cosyfox", "Urbanite", "Terraform", "Lumen & Co", "Pinecrest", "Kindred",
    "Blue Harbor", "Velora", "Stride Lab", "Oakhaven", "Nimbus", "Fernway", "Tandem", "Quillcraft",
    "Little Acorn", "Pawsome", "Greenthumb", "Voltix", "Sonara", "Ironbark", "Aeroflex", "Hearthstone",
    "Maple & Moss", "Bytewise", "Glowline", "Purelle", "Bramble", "Wildtrail", "Tidewater", "Peakform",
    "Cedar & Co", "Hushaby", "Snugglebug", "Kitchenary", "Copperpot", "Deskwise", "Paperlane", "Woofly",
    "Whiskerly", "Bloomfield", "Sprout", "Rootstock", "Playnest", "Tinkerbox", "Pagecraft", "Inkwell",
    "Glowskin", "Velvetleaf", "Runwell", "Fleetfoot", "Summit Gear", "Campfire Co", "Ampere", "Circuitry",
    "Homestead", "Linen Lane", "Solstice", "Trekline",
)
BRANDS_PER_CATEGORY = 9

TITLE_ADJECTIVES = (
    "Lightweight", "Classic", "Pro", "Compact", "Eco", "Premium", "Deluxe", "Essential", "Ultra",
    "Heritage", "Modern", "Foldable", "Waterproof", "Soft-Touch", "Heavy-Duty", "Slim", "Original",
)
COLOURS = (
    "Black", "Navy", "Olive", "Sand", "Charcoal", "Forest Green", "Sky Blue", "Rust", "Cream", "Burgundy",
    "Slate Grey", "Mustard", "Blush Pink", "Teal",
)
DESCRIPTION_OPENINGS = (
    "Made from {material}, this {spoken} is built for {use}.",
    "The {brand} {spoken} is made from {material} and designed with {use} in mind.",
    "Meet our best-selling {spoken}: {material}, carefully finished and ready for {use}.",
    "{an_adjective} {spoken} in {material} that earns its place in {use}.",
    "Crafted in {material}, this {adjective} {spoken} keeps things simple for {use}.",
)
DESCRIPTION_BENEFITS = (
    "It is light enough to carry every day yet tough enough to last for years.",
    "Thoughtful details make it easy to use straight out of the box.",
    "Tested by our team over {number} weeks of daily use.",
    "Available in {colour_count} colours to match your style.",
    "Every piece is checked by hand before it leaves our warehouse.",
    "The low-maintenance finish wipes clean in seconds.",
    "Its compact shape stores neatly in a drawer, bag or cupboard.",
    "Backed by a {guarantee_months}-month guarantee for peace of mind.",
    "Designed with feedback from more than {big_number} customers.",
    "Packed in plastic-free, recyclable packaging.",
)
DESCRIPTION_SPECS = (
    "Weight: {grams} g.",
    "Dimensions: {width} x {depth} cm.",
    "Care: wipe clean or wash at {temperature} degrees.",
    "Includes a {warranty_years}-year warranty.",
    "Fits most standard setups; see the size guide for details.",
    "Colour shown: {colour}.",
)

# --------------------------------------------------------------------------------------------------
# Review text banks. Sentiment tone 1 (very negative) .. 5 (very positive); the tone is the rating
# most of the time and a neighbouring rating otherwise, so the text follows the rating but not
# perfectly. Slots: {noun} {brand} {price} {size} {days} {weeks} {count} {use} {colour} {months}.
# --------------------------------------------------------------------------------------------------

REVIEW_OPENERS = {
    5: ("Absolutely love this {noun}!", "Excellent {noun}, exactly what I needed.",
        "Best {noun} I've ever owned.", "Wow, just wow.", "Five stars, no question.",
        "Couldn't be happier with this purchase.", "This {noun} is brilliant.",
        "Bought this for {use} and it's perfect.", "Outstanding {noun} from {brand}.", "I love it!",
        "Honestly one of my favourite purchases this year.", "Superb quality {noun}.",
        "Exceeded every expectation I had.", "What a fantastic {noun}."),
    4: ("Really good {noun} overall.", "Very happy with this {noun}.", "Solid purchase.",
        "Pretty good for the price.", "Does exactly what it says.", "Not bad at all, I'm pleased.",
        "Good {noun} from {brand}.", "Nice {noun}, would recommend.", "Happy with it so far.",
        "A reliable {noun} for {use}.", "Great little {noun}.", "Does the job nicely."),
    3: ("It's okay.", "Mixed feelings about this {noun}.", "Average {noun}, nothing special.",
        "Decent but not amazing.", "It does the job, mostly.", "Hmm, it's fine I guess.",
        "Bit of a mixed bag.", "Not bad, not great.", "Middle of the road {noun}.",
        "Three stars feels about right for this {noun}.", "It's alright for {use}."),
    2: ("Disappointed with this {noun}.", "Not what I expected.", "Not great, to be honest.",
        "Expected more from {brand}.", "Meh.", "Wouldn't buy this {noun} again.", "Underwhelming.",
        "Pretty disappointing {noun}.", "Not impressed.", "Wanted to like this {noun}, but no."),
    1: ("Terrible {noun}.", "Awful, do not buy.", "What a waste of money.", "Complete rubbish.",
        "Worst purchase I've made this year.", "Avoid this {noun} at all costs.", "Really bad.",
        "Absolutely awful experience.", "Terrible quality and terrible service.", "Save yourself the hassle.",
        "Shockingly bad {noun}."),
}
REVIEW_ASPECTS_POSITIVE = (
    # quality
    ("The quality is {very} good for {price}.", "Build quality feels {very} solid, much better than my old one.",
     "Excellent quality, the finish is spot on.", "You can tell the {brand} {noun} is well made.",
     "Materials feel premium and it still looks new after {weeks} weeks.",
     "Quality is not bad at all for the money.", "Honestly can't fault the quality.",
     'My partner called it "the best thing we bought this year", and I agree.'),
    # delivery
    ("Arrived in {days} days, {very} well packaged.", "Delivery was {very} quick, a day earlier than promised.",
     "Shipping was fast and the courier was friendly.", "Turned up within {days} days, no complaints about delivery.",
     "Ordered on a Monday and it was here {days} days later."),
    # fit and size
    ("Went for the {size} and it's exactly right.", "The {size} is spot on, true to the description.",
     "The size guide was accurate, the {size} fits perfectly.", "Sizing is perfect, I got the {size} as usual."),
    # value
    ("At {price} it's a bargain.", "Great value, I paid {price} and it feels like twice that.",
     "Worth every penny of the {price}.", "Cheaper than the big brands and just as good.",
     "For {price} you really can't go wrong."),
    # durability
    ("Been using it daily for {weeks} weeks and it still looks brand new.",
     "Holding up {very} well after {months} months.", "Survived {count} months of {use} without a scratch.",
     "Still going strong after {months} months of heavy use."),
    # looks
    ("The {colour} colour is gorgeous, even nicer than the photos.", "Looks {very} stylish in person.",
     "Love the design, it gets compliments every time.", "The {colour} version looks even better in real life."),
    # ease of use
    ("Set up took about {count} minutes, {very} easy.", "Really intuitive to use, no manual needed.",
     "Simple to use straight out of the box.", "My {count}-year-old can use it without help."),
    # comfort
    ("Super comfy, I used it all day without any issues.", "{very_title} comfortable, even after {count} hours.",
     "So comfortable that I forget it's there."),
    # service
    ("Customer service sorted a small question within {count} hours.", "The seller replied {very} quickly to my message.",
     "Support was helpful and friendly when I had a question."),
)
REVIEW_ASPECTS_NEGATIVE = (
    ("The quality is {very} poor, it feels cheap and flimsy.", "Stitching started coming apart after {count} uses.",
     "Feels nothing like the photos, the material is thin.", "For {price} I expected much better quality.",
     "The finish is rough and one part was already cracked.", "Not great quality, you get what you pay for.",
     "The quality wasn't worth it at all.", 'The listing says "{very} durable", which is a joke.'),
    ("Took {days} days to arrive and the box was crushed.", "Delivery was a nightmare, the parcel went missing for {days} days.",
     "It arrived {days} days late with no tracking updates.", "The courier left it in the rain and the packaging was soaked.",
     "Waited {days} days for delivery, which is far too long."),
    ("The {size} is way smaller than described.", "Ordered the {size} but it's far too big.",
     "Sizing is all over the place, the {size} doesn't fit at all.", "Runs at least one size small, the {size} barely fits."),
    ("Overpriced at {price}.", "Not worth {price}, honestly.", "Way too expensive for what you get.",
     "Paid {price} for something that feels like a cheap knock-off.", "I've seen better for half of {price}."),
    ("Broke after {count} uses.", "Stopped working after {weeks} weeks.", "Fell apart within a month.",
     "Didn't last, it snapped after {days} days.", "After {months} months it's already worn out."),
    ("The colour is nothing like the pictures.", "Looks {very} cheap in person.",
     "It arrived in the wrong colour, {colour} instead of what I ordered.", "The design looks dated and plasticky."),
    ("The instructions are useless, it took me {count} hours to figure out.", "Fiddly and awkward to use.",
     "Setting it up was a {very} frustrating experience.", "Nothing about it is intuitive."),
    ("{very_title} uncomfortable after about {count} minutes.", "Not comfortable at all, it rubs and pinches.",
     "Gave me a sore back after {count} hours."),
    ("Customer service never replied to my {count} emails.", "Support was useless and kept sending copy-paste answers.",
     "The seller ignored me for {days} days."),
)
ASPECT_COUNT = len(REVIEW_ASPECTS_POSITIVE)
REVIEW_CONTEXTS = (
    "Bought this for {use}.", "Ordered the {size} for {use}.", "I've had it for {weeks} weeks now.",
    "I've bought {count} things from {brand} before.", "Got it on offer for {price}.",
    "Bought it as a gift for my sister, who is into {use}.", "Replaced my old one after {months} years of use.",
    "Paid {price} and it arrived in {days} days.", "Been using it for {use} for about {weeks} weeks.",
    "Second time ordering this {noun}.", "Picked the {colour} one after reading the other reviews.",
    "My {count}-year-old chose this one.", "Needed something for {use} and this looked right.",
)
MILD_NEGATIVE_FRAGMENTS = (
    "delivery took {days} days", "the instructions could be clearer", "it's a little heavier than I expected",
    "the {size} runs slightly small", "the colour is a bit darker than the photo", "the packaging was excessive",
    "it's a touch pricey at {price}", "the strap feels a bit thin", "it took {count} minutes to figure out",
    "the box arrived a bit dented", "it scratches more easily than I'd like", "there's a faint chemical smell at first",
)
MILD_POSITIVE_FRAGMENTS = (
    "the colour is nice", "delivery was quick", "it looks good in the photos", "the price was fair at {price}",
    "the packaging was lovely", "it's easy enough to use", "the {size} fits fine", "it arrived in {days} days",
    "the {colour} looks decent", "it's light and easy to carry",
)
MINOR_COMPLAINT_INTROS = ("Only gripe: {fragment}.", "My one complaint is that {fragment}.",
                          "Minor niggle: {fragment}.", "If I'm being picky, {fragment}.",
                          "The only downside is that {fragment}.")
MIXED_CONNECTORS = ("That said, {fragment}.", "On the other hand, {fragment}.", "But {fragment}.",
                    "Unfortunately {fragment}.", "The downside is that {fragment}.", "However, {fragment}.")
CONCESSIONS = ("To be fair, {fragment}.", "Okay, {fragment}, but that's about it.",
               "I'll admit {fragment}.", "The only positive is that {fragment}.")
REVIEW_CLOSERS = {
    5: ("Would definitely buy again!", "Highly recommend to anyone into {use}.", "Already ordered a second one.",
        "10/10 would recommend.", "Thank you {brand}!", "Can't recommend it enough.", "Absolutely worth it."),
    4: ("Would buy again.", "Recommended.", "Happy overall.", "Would recommend to a friend.",
        "A good buy for {use}.", "Four stars from me."),
    3: ("It's fine for the price, I suppose.", "Might look elsewhere next time.", "Okay if you're not fussy.",
        "Wouldn't rush to buy again, but it works.", "Can't decide if I'd recommend it.", "Does the job, just about."),
    2: ("Wouldn't recommend.", "Probably returning it.", "Wasn't worth it.", "I'll look for something better.",
        "Disappointing overall.", "Not buying this again."),
    1: ("Never again.", "Returning it tomorrow.", "Save your money.", "Avoid.", "Zero stars if I could.",
        "Never buying from {brand} again.", "Total waste of {price}."),
}
INTENSIFIERS = ("really", "very", "super", "incredibly", "genuinely", "seriously", "remarkably", "pretty", "so")
HEDGES = (", to be honest.", ", I guess.", ", honestly.", ", if I'm honest.", " tbh.", ", for what it's worth.")
HAPPY_EMOTICONS = (":)", ":-)", ":D", ";)")
SAD_EMOTICONS = (":(", ":-(", ":/", ":-/")
CLOTHING_SIZES = ("size XS", "size S", "size M", "size L", "size XL", "size XXL", "size 8", "size 10", "size 12",
                  "size 14", "size 16")
SHOE_SIZES = ("size 6", "size 7", "size 8", "size 9", "size 10", "size 11", "UK 8", "EU 42", "EU 39", "US 10")


def size_phrase(size_kind: str, draw: float, number: int) -> str:
    """A size or variant phrase for texts; `number` makes it vary across reviews."""
    if size_kind == "clothing":
        return CLOTHING_SIZES[int(draw * len(CLOTHING_SIZES))]
    if size_kind == "shoe":
        return SHOE_SIZES[int(draw * len(SHOE_SIZES))]
    if size_kind == "volume":
        return ("500ml version", "1.5L version", f"{number * 10} cm version", "large one", f"{number}-piece set")[
            int(draw * 5)]
    if size_kind == "book":
        return ("hardback", "paperback edition", f"{number}-book box set", "large-print edition")[int(draw * 4)]
    if size_kind == "baby":
        return (f"{number}-12 months size", "0-3 months size", "newborn size", f"pack of {number}")[int(draw * 4)]
    if size_kind == "pet":
        return ("medium size", "large size", f"{number} kg bag", "small size")[int(draw * 4)]
    if size_kind == "pack":
        return (f"pack of {number}", "family edition", f"{number}-player version", "travel version")[int(draw * 4)]
    return (f"{number * 5}L version", "standard version", "XL version", f"{number}-pack")[int(draw * 4)]


# --------------------------------------------------------------------------------------------------
# Support message banks, by tone and topic. Slots: {order} {noun} {days} {price} {size} {count}.
# --------------------------------------------------------------------------------------------------

SUPPORT_TONES = ("angry", "neutral", "polite")
ANGRY, NEUTRAL, POLITE = range(3)
SUPPORT_GREETINGS = {
    ANGRY: ("This is ridiculous.", "Seriously?!", "I am furious.", "Third time writing about this.",
            "Unbelievable.", "What is going on with your company?", ""),
    NEUTRAL: ("Hello,", "Hi,", "Hi team,", "Good afternoon,", ""),
    POLITE: ("Hi there, hope you're having a good day!", "Hello, sorry to bother you.",
             "Hi, thanks for taking the time to read this.", "Good morning, I hope you can help.",
             "Dear support team,"),
}
SUPPORT_ORDER_PROBLEMS = (
    # late delivery
    ("My order {order} was due {days} days ago and still hasn't arrived.",
     "Order {order} has been stuck 'in transit' for {days} days.",
     "Tracking for {order} hasn't updated in {days} days."),
    # damaged
    ("The {noun} from order {order} arrived damaged.", "My {noun} turned up broken, the box was crushed.",
     "Order {order} arrived with a cracked {noun}."),
    # wrong item
    ("I received the wrong item in order {order}, I ordered a {noun}.",
     "Order {order} contained someone else's items instead of my {noun}.",
     "You sent {count} of the {noun} but I only ordered one."),
    # size
    ("The {size} I got in order {order} doesn't fit, I need to exchange it.",
     "Can I swap the {noun} from {order} for the {size}?", "The {noun} is far too small, I need the {size} instead."),
    # refund
    ("I returned order {order} {days} days ago and still have no refund of {price}.",
     "Where is my refund of {price} for {order}?", "You confirmed my return of the {noun} but the {price} never arrived."),
    # cancel
    ("I'd like to cancel order {order} please.", "I tried to cancel {order} within {count} minutes but it still shipped.",
     "Please cancel the {noun} from order {order}."),
    # double charge
    ("I've been charged twice ({price} x 2) for order {order}.", "My bank shows {count} payments for order {order}.",
     "The total for {order} was {price} but I was charged more."),
)
SUPPORT_ACCOUNT_PROBLEMS = (
    ("I can't log in to my account, the reset email never arrives.", "My password reset link has expired {count} times.",
     "The app logs me out every {count} minutes."),
    ("How do I change my delivery address?", "I've moved house and need to update my address before my next order.",
     "Can you update the postcode on my account?"),
    ("My promo code isn't working at checkout.", "The code from your newsletter says it's expired after {days} days.",
     "The {count}0% discount wasn't applied to my basket."),
    ("Please delete my account and all my data.", "How do I close my account?",
     "I want to unsubscribe from all emails, I'm getting {count} a day."),
)
SUPPORT_REQUESTS = {
    ANGRY: ("Sort it out NOW.", "I want a full refund immediately or I'm disputing the charge.",
            "Unacceptable, fix this today.", "I expect a response within the hour.",
            "Don't send me another template reply!!", "This is the worst service I've ever had."),
    NEUTRAL: ("Can you let me know what happens next?", "Please advise.", "What are my options?",
              "Please update me when you can.", "Could you check and get back to me?"),
    POLITE: ("Would you be able to look into this when you get a chance?", "I'd really appreciate your help with this.",
             "No rush, whenever you have a moment.", "Could you possibly help me sort this out?",
             "Is there anything I can do on my side to help?"),
}
SUPPORT_SIGN_OFFS = {
    ANGRY: ("Absolutely fed up.", "Never ordering from you again!!", "Furious customer.", "", "Sort. It. Out."),
    NEUTRAL: ("Thanks.", "Regards.", "Thank you.", "", "Cheers."),
    POLITE: ("Many thanks in advance!", "Thank you so much for your help :)", "Have a lovely day!",
             "Kind regards and thanks again.", "Really appreciate it."),
}

# Personal data that the masking step must remove. Only reserved/example values are used.
FIRST_NAMES = ("jane", "john", "maria", "li", "amir", "sophie", "tom", "priya", "lukas", "emma", "omar", "chloe")
LAST_NAMES = ("doe", "smith", "garcia", "chen", "khan", "martin", "jones", "patel", "muller", "brown", "rossi")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
PERSONAL_DATA_SENTENCES = (
    "You can reach me at {email}.", "My email is {email} if that's easier.", "Call me on {phone}.",
    "Please phone {phone} after 5pm.", "The charge went to my card {card}.", "My card number is {card}, please check it.",
    "Contact me on {phone} or {email}.",
)
REVIEW_PERSONAL_DATA_SENTENCES = (
    "Seller, email me at {email} about the replacement.", "If anyone has questions, text me on {phone}.",
    "I paid with card {card} and was charged twice!", "Happy to chat, call {phone}.",
)

# --------------------------------------------------------------------------------------------------
# Dirty-mode text defects (not quarantine reasons, just awkward text)
# --------------------------------------------------------------------------------------------------

# Every non-English text has at least one non-ASCII letter (the English banks are pure ASCII), which
# lets tests and downstream checks tell them apart without a language model.
NON_ENGLISH_POSITIVE = (
    "Sehr gute Qualität, schnelle Lieferung. Gerne wieder!", "Muy buena calidad, llegó rápido. Lo recomiendo.",
    "Produit excellent, livraison très rapide, je recommande !", "とても良い商品です。また買いたいです。",
    "Ottimo prodotto, consegna velocissima. Più che soddisfatto!", "Ótimo produto, chegou rápido.",
)
NON_ENGLISH_NEGATIVE = (
    "Schlechte Qualität, nach zwei Tagen kaputt. Nie wieder.", "Muy mala calidad, no lo recomiendo. Decepción total.",
    "Très déçu, le produit est arrivé cassé.", "品質が悪く、がっかりしました。",
    "Pessima qualità, non lo comprerei di nuovo.", "Péssima qualidade, não recomendo.",
)
NON_ENGLISH_SUPPORT = (
    "Hallo, meine Bestellung ist seit zehn Tagen nicht angekommen. Können Sie mir bitte helfen?",
    "Hola, quiero devolver el producto y recibir un reembolso. ¿Es posible?",
    "Bonjour, je n'arrive pas à me connecter à mon compte depuis hier.",
    "注文した商品がまだ届きません。確認してください。",
    "Buongiorno, ho ricevuto un articolo sbagliato nel mio ordine. Perché?",
)
EMOJI_POSITIVE = ("😍", "👍", "🔥", "⭐⭐⭐⭐⭐", "🙌", "💯")
EMOJI_NEGATIVE = ("😡", "👎", "🤬", "😞", "💩")
WHITESPACE_ONLY = (" ", "   ", "\t", "\n", " \n \n ", "  \t  ")
HTML_WRAPPERS = ("<p>{text}</p>", "<div><b>{first}</b><br/>{rest}</div>", "<p>{first} <b>{rest}</b></p>",
                 "<p><i>{text}</i></p><br>", "<ul><li>{first}</li><li>{rest}</li></ul>")
VERY_LONG_LENGTH = 100_000

# --------------------------------------------------------------------------------------------------
# Dirty-mode values that must be rejected. Each was checked to fail DuckDB's TRY_CAST; the numbers are
# none in either decimal mark, with or without a currency (macros/raw_numbers.sql reads "12,50" and
# "$19.99" in a table whose numbers say so).
# --------------------------------------------------------------------------------------------------

INVALID_NUMBERS = ("abc", "two", "twelve", "12,5,0", "$19.99.9", "1O", "n.a.", "--")
INVALID_TIMESTAMPS = ("not a date", "2024-02-30 10:00:00", "2023-13-01 08:00:00", "yesterday", "32/01/2024 10:00",
                      "2024-06-01 25:61:00")
INVALID_RATINGS = ("five", "0", "6", "3.5", "10", "-1", "great")
INVALID_STATUSES = ("shipped", "pending", "processing", "lost", "on hold")  # orders in progress or lost: no status of the contract (raw_contract synonyms)
INVALID_EVENT_TYPES = ("click", "purchase", "page_view", "wishlist", "scroll")
OUT_OF_RANGE_SECONDS = tuple(
    int(np.datetime64(value, "s").astype(np.int64))
    for value in ("1970-01-01T00:00:00", "1979-12-31T23:00:00", "1901-06-15T08:30:00", "2099-01-01T12:00:00",
                  "2135-07-04T09:15:00", "2199-12-31T00:00:00")
)
OUT_OF_RANGE_PAST_SECONDS = OUT_OF_RANGE_SECONDS[:3]
OUT_OF_RANGE_FUTURE_SECONDS = OUT_OF_RANGE_SECONDS[3:]

DEFECT_RATE = 0.005  # per reason and per text-defect kind, of the rows of a block
VERY_LONG_EVERY_BLOCKS = 5  # 100,000-character texts are heavy, so one every few blocks only

# Stream numbers for numpy SeedSequence([seed, stream, block]). Separate streams keep the clean data
# identical whether or not defects are injected.
STREAM_CATALOGUE = 1
STREAM_USERS = 2
STREAM_DEFECTS = 3
STREAM_CATALOGUE_DEFECTS = 4


def random_generator(seed: int, stream: int, block: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, block])))


# --------------------------------------------------------------------------------------------------
# Behaviour parameters. Calibrated so that, across scales, a user averages about 10 order lines,
# 1 review, 0.2 support conversations and 15 events (1.5 per order line).
# --------------------------------------------------------------------------------------------------

BROWSE_ONLY_SHARE = 0.18  # users who never buy but do browse
PURCHASE_RATE_SHAPE = 0.9  # gamma shape of the latent purchase rate (orders per day while active)
PURCHASE_RATE_SCALE = 0.0475
DROPOUT_BETA_A = 1.1  # beta prior of the chance to drop out after each purchase
DROPOUT_BETA_B = 12.0
MAX_POTENTIAL_ORDERS = 300
BAD_EXPERIENCE_THRESHOLD = -1.0
BAD_EXPERIENCE_DROPOUT = 0.12  # added dropout chance after a bad experience
SLOW_SUPPORT_DROPOUT = 0.25  # added dropout chance after waiting more than a day for support
SLOW_SUPPORT_MINUTES = 24 * 60
LINES_PER_ORDER_SHARE = np.array([0.45, 0.30, 0.15, 0.10])
ORDER_THEME_SHARE = 0.80  # lines from the order's theme; the rest from other preferences or anywhere
OTHER_PREFERENCE_SHARE = 0.12
STAPLE_SHARE = 0.08  # lines that re-buy one of the user's staple items
CANCEL_BASE = 0.074
RETURN_BASE = 0.045
REVIEW_BASE = 0.072
REVIEW_PER_EXTREMITY = 0.05  # strong experiences, good or bad, are reviewed more often
RATING_THRESHOLDS = np.array([1.9, 2.7, 3.4, 4.1])
CONTACT_BASE = 0.018
CONTACT_AFTER_BAD_EXPERIENCE = 0.10
ACCOUNT_CONTACTS_PER_USER = 0.03
SATISFACTION_MISSING_SHARE = 0.40
TONE_PENALTY = np.array([1.1, 0.35, 0.0])  # angry, neutral, polite
BROWSE_SESSIONS_PER_MONTH = 0.03
BROWSE_SESSIONS_PER_MONTH_PER_RATE = 2.0
BROWSE_ONLY_SESSIONS_PER_MONTH = 0.8
EMPTY_COMMENT_SHARE = 0.05
REVIEW_PERSONAL_DATA_SHARE = 0.01
SUPPORT_PERSONAL_DATA_SHARE = 0.02
MISSING_MESSAGE_SHARE = 0.01


# --------------------------------------------------------------------------------------------------
# Tables held as numpy columns until they are written
# --------------------------------------------------------------------------------------------------


class TableBlock:
    """Columns of one table as numpy arrays, plus per-cell text overrides.

    Ids are int64 numbers (-1 = null) formatted only when written, which is much faster than building
    millions of Python strings. Overrides hold values that the column's type cannot (a price of 'abc',
    a null timestamp); they only exist in dirty mode, where every column is written as text.
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        self.columns = columns
        self.overrides: dict[str, dict[int, str | None]] = {}

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def take(self, rows: np.ndarray) -> TableBlock:
        return TableBlock({name: values[rows] for name, values in self.columns.items()})

    def override(self, column: str, row: int, value: str | None) -> None:
        self.overrides.setdefault(column, {})[int(row)] = value


def concatenate_blocks(blocks: list[TableBlock]) -> TableBlock:
    combined = TableBlock({name: np.concatenate([block.columns[name] for block in blocks]) for name in blocks[0].columns})
    offset = 0
    for block in blocks:
        for column, cells in block.overrides.items():
            for row, value in cells.items():
                combined.override(column, offset + row, value)
        offset += len(block)
    return combined


def text_array(values) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass(frozen=True)
class IdWidths:
    """Zero-padded digits per id prefix. Wide enough for the clean rows and the extra dirty rows, so
    that `10 ** width + k` (one digit longer) can serve as a reference to something that does not exist."""

    user: int
    item: int
    order: int
    event: int
    review: int
    conversation: int

    @classmethod
    def for_sizes(cls, n_users: int, n_items: int) -> IdWidths:
        return cls(
            user=max(7, len(str(n_users + n_users // 10 + 100))),
            item=max(5, len(str(n_items + n_items // 10 + 100))),
            order=max(8, len(str(n_users * 30))),
            event=max(9, len(str(n_users * 60))),
            review=max(8, len(str(n_users * 5))),
            conversation=max(7, len(str(n_users * 2))),
        )

    def of(self, entity: str) -> int:
        return getattr(self, entity)


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """'U0000042' from 42, vectorised in Arrow; -1 becomes null."""
    digits = pc.utf8_lpad(pa.array(np.maximum(numbers, 0), type=pa.int64()).cast(pa.string()), width=width, padding="0")
    ids = pc.binary_join_element_wise(prefix, digits, "")
    if (numbers < 0).any():
        ids = pc.if_else(pa.array(numbers >= 0), ids, pa.scalar(None, pa.string()))
    return ids


def format_id(prefix: str, number: int, width: int) -> str:
    return f"{prefix}{number:0{width}d}"


# --------------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    category: np.ndarray
    theme: np.ndarray
    brand: np.ndarray
    price: np.ndarray
    quality: np.ndarray
    return_propensity: np.ndarray
    colour: np.ndarray
    spoken_noun: list[str]
    brand_name: list[str]
    price_text: list[str]
    size_kind: list[str]
    table: TableBlock
    # Concatenated cumulative popularity per theme: theme index + cumulative share, so one
    # searchsorted samples items for many lines of different themes at once.
    theme_keys: np.ndarray = field(repr=False)
    theme_items: np.ndarray = field(repr=False)
    theme_preference: np.ndarray = field(repr=False)

    @property
    def n_items(self) -> int:
        return len(self.category)

    def sample_items(self, rng: np.random.Generator, themes: np.ndarray) -> np.ndarray:
        # Clip so that theme + draw never rounds up into the next theme's segment.
        draws = np.minimum(rng.random(len(themes)), 1.0 - 1e-9)
        positions = np.searchsorted(self.theme_keys, themes + draws, side="right")
        return self.theme_items[positions]


def build_catalogue(n_items: int, seed: int) -> Catalogue:
    if n_items < len(THEMES):
        raise ValueError(f"need at least {len(THEMES)} items, one per theme; got {n_items}")
    rng = random_generator(seed, STREAM_CATALOGUE)
    n_themes, n_categories = len(THEMES), len(CATEGORIES)
    theme_preference = np.array([theme.popularity for theme in THEMES])
    theme_preference = theme_preference / theme_preference.sum()

    # Every theme gets at least one item; the rest follow how popular the theme is.
    theme = np.concatenate([np.arange(n_themes), rng.choice(n_themes, n_items - n_themes, p=theme_preference)])
    theme = rng.permutation(theme)

    category_weights = np.zeros((n_themes, n_categories))
    for theme_index, spec in enumerate(THEMES):
        for name, weight in spec.category_weights.items():
            category_weights[theme_index, CATEGORY_INDEX[name]] = weight
    cumulative = np.cumsum(category_weights / category_weights.sum(axis=1, keepdims=True), axis=1)
    category = np.minimum((rng.random(n_items)[:, None] >= cumulative[theme]).sum(axis=1), n_categories - 1)

    # A few brands per category, some bigger than others.
    category_brands = np.stack([rng.choice(len(BRANDS), BRANDS_PER_CATEGORY, replace=False) for _ in CATEGORIES])
    brand_share = 1.0 / np.arange(1, BRANDS_PER_CATEGORY + 1) ** 0.7
    brand_slot = rng.choice(BRANDS_PER_CATEGORY, n_items, p=brand_share / brand_share.sum())
    brand = category_brands[category, brand_slot]
    brand_quality = rng.normal(0.0, 0.45, len(BRANDS))
    quality = brand_quality[brand] + rng.normal(0.0, 0.8, n_items)

    median_price = np.array([spec.median_price for spec in CATEGORIES])
    price_spread = np.array([spec.price_spread for spec in CATEGORIES])
    raw_price = np.exp(np.log(median_price[category]) + price_spread[category] * rng.normal(size=n_items) + 0.08 * quality)
    raw_price = np.maximum(raw_price, 2.0)
    # Shops like charm prices: x.99 mostly, x.49 sometimes, otherwise an exact cent amount.
    ending = rng.random(n_items)
    price = np.where(ending < 0.55, np.floor(raw_price) + 0.99, np.where(ending < 0.65, np.floor(raw_price) + 0.49, raw_price))
    price = np.round(price, 2)

    # Zipf-like popularity inside each category, nudged by quality.
    popularity = np.empty(n_items)
    for category_index in range(n_categories):
        members = np.flatnonzero(category == category_index)
        ranks = rng.permutation(len(members)) + 1
        popularity[members] = ranks ** -1.1
    popularity *= np.exp(0.3 * quality)

    return_weight = np.array([spec.return_propensity for spec in CATEGORIES])
    return_propensity = return_weight[category] * np.exp(-0.35 * quality)

    keys, members_by_theme = [], []
    for theme_index in range(n_themes):
        members = np.flatnonzero(theme == theme_index)
        shares = np.cumsum(popularity[members])
        shares /= shares[-1]
        shares[-1] = 1.0
        keys.append(theme_index + shares)
        members_by_theme.append(members)

    noun = np.floor(rng.random(n_items) * np.array([len(CATEGORIES[c].nouns) for c in category])).astype(int)
    colour = rng.integers(0, len(COLOURS), n_items)
    words = rng.random((n_items, 10)).tolist()
    numbers = rng.integers(2, 13, (n_items, 3)).tolist()
    titles, descriptions, spoken_nouns = [], [], []
    for index in range(n_items):
        spec = CATEGORIES[category[index]]
        theme_spec = THEMES[theme[index]]
        title_noun, spoken = spec.nouns[noun[index]]
        draw = words[index]
        brand_text = BRANDS[brand[index]]
        adjective = TITLE_ADJECTIVES[int(draw[0] * len(TITLE_ADJECTIVES))]
        qualifier = theme_spec.qualifiers[int(draw[1] * len(theme_spec.qualifiers))]
        colour_text = COLOURS[colour[index]]
        pattern = int(draw[2] * 6)
        if pattern == 0:
            title = f"{brand_text} {qualifier} {title_noun}"
        elif pattern == 1:
            title = f"{brand_text} {adjective} {title_noun} - {colour_text}"
        elif pattern == 2:
            title = f"{brand_text} {title_noun}, {qualifier} Edition"
        elif pattern == 3:
            title = f"{adjective} {title_noun} by {brand_text}"
        elif pattern == 4:
            title = f"{brand_text} {qualifier} {adjective} {title_noun} ({colour_text})"
        else:
            title = f"{brand_text} {adjective} {title_noun} {numbers[index][0]}"
        use = theme_spec.use[int(draw[3] * len(theme_spec.use))]
        slots = {
            "material": spec.materials[int(draw[4] * len(spec.materials))],
            "spoken": spoken,
            "use": use,
            "brand": brand_text,
            "adjective": adjective.lower(),
            "an_adjective": ("An " if adjective[0] in "AEIOU" else "A ") + adjective.lower(),
            "guarantee_months": (6, 12, 24, 36)[int(draw[0] * 4)],
            "warranty_years": (1, 2, 3, 5)[int(draw[1] * 4)],
            "number": numbers[index][1],
            "colour_count": numbers[index][2],
            "big_number": numbers[index][0] * 1000,
            "grams": 40 + int(draw[5] * 2400),
            "width": 5 + int(draw[6] * 80),
            "depth": 3 + int(draw[7] * 50),
            "temperature": (30, 40, 60)[int(draw[8] * 3)],
            "colour": colour_text.lower(),
        }
        first_benefit = int(draw[9] * len(DESCRIPTION_BENEFITS))
        sentences = [
            DESCRIPTION_OPENINGS[int(draw[5] * len(DESCRIPTION_OPENINGS))],
            DESCRIPTION_BENEFITS[first_benefit],
            DESCRIPTION_BENEFITS[(first_benefit + 1 + int(draw[6] * 4)) % len(DESCRIPTION_BENEFITS)],
            DESCRIPTION_SPECS[int(draw[7] * len(DESCRIPTION_SPECS))],
        ]
        descriptions.append(" ".join(sentences[: 3 + (draw[8] < 0.6)]).format_map(slots))
        titles.append(title)
        spoken_nouns.append(spoken)

    table = TableBlock({
        "item_id": np.arange(1, n_items + 1, dtype=np.int64),
        "title": text_array(titles),
        "category": text_array([CATEGORY_NAMES[c] for c in category]),
        "brand": text_array([BRANDS[b] for b in brand]),
        "price": price,
        "description": text_array(descriptions),
    })
    return Catalogue(
        category=category,
        theme=theme,
        brand=brand,
        price=price,
        quality=quality,
        return_propensity=return_propensity,
        colour=colour,
        spoken_noun=spoken_nouns,
        brand_name=[BRANDS[b] for b in brand],
        price_text=[f"${value:.2f}" for value in price],
        size_kind=[CATEGORIES[c].size_kind for c in category],
        table=table,
        theme_keys=np.concatenate(keys),
        theme_items=np.concatenate(members_by_theme),
        theme_preference=theme_preference,
    )


# --------------------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------------------


def pick(options: tuple, draw: float):
    return options[int(draw * len(options))]


def personal_data_sentence(sentences: tuple[str, ...], draws: list[float], digits: list[int]) -> str:
    """A sentence carrying an email, a phone number or a card number (reserved example values)."""
    first, last = pick(FIRST_NAMES, draws[0]), pick(LAST_NAMES, draws[1])
    email = pick((f"{first}.{last}@{pick(EMAIL_DOMAINS, draws[2])}", f"{first}{last}{digits[0] % 100}@{pick(EMAIL_DOMAINS, draws[2])}",
                  f"{first[0]}.{last}@{pick(EMAIL_DOMAINS, draws[2])}"), draws[3])
    phone = pick((f"+1 {200 + digits[1] % 800}-555-{digits[2] % 10000:04d}", f"(020) 7946 {digits[2] % 10000:04d}",
                  f"07700 900{digits[1] % 1000:03d}", f"+44 7700 900{digits[1] % 1000:03d}",
                  f"+1 ({200 + digits[1] % 800}) 555-{digits[2] % 10000:04d}"), draws[4])
    # A Visa-shaped number with a valid Luhn check digit, as a real card number has (masking checks it).
    number = "".join(f"{(4000 + digits[0] % 1000) if index == 0 else digits[index] % 10000:04d}" for index in range(4))[:15]
    number += luhn.calc_check_digit(number)
    groups = [number[start:start + 4] for start in range(0, 16, 4)]
    card = pick((" ".join(groups), "-".join(groups), "".join(groups)), draws[5])
    return pick(sentences, draws[6]).format(email=email, phone=phone, card=card)


def compose_review_comments(rng: np.random.Generator, tones: np.ndarray, items: np.ndarray, catalogue: Catalogue) -> list[str | None]:
    """Review comments whose sentiment follows `tones` (1..5), built from phrase banks.

    All random draws are made up front as arrays; the loop only indexes into them.
    """
    n_reviews = len(tones)
    draws = rng.random((n_reviews, 26)).tolist()
    numbers = rng.integers(2, 15, (n_reviews, 5)).tolist()
    pii_digits = rng.integers(0, 10_000, (n_reviews, 4)).tolist()
    coprime_steps = (1, 2, 4, 5, 7, 8)
    comments: list[str | None] = []
    for index, (tone, item) in enumerate(zip(tones.tolist(), items.tolist(), strict=True)):
        draw = draws[index]
        if draw[0] < EMPTY_COMMENT_SHARE:
            comments.append(None)
            continue
        number = numbers[index]
        intensifier = pick(INTENSIFIERS, draw[1])
        slots = {
            "noun": catalogue.spoken_noun[item],
            "brand": catalogue.brand_name[item],
            "price": catalogue.price_text[item],
            "size": size_phrase(catalogue.size_kind[item], draw[2], number[0]),
            "days": number[1],
            "weeks": number[2],
            "months": number[3],
            "count": number[4],
            "use": pick(THEMES[catalogue.theme[item]].use, draw[3]),
            "colour": COLOURS[catalogue.colour[item]].lower(),
            "very": intensifier,
            "very_title": intensifier.capitalize(),
        }
        n_aspects = (2, 3, 3, 3, 4, 4, 4, 5)[int(draw[4] * 8)]
        first_aspect = int(draw[5] * ASPECT_COUNT)
        step = pick(coprime_steps, draw[6])
        aspects = [(first_aspect + k * step) % ASPECT_COUNT for k in range(n_aspects)]
        parts = [pick(REVIEW_OPENERS[tone], draw[7])]
        if draw[17] < 0.8:
            parts.append(pick(REVIEW_CONTEXTS, draw[15]))
        if tone == 5:
            parts += [pick(REVIEW_ASPECTS_POSITIVE[a], draw[8 + k]) for k, a in enumerate(aspects)]
        elif tone == 4:
            parts += [pick(REVIEW_ASPECTS_POSITIVE[a], draw[8 + k]) for k, a in enumerate(aspects[:4])]
            if draw[12] < 0.45:
                parts.append(pick(MINOR_COMPLAINT_INTROS, draw[13]).replace("{fragment}", pick(MILD_NEGATIVE_FRAGMENTS, draw[14])))
        elif tone == 3:
            # Mixed: praise and complaint in either order.
            positive = pick(REVIEW_ASPECTS_POSITIVE[aspects[0]], draw[8])
            complaint = pick(MIXED_CONNECTORS, draw[13]).replace("{fragment}", pick(MILD_NEGATIVE_FRAGMENTS, draw[14]))
            if draw[12] < 0.5:
                parts += [positive, complaint]
            else:
                parts += [pick(REVIEW_ASPECTS_NEGATIVE[aspects[0]], draw[9]),
                          pick(CONCESSIONS, draw[15]).replace("{fragment}", pick(MILD_POSITIVE_FRAGMENTS, draw[16]))]
            if n_aspects >= 3:
                parts.append(pick(REVIEW_ASPECTS_NEGATIVE[aspects[1]], draw[10]) if draw[17] < 0.5
                             else pick(REVIEW_ASPECTS_POSITIVE[aspects[1]], draw[10]))
        elif tone == 2:
            parts += [pick(REVIEW_ASPECTS_NEGATIVE[a], draw[8 + k]) for k, a in enumerate(aspects[:4])]
            if draw[12] < 0.35:
                parts.insert(2, pick(CONCESSIONS, draw[15]).replace("{fragment}", pick(MILD_POSITIVE_FRAGMENTS, draw[16])))
        else:
            parts += [pick(REVIEW_ASPECTS_NEGATIVE[a], draw[8 + k]) for k, a in enumerate(aspects)]
        if draw[18] < 0.8:
            parts.append(pick(REVIEW_CLOSERS[tone], draw[19]))
        if draw[20] < 0.15 and len(parts) > 2 and parts[1].endswith("."):
            parts[1] = parts[1][:-1] + pick(HEDGES, draw[21])
        if tone in (1, 5) and draw[22] < 0.4 and parts[-1].endswith("."):
            parts[-1] = parts[-1][:-1] + ("!" if draw[22] < 0.3 else "!!!")
        if draw[23] < 0.07:
            parts.append(pick(HAPPY_EMOTICONS if tone >= 4 else SAD_EMOTICONS, draw[24]))
        if draw[25] < REVIEW_PERSONAL_DATA_SHARE:
            parts.append(personal_data_sentence(REVIEW_PERSONAL_DATA_SENTENCES, draws[index][1:8], pii_digits[index]))
        separator = "\n" if draw[24] > 0.9 else " "
        comments.append(separator.join(parts).format_map(slots))
    return comments


def compose_support_messages(
    rng: np.random.Generator,
    tones: np.ndarray,
    topics: np.ndarray,
    order_numbers: np.ndarray,
    items: np.ndarray,
    catalogue: Catalogue,
    order_width: int,
) -> list[str | None]:
    """Support messages by tone (angry/neutral/polite) and topic. Topics below
    len(SUPPORT_ORDER_PROBLEMS) are about the order in `order_numbers`; the rest are account topics."""
    n_messages = len(tones)
    draws = rng.random((n_messages, 14)).tolist()
    numbers = rng.integers(2, 15, (n_messages, 3)).tolist()
    pii_digits = rng.integers(0, 10_000, (n_messages, 4)).tolist()
    n_order_topics = len(SUPPORT_ORDER_PROBLEMS)
    messages: list[str | None] = []
    for index in range(n_messages):
        draw = draws[index]
        if draw[0] < MISSING_MESSAGE_SHARE:
            messages.append(None)
            continue
        tone, topic, item = int(tones[index]), int(topics[index]), int(items[index])
        number = numbers[index]
        if topic < n_order_topics:
            problems = SUPPORT_ORDER_PROBLEMS[topic]
            slots = {
                "order": format_id("O", int(order_numbers[index]), order_width),
                "noun": catalogue.spoken_noun[item],
                "price": catalogue.price_text[item],
                "size": size_phrase(catalogue.size_kind[item], draw[1], number[0]),
                "days": number[1],
                "count": number[2],
            }
        else:
            problems = SUPPORT_ACCOUNT_PROBLEMS[topic - n_order_topics]
            slots = {"days": number[1], "count": number[2]}
        problem_first = int(draw[2] * len(problems))
        parts = [pick(SUPPORT_GREETINGS[tone], draw[3]), problems[problem_first]]
        if draw[4] < 0.5:
            parts.append(problems[(problem_first + 1) % len(problems)])
        parts.append(pick(SUPPORT_REQUESTS[tone], draw[5]))
        parts.append(pick(SUPPORT_SIGN_OFFS[tone], draw[6]))
        if draw[7] < SUPPORT_PERSONAL_DATA_SHARE:
            parts.insert(len(parts) - 1, personal_data_sentence(PERSONAL_DATA_SENTENCES, draw[8:14] + [draw[1]], pii_digits[index]))
        if tone == ANGRY and draw[9] < 0.3 and parts[1].endswith("."):
            parts[1] = parts[1][:-1] + "!!"
        greeting, body = parts[0], " ".join(part for part in parts[1:] if part)
        # Letter-style greetings ("Hi team,") go on their own line, as people type them.
        text = (greeting + ("\n" if greeting.endswith(",") else " ") + body) if greeting else body
        messages.append(text.format_map(slots))
    return messages


# --------------------------------------------------------------------------------------------------
# Users and everything they do, one block of users at a time
# --------------------------------------------------------------------------------------------------


@dataclass
class IdCounters:
    """Next free number per id sequence. Blocks are generated in order whatever the chunk size, so
    the numbering is the same for every chunk size."""

    next_order: int = 1
    next_event: int = 1
    next_review: int = 1
    next_conversation: int = 1
    next_extra_user: int = 1
    next_extra_item: int = 1
    next_unknown: dict[str, int] = field(default_factory=lambda: {"user": 0, "item": 0, "order": 0})

    def allocate(self, sequence: str, count: int) -> np.ndarray:
        start = getattr(self, f"next_{sequence}")
        setattr(self, f"next_{sequence}", start + count)
        return np.arange(start, start + count, dtype=np.int64)

    def unknown(self, entity: str, count: int, widths: IdWidths) -> np.ndarray:
        """Numbers one digit longer than any real id of the entity: they reference nothing."""
        start = self.next_unknown[entity]
        self.next_unknown[entity] = start + count
        return 10 ** widths.of(entity) + np.arange(start, start + count, dtype=np.int64)


def group_starts(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def uniform_seconds(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return rng.uniform(low, high, size).astype(np.int64)


def generate_block(
    block_index: int,
    first_user_number: int,
    n_users: int,
    catalogue: Catalogue,
    seed: int,
    counters: IdCounters,
    widths: IdWidths,
) -> dict[str, TableBlock]:
    """Users first_user_number.. and everything they do: orders, lines, events, reviews, support.

    All draws come from the block's own stream, and users only interact through the shared catalogue,
    so a block's rows do not depend on which other blocks share its chunk.
    """
    rng = random_generator(seed, STREAM_USERS, block_index)
    n_themes = len(THEMES)

    # --- users and their latent traits -------------------------------------------------------
    user_numbers = first_user_number + np.arange(n_users, dtype=np.int64)
    signed_up_at = WINDOW_START_SECONDS + (rng.beta(1.4, 1.0, n_users) * (WINDOW_SECONDS - 2 * SECONDS_PER_DAY)).astype(np.int64)
    country = np.array(COUNTRIES, dtype=object)[rng.choice(len(COUNTRIES), n_users, p=COUNTRY_SHARE / COUNTRY_SHARE.sum())]
    browse_only = rng.random(n_users) < BROWSE_ONLY_SHARE
    purchase_rate = rng.gamma(PURCHASE_RATE_SHAPE, PURCHASE_RATE_SCALE, n_users) * ~browse_only
    dropout_chance = rng.beta(DROPOUT_BETA_A, DROPOUT_BETA_B, n_users)
    spend_level = rng.gamma(2.0, 0.5, n_users)
    mood = rng.normal(0.0, 0.5, n_users)
    # 1-3 preferred themes, drawn without replacement in proportion to theme popularity (Gumbel top-k).
    theme_keys = np.log(catalogue.theme_preference) + rng.gumbel(size=(n_users, n_themes))
    preferred_themes = np.argsort(-theme_keys, axis=1, kind="stable")[:, :3]
    n_preferred = rng.choice(3, n_users, p=[0.35, 0.40, 0.25]) + 1
    preference_weights = np.array([[1.0, 0.0, 0.0], [0.65, 0.35, 0.0], [0.5, 0.3, 0.2]])[n_preferred - 1]
    preference_cumulative = np.cumsum(preference_weights, axis=1)
    staples = catalogue.sample_items(rng, np.repeat(preferred_themes[:, 0], 2)).reshape(n_users, 2)

    # --- orders: BG/NBD story --------------------------------------------------------------
    # While alive a user buys as a Poisson process; after each purchase they drop out with their own
    # chance, raised by a bad experience or by a slow support answer. Draw the whole potential
    # sequence, then keep each user's orders up to and including the first dropout.
    span_seconds = WINDOW_END_SECONDS - signed_up_at - SECONDS_PER_HOUR
    potential_counts = np.minimum(rng.poisson(purchase_rate * span_seconds / SECONDS_PER_DAY), MAX_POTENTIAL_ORDERS)
    potential_user = np.repeat(np.arange(n_users), potential_counts)
    n_potential = len(potential_user)
    sorted_keys = np.sort(potential_user + rng.random(n_potential))
    fraction = sorted_keys - potential_user
    potential_time = signed_up_at[potential_user] + 600 + (fraction * (span_seconds[potential_user] - 600)).astype(np.int64)
    experience = mood[potential_user] + rng.normal(0.0, 1.0, n_potential)
    bad_experience = experience < BAD_EXPERIENCE_THRESHOLD
    contacted = rng.random(n_potential) < CONTACT_BASE + CONTACT_AFTER_BAD_EXPERIENCE * bad_experience
    response_minutes = rng.lognormal(np.log(150.0), 1.5, n_potential)
    slow_support = contacted & (response_minutes > SLOW_SUPPORT_MINUTES)
    dropout = np.clip(dropout_chance[potential_user] + BAD_EXPERIENCE_DROPOUT * bad_experience
                      + SLOW_SUPPORT_DROPOUT * slow_support, 0.0, 0.95)
    dropped = (rng.random(n_potential) < dropout).astype(np.int64)
    dropouts_before = np.cumsum(dropped) - dropped
    dropouts_before -= dropouts_before[np.repeat(group_starts(potential_counts), potential_counts)]
    kept = dropouts_before == 0

    order_user = potential_user[kept]
    ordered_at = potential_time[kept]
    experience = experience[kept]
    contacted = contacted[kept]
    response_minutes = response_minutes[kept]
    n_orders = len(order_user)
    order_numbers = counters.allocate("order", n_orders)

    # --- order lines -----------------------------------------------------------------------
    lines_per_order = np.searchsorted(np.cumsum(LINES_PER_ORDER_SHARE), rng.random(n_orders), side="right") + 1
    lines_per_order = np.minimum(lines_per_order, len(LINES_PER_ORDER_SHARE))
    line_order = np.repeat(np.arange(n_orders), lines_per_order)
    line_user = order_user[line_order]
    n_lines = len(line_order)
    preference_slot = np.minimum((rng.random(n_orders)[:, None] >= preference_cumulative[order_user]).sum(axis=1),
                                 n_preferred[order_user] - 1)
    order_theme = preferred_themes[order_user, preference_slot]
    line_theme = order_theme[line_order]
    theme_draw = rng.random(n_lines)
    other_slot = np.floor(rng.random(n_lines) * n_preferred[line_user]).astype(np.int64)
    from_other_preference = (theme_draw >= ORDER_THEME_SHARE) & (theme_draw < ORDER_THEME_SHARE + OTHER_PREFERENCE_SHARE)
    line_theme = np.where(from_other_preference, preferred_themes[line_user, other_slot], line_theme)
    from_anywhere = theme_draw >= ORDER_THEME_SHARE + OTHER_PREFERENCE_SHARE
    line_theme = np.where(from_anywhere, rng.choice(n_themes, n_lines, p=catalogue.theme_preference), line_theme)
    # Big spenders lean to the pricier of two candidates, small spenders to the cheaper one.
    candidate_a = catalogue.sample_items(rng, line_theme)
    candidate_b = catalogue.sample_items(rng, line_theme)
    lean_pricier = spend_level[line_user] ** 1.5 / (1.0 + spend_level[line_user] ** 1.5)
    b_is_pricier = catalogue.price[candidate_b] > catalogue.price[candidate_a]
    choose_b = np.where(b_is_pricier, rng.random(n_lines) < lean_pricier, rng.random(n_lines) < 1.0 - lean_pricier)
    line_item = np.where(choose_b, candidate_b, candidate_a)
    rebuy_staple = rng.random(n_lines) < STAPLE_SHARE
    staple_slot = rng.integers(0, 2, n_lines)
    line_item = np.where(rebuy_staple, staples[line_user, staple_slot], line_item)
    # One line per (order, item): drop repeats inside an order, keep the original line order.
    _, first_rows = np.unique(line_order * catalogue.n_items + line_item, return_index=True)
    keep_rows = np.sort(first_rows)
    line_order, line_item = line_order[keep_rows], line_item[keep_rows]
    line_user = order_user[line_order]
    n_lines = len(line_order)
    lines_per_order = np.bincount(line_order, minlength=n_orders)
    line_starts = group_starts(lines_per_order)
    quantity = 1 + (rng.random(n_lines) < 0.14) * (1 + rng.poisson(0.35, n_lines))
    discount = np.where(rng.random(n_lines) < 0.2, rng.choice([0.10, 0.15, 0.20, 0.25, 0.30], n_lines), 0.0)
    unit_price = np.maximum(np.round(catalogue.price[line_item] * (1.0 - discount), 2), 0.01)

    # --- status: returns depend on category and item quality, both on the experience --------------
    if n_orders:
        order_return_propensity = np.maximum.reduceat(catalogue.return_propensity[line_item], line_starts)
        order_worst_quality = np.minimum.reduceat(catalogue.quality[line_item], line_starts)
    else:
        order_return_propensity = order_worst_quality = np.zeros(0)
    cancel_chance = CANCEL_BASE * np.exp(-0.35 * experience)
    return_chance = RETURN_BASE * order_return_propensity * np.exp(-0.45 * experience - 0.25 * order_worst_quality)
    status_draw = rng.random(n_orders)
    status = np.where(status_draw < cancel_chance, CANCELLED,
                      np.where(status_draw < cancel_chance + return_chance, RETURNED, COMPLETED))

    # --- reviews -------------------------------------------------------------------------------
    line_experience = experience[line_order]
    line_status = status[line_order]
    review_chance = REVIEW_BASE + REVIEW_PER_EXTREMITY * np.abs(line_experience)
    reviewed = (line_status != CANCELLED) & (rng.random(n_lines) < review_chance)
    review_lines = np.flatnonzero(reviewed)
    review_latent = (4.05 + 0.55 * catalogue.quality[line_item[review_lines]] + 0.7 * line_experience[review_lines]
                     - 0.9 * (line_status[review_lines] == RETURNED) + rng.normal(0.0, 0.55, len(review_lines)))
    rating = np.searchsorted(RATING_THRESHOLDS, review_latent) + 1
    review_delay = (2.0 + rng.gamma(2.0, 2.5, len(review_lines))) * SECONDS_PER_DAY
    created_at = ordered_at[line_order[review_lines]] + review_delay.astype(np.int64)
    review_user = order_user[line_order[review_lines]]
    review_item = line_item[review_lines]
    # Inside the window only, and one review per user and item (a repeat purchase is not reviewed twice).
    in_window = created_at < WINDOW_END_SECONDS
    _, first_reviews = np.unique(review_user * catalogue.n_items + review_item + ~in_window * (n_users * catalogue.n_items),
                                 return_index=True)
    keep_reviews = np.sort(first_reviews[in_window[first_reviews]])
    rating, created_at = rating[keep_reviews], created_at[keep_reviews]
    review_user, review_item = review_user[keep_reviews], review_item[keep_reviews]
    # The text follows the rating, with a neighbouring tone now and then.
    tone_shift = np.where(rng.random(len(rating)) < 0.12, rng.choice([-1, 1], len(rating)), 0)
    review_tone = np.clip(rating + tone_shift, 1, 5)
    comments = compose_review_comments(rng, review_tone, review_item, catalogue)

    # --- support conversations ----------------------------------------------------------------
    contact_orders = np.flatnonzero(contacted)
    n_order_contacts = len(contact_orders)
    order_opened_at = ordered_at[contact_orders] + uniform_seconds(rng, SECONDS_PER_HOUR, 10 * SECONDS_PER_DAY, n_order_contacts)
    contact_experience = experience[contact_orders]
    tone_draw = rng.random(n_order_contacts)
    angry_share = np.where(contact_experience < -1.5, 0.6, np.where(contact_experience < -0.5, 0.35, 0.12))
    polite_share = np.where(contact_experience < -1.5, 0.1, np.where(contact_experience < -0.5, 0.2, 0.43))
    order_tone = np.where(tone_draw < angry_share, ANGRY, np.where(tone_draw < 1.0 - polite_share, NEUTRAL, POLITE))
    n_order_topics = len(SUPPORT_ORDER_PROBLEMS)
    order_topic = rng.integers(0, n_order_topics, n_order_contacts)
    # Cancelled orders are mostly about cancelling, returned ones about refunds.
    contact_status = status[contact_orders]
    topic_follows_status = rng.random(n_order_contacts) < 0.6
    order_topic = np.where(topic_follows_status & (contact_status == CANCELLED), 5, order_topic)
    order_topic = np.where(topic_follows_status & (contact_status == RETURNED), 4, order_topic)

    account_contacts = rng.poisson(ACCOUNT_CONTACTS_PER_USER, n_users)
    account_user = np.repeat(np.arange(n_users), account_contacts)
    n_account_contacts = len(account_user)
    account_opened_at = signed_up_at[account_user] + (rng.random(n_account_contacts)
                                                      * (WINDOW_END_SECONDS - signed_up_at[account_user])).astype(np.int64)
    account_tone = rng.choice(3, n_account_contacts, p=[0.15, 0.5, 0.35])
    account_topic = n_order_topics + rng.integers(0, len(SUPPORT_ACCOUNT_PROBLEMS), n_account_contacts)

    support_user = np.concatenate([order_user[contact_orders], account_user])
    opened_at = np.concatenate([order_opened_at, account_opened_at])
    support_minutes = np.concatenate([response_minutes[contact_orders], rng.lognormal(np.log(150.0), 1.5, n_account_contacts)])
    first_response_at = opened_at + np.maximum((support_minutes * 60).astype(np.int64), 60)
    support_tone = np.concatenate([order_tone, account_tone])
    support_topic = np.concatenate([order_topic, account_topic])
    support_order = np.concatenate([contact_orders, np.zeros(n_account_contacts, dtype=np.int64)])
    satisfaction_latent = (4.7 - 0.5 * np.log1p(support_minutes / 60.0) - TONE_PENALTY[support_tone]
                           + rng.normal(0.0, 0.6, len(support_user)))
    satisfaction = np.clip(np.rint(satisfaction_latent), 1, 5)
    satisfaction[rng.random(len(support_user)) < SATISFACTION_MISSING_SHARE] = np.nan
    answered_in_window = first_response_at < WINDOW_END_SECONDS
    support_order_sort = np.lexsort((opened_at, support_user))
    support_rows = support_order_sort[answered_in_window[support_order_sort]]
    support_user, opened_at, first_response_at = support_user[support_rows], opened_at[support_rows], first_response_at[support_rows]
    satisfaction, support_tone, support_topic = satisfaction[support_rows], support_tone[support_rows], support_topic[support_rows]
    support_order = support_order[support_rows]
    support_item = line_item[line_starts[support_order]] if n_orders else np.zeros(len(support_rows), dtype=np.int64)
    messages = compose_support_messages(rng, support_tone, support_topic, order_numbers[support_order] if n_orders
                                        else np.zeros(len(support_rows), dtype=np.int64), support_item, catalogue, widths.order)

    # --- events: browsing before buying, plus sessions that end without a purchase ------------------
    line_time = ordered_at[line_order]
    viewed = rng.random(n_lines) < 0.62
    view_offset = np.where(rng.random(n_lines) < 0.25, rng.uniform(SECONDS_PER_DAY, 7 * SECONDS_PER_DAY, n_lines),
                           rng.uniform(120, 90 * 60, n_lines))
    carted = np.where(viewed, rng.random(n_lines) < 0.55, rng.random(n_lines) < 0.2)
    cart_offset = np.where(viewed, view_offset * rng.uniform(0.02, 0.9, n_lines), rng.uniform(30, 30 * 60, n_lines))
    searched = rng.random(n_orders) < 0.22
    logged_in = rng.random(n_orders) < 0.18

    orders_per_user = np.bincount(order_user, minlength=n_users)
    last_order_at = np.full(n_users, -1, dtype=np.int64)
    if n_orders:
        np.maximum.at(last_order_at, order_user, ordered_at)
    active_until = np.where(orders_per_user > 0, last_order_at + 45 * SECONDS_PER_DAY,
                            signed_up_at + (rng.exponential(60.0, n_users) * SECONDS_PER_DAY).astype(np.int64))
    active_until = np.minimum(active_until, WINDOW_END_SECONDS - 1)
    active_months = (active_until - signed_up_at) / (30.0 * SECONDS_PER_DAY)
    session_rate = (BROWSE_SESSIONS_PER_MONTH + BROWSE_SESSIONS_PER_MONTH_PER_RATE * purchase_rate
                    + BROWSE_ONLY_SESSIONS_PER_MONTH * browse_only)
    sessions = rng.poisson(active_months * session_rate)
    session_user = np.repeat(np.arange(n_users), sessions)
    n_sessions = len(session_user)
    session_start = signed_up_at[session_user] + (rng.random(n_sessions) * (active_until - signed_up_at)[session_user]).astype(np.int64)
    views_per_session = rng.geometric(0.45, n_sessions)
    session_view = np.repeat(np.arange(n_sessions), views_per_session)
    view_user = session_user[session_view]
    view_slot = np.minimum((rng.random(len(session_view))[:, None] >= preference_cumulative[view_user]).sum(axis=1),
                           n_preferred[view_user] - 1)
    browse_item = catalogue.sample_items(rng, preferred_themes[view_user, view_slot])
    view_step = np.arange(len(session_view)) - group_starts(views_per_session)[session_view]
    browse_view_time = session_start[session_view] + view_step * uniform_seconds(rng, 20, 300, len(session_view))
    browse_carted = rng.random(len(session_view)) < 0.12
    session_searched = rng.random(n_sessions) < 0.5
    session_logged_in = rng.random(n_sessions) < 0.3

    event_parts = [
        # (user index, item index or -1, event type, time)
        (line_user[viewed], line_item[viewed], VIEW, line_time[viewed] - view_offset[viewed].astype(np.int64)),
        (line_user[carted], line_item[carted], ADD_TO_CART, line_time[carted] - cart_offset[carted].astype(np.int64)),
        (order_user[searched], None, SEARCH, ordered_at[searched] - uniform_seconds(rng, 300, 7200, int(searched.sum()))),
        (order_user[logged_in], None, LOGIN, ordered_at[logged_in] - uniform_seconds(rng, 300, 9000, int(logged_in.sum()))),
        (view_user, browse_item, VIEW, browse_view_time),
        (view_user[browse_carted], browse_item[browse_carted], ADD_TO_CART,
         browse_view_time[browse_carted] + uniform_seconds(rng, 10, 200, int(browse_carted.sum()))),
        (session_user[session_searched], None, SEARCH, session_start[session_searched] - uniform_seconds(rng, 5, 60, int(session_searched.sum()))),
        (session_user[session_logged_in], None, LOGIN,
         session_start[session_logged_in] - uniform_seconds(rng, 60, 120, int(session_logged_in.sum()))),
    ]
    event_user = np.concatenate([part[0] for part in event_parts])
    event_item = np.concatenate([part[1] if part[1] is not None else np.full(len(part[0]), -1) for part in event_parts])
    event_type = np.concatenate([np.full(len(part[0]), part[2]) for part in event_parts])
    occurred_at = np.concatenate([part[3] for part in event_parts])
    # Nobody browses as a user before signing up, and nothing happens after the window.
    occurred_at = np.clip(occurred_at, signed_up_at[event_user], WINDOW_END_SECONDS - 1)
    event_rows = np.lexsort((event_type, occurred_at, event_user))

    # --- assemble tables with ids ------------------------------------------------------------
    event_items = event_item[event_rows]
    tables = {
        "users": TableBlock({"user_id": user_numbers, "signed_up_at": signed_up_at, "country": country}),
        "orders": TableBlock({
            "order_id": order_numbers,
            "user_id": user_numbers[order_user],
            "ordered_at": ordered_at,
            "status": np.array(ORDER_STATUSES, dtype=object)[status],
        }),
        "order_items": TableBlock({
            "order_id": order_numbers[line_order],
            "item_id": line_item.astype(np.int64) + 1,
            "quantity": quantity.astype(np.int64),
            "unit_price": unit_price,
        }),
        "events": TableBlock({
            "event_id": counters.allocate("event", len(event_rows)),
            "user_id": user_numbers[event_user[event_rows]],
            "item_id": np.where(event_items >= 0, event_items + 1, -1).astype(np.int64),
            "event_type": np.array(EVENT_TYPES, dtype=object)[event_type[event_rows]],
            "occurred_at": occurred_at[event_rows],
        }),
        "reviews": TableBlock({
            "review_id": counters.allocate("review", len(rating)),
            "user_id": user_numbers[review_user],
            "item_id": review_item.astype(np.int64) + 1,
            "rating": rating.astype(np.int64),
            "comment": text_array(comments),
            "created_at": created_at,
        }),
        "support_conversations": TableBlock({
            "conversation_id": counters.allocate("conversation", len(support_user)),
            "user_id": user_numbers[support_user],
            "opened_at": opened_at,
            "first_response_at": first_response_at,
            "message": text_array(messages),
            "satisfaction_rating": satisfaction,
        }),
    }
    return tables


# --------------------------------------------------------------------------------------------------
# Dirty mode: defects at known rates, each making exactly one row fail exactly one check
# --------------------------------------------------------------------------------------------------

# The order in which the quarantine step checks a row; a row gets the first reason that applies.
QUARANTINE_REASONS = (
    "missing_required", "invalid_number", "invalid_timestamp", "invalid_rating", "invalid_enum",
    "non_positive_quantity", "negative_price", "timestamp_out_of_range", "response_before_open",
    "unknown_user", "unknown_item", "unknown_order", "duplicate", "duplicate_key",
)
TEXT_DEFECT_KINDS = ("empty", "whitespace_only", "very_long", "html", "emoji", "non_english")
TEXT_COLUMN = {"reviews": "comment", "support_conversations": "message"}
# Nullable in the input contract (macros/raw_contract.sql): never nulled as a missing_required defect.
OPTIONAL_COLUMNS = {("users", "signed_up_at"), ("users", "country"), ("items", "title"), ("items", "category"),
                    ("items", "brand"), ("items", "price"), ("items", "description"), ("events", "item_id"),
                    ("reviews", "item_id"), ("reviews", "comment"), ("support_conversations", "message"),
                    ("support_conversations", "satisfaction_rating")}
# Required columns nulled by missing_required defects, cycled through in this order.
NULLED_COLUMNS = {
    "users": ("user_id",),
    "items": ("item_id",),
    "orders": ("ordered_at", "status", "user_id", "order_id"),
    "order_items": ("quantity", "unit_price", "item_id", "order_id"),
    "events": ("occurred_at", "event_type", "user_id", "event_id"),
    "reviews": ("rating", "created_at", "user_id", "review_id"),
    "support_conversations": ("opened_at", "first_response_at", "user_id", "conversation_id"),
}
# Reasons injected per table. Parent tables (users, items, orders) only get extra rows that nothing
# references, so a rejected parent never turns its children into unknown_* rows.
PLANNED_REASONS = {
    "users": ("missing_required", "invalid_timestamp", "timestamp_out_of_range", "duplicate", "duplicate_key"),
    "items": ("missing_required", "invalid_number", "negative_price", "duplicate", "duplicate_key"),
    "orders": ("missing_required", "invalid_timestamp", "invalid_enum", "timestamp_out_of_range", "unknown_user",
               "duplicate", "duplicate_key"),
    "order_items": ("missing_required", "invalid_number", "non_positive_quantity", "negative_price", "unknown_item",
                    "unknown_order", "duplicate", "duplicate_key"),
    "events": ("missing_required", "invalid_timestamp", "invalid_enum", "timestamp_out_of_range", "unknown_user",
               "unknown_item", "duplicate", "duplicate_key"),
    "reviews": ("missing_required", "invalid_timestamp", "invalid_rating", "timestamp_out_of_range", "unknown_user",
                "unknown_item", "duplicate", "duplicate_key"),
    "support_conversations": ("missing_required", "invalid_timestamp", "invalid_rating", "timestamp_out_of_range",
                              "response_before_open", "unknown_user", "duplicate", "duplicate_key"),
}
KEY_COLUMN = {"users": "user_id", "items": "item_id", "orders": "order_id", "events": "event_id",
              "reviews": "review_id", "support_conversations": "conversation_id"}
EXTRA_ID_SEQUENCE = {"users": "extra_user", "items": "extra_item", "orders": "order"}
TIMESTAMP_COLUMN = {"users": "signed_up_at", "orders": "ordered_at", "events": "occurred_at", "reviews": "created_at"}


class DefectLedger:
    """What the quarantine step must find: counts per table and reason, and text oddities."""

    def __init__(self) -> None:
        self.quarantine = {table: dict.fromkeys(PLANNED_REASONS[table], 0) for table in TABLE_NAMES}
        self.text = {table: dict.fromkeys(TEXT_DEFECT_KINDS, 0) for table in TEXT_COLUMN}

    def manifest(self, rows_written: dict[str, int]) -> dict:
        clean_rows = {table: rows_written[table] - sum(self.quarantine[table].values()) for table in TABLE_NAMES}
        return {"expected_quarantine": self.quarantine, "text_defects": self.text, "clean_rows": clean_rows}


def column_kind(table: str, column: str) -> str:
    return dict(TABLE_COLUMNS[table])[column]


def set_null(table: str, block: TableBlock, row: int, column: str) -> None:
    kind = column_kind(table, column)
    if kind == "id":
        block.columns[column][row] = -1
    elif kind == "text":
        block.columns[column][row] = None
    else:
        block.override(column, row, None)


def defective_text(kind: str, text: str | None, positive: bool, table: str, rng: np.random.Generator) -> str:
    def option(options):
        return options[int(rng.integers(len(options)))]

    base = text if text and text.strip() else "Great product, does what it says."
    if kind == "empty":
        return ""
    if kind == "whitespace_only":
        return option(WHITESPACE_ONLY)
    if kind == "very_long":
        return ((base + " ") * (VERY_LONG_LENGTH // (len(base) + 1) + 1))[:VERY_LONG_LENGTH]
    if kind == "html":
        first, _, rest = base.partition(". ")
        return option(HTML_WRAPPERS).format(text=base, first=first + ".", rest=rest or first)
    if kind == "emoji":
        return f"{base} {option(EMOJI_POSITIVE if positive else EMOJI_NEGATIVE)}"
    if table == "support_conversations":
        return option(NON_ENGLISH_SUPPORT)
    return option(NON_ENGLISH_POSITIVE if positive else NON_ENGLISH_NEGATIVE)


def inject_defects(
    table: str,
    block: TableBlock,
    rng: np.random.Generator,
    ledger: DefectLedger,
    counters: IdCounters,
    widths: IdWidths,
    block_index: int,
) -> TableBlock:
    """Add defects to one block of one table and count them in the ledger.

    Every defect goes into a row that is otherwise clean (rows are drawn without replacement from one
    permutation), so that each makes exactly one row fail exactly one check.
    """
    n_rows = len(block)
    if n_rows == 0:
        return block
    per_reason = max(1, round(DEFECT_RATE * n_rows))
    used = np.zeros(n_rows, dtype=bool)
    permutation = rng.permutation(n_rows)
    appended: list[TableBlock] = []

    def choose(count: int = per_reason, eligible: np.ndarray | None = None) -> np.ndarray:
        candidates = permutation[~used[permutation]]
        if eligible is not None:
            candidates = candidates[eligible[candidates]]
        chosen = np.sort(candidates[:count])
        used[chosen] = True
        return chosen

    def option(options):
        return options[int(rng.integers(len(options)))]

    def modify_rows(reason: str, mutate: Callable[[TableBlock, int, int], None], eligible: np.ndarray | None = None) -> None:
        rows = choose(eligible=eligible)
        for position, row in enumerate(rows):
            mutate(block, int(row), position)
        ledger.quarantine[table][reason] += len(rows)

    def extra_rows(reason: str, mutate: Callable[[TableBlock, int, int], None]) -> None:
        extra = block.take(choose())
        extra.columns[KEY_COLUMN[table]] = counters.allocate(EXTRA_ID_SEQUENCE[table], len(extra))
        for row in range(len(extra)):
            mutate(extra, row, row)
        appended.append(extra)
        ledger.quarantine[table][reason] += len(extra)

    def add_defect(reason: str, mutate: Callable[[TableBlock, int, int], None], eligible: np.ndarray | None = None) -> None:
        if table in EXTRA_ID_SEQUENCE:
            extra_rows(reason, mutate)
        else:
            modify_rows(reason, mutate, eligible)

    nulled = NULLED_COLUMNS[table]
    add_defect("missing_required", lambda b, row, k: set_null(table, b, row, nulled[k % len(nulled)]))

    if table == "users":
        add_defect("invalid_timestamp", lambda b, row, k: b.override("signed_up_at", row, option(INVALID_TIMESTAMPS)))
        add_defect("timestamp_out_of_range", lambda b, row, k: b.columns["signed_up_at"].__setitem__(row, option(OUT_OF_RANGE_SECONDS)))
    elif table == "items":
        add_defect("invalid_number", lambda b, row, k: b.override("price", row, option(INVALID_NUMBERS)))
        add_defect("negative_price", lambda b, row, k: b.columns["price"].__setitem__(row, option((-0.01, -1.0, -19.99))))
    elif table == "orders":
        add_defect("invalid_timestamp", lambda b, row, k: b.override("ordered_at", row, option(INVALID_TIMESTAMPS)))
        add_defect("invalid_enum", lambda b, row, k: b.columns["status"].__setitem__(row, option(INVALID_STATUSES)))
        add_defect("timestamp_out_of_range", lambda b, row, k: b.columns["ordered_at"].__setitem__(row, option(OUT_OF_RANGE_SECONDS)))
        add_defect("unknown_user", lambda b, row, k: b.columns["user_id"].__setitem__(row, counters.unknown("user", 1, widths)[0]))
    elif table == "order_items":
        add_defect("invalid_number", lambda b, row, k: b.override(("quantity", "unit_price")[k % 2], row, option(INVALID_NUMBERS)))
        add_defect("non_positive_quantity", lambda b, row, k: b.columns["quantity"].__setitem__(row, option((0, -1, -2))))
        add_defect("negative_price", lambda b, row, k: b.columns["unit_price"].__setitem__(row, option((-0.01, -1.0, -4.99))))
        add_defect("unknown_item", lambda b, row, k: b.columns["item_id"].__setitem__(row, counters.unknown("item", 1, widths)[0]))
        add_defect("unknown_order", lambda b, row, k: b.columns["order_id"].__setitem__(row, counters.unknown("order", 1, widths)[0]))
    else:
        timestamp_column = TIMESTAMP_COLUMN.get(table, "opened_at")
        add_defect("invalid_timestamp", lambda b, row, k: b.override(
            timestamp_column if table != "support_conversations" else ("opened_at", "first_response_at")[k % 2],
            row, option(INVALID_TIMESTAMPS)))
        if table == "events":
            add_defect("invalid_enum", lambda b, row, k: b.columns["event_type"].__setitem__(row, option(INVALID_EVENT_TYPES)))
        if table in ("reviews", "support_conversations"):
            rating_column = "rating" if table == "reviews" else "satisfaction_rating"
            add_defect("invalid_rating", lambda b, row, k: b.override(rating_column, row, option(INVALID_RATINGS)))
        if table == "support_conversations":
            # Opened long ago or answered far in the future, so the answer still follows the opening.
            def out_of_range(b: TableBlock, row: int, k: int) -> None:
                if k % 2:
                    b.columns["opened_at"][row] = option(OUT_OF_RANGE_PAST_SECONDS)
                else:
                    b.columns["first_response_at"][row] = option(OUT_OF_RANGE_FUTURE_SECONDS)

            add_defect("timestamp_out_of_range", out_of_range)
            add_defect("response_before_open", lambda b, row, k: b.columns["first_response_at"].__setitem__(
                row, b.columns["opened_at"][row] - int(rng.integers(60, 7200))))
        else:
            add_defect("timestamp_out_of_range", lambda b, row, k: b.columns[timestamp_column].__setitem__(
                row, option(OUT_OF_RANGE_SECONDS)))
        add_defect("unknown_user", lambda b, row, k: b.columns["user_id"].__setitem__(row, counters.unknown("user", 1, widths)[0]))
        if table in ("events", "reviews"):
            add_defect("unknown_item", lambda b, row, k: b.columns["item_id"].__setitem__(row, counters.unknown("item", 1, widths)[0]),
                       eligible=block.columns["item_id"] >= 0)

    if table in TEXT_COLUMN:
        column = TEXT_COLUMN[table]
        for kind in TEXT_DEFECT_KINDS:
            count = (1 if block_index % VERY_LONG_EVERY_BLOCKS == 0 else 0) if kind == "very_long" else per_reason
            rows = choose(count)
            for row in rows:
                if table == "reviews":
                    positive = block.columns["rating"][row] >= 4
                else:
                    positive = bool(block.columns["satisfaction_rating"][row] >= 4)
                block.columns[column][row] = defective_text(kind, block.columns[column][row], positive, table, rng)
            ledger.text[table][kind] += len(rows)

    # Exact copies, and copies with the same key but a different value in a column nobody checks.
    copies = block.take(choose())
    appended.append(copies)
    ledger.quarantine[table]["duplicate"] += len(copies)
    near_copies = block.take(choose())
    for row in range(len(near_copies)):
        columns = near_copies.columns
        if table == "users":
            shift = 1 + row % (len(COUNTRIES) - 1)  # never a full turn, so the country always changes
            columns["country"][row] = COUNTRIES[(COUNTRIES.index(columns["country"][row]) + shift) % len(COUNTRIES)]
        elif table == "items":
            columns["description"][row] = columns["description"][row] + " Updated listing."
        elif table == "orders":
            columns["status"][row] = ORDER_STATUSES[(ORDER_STATUSES.index(columns["status"][row]) + 1) % len(ORDER_STATUSES)]
        elif table == "order_items":
            columns["quantity"][row] += 1
        elif table == "events":
            columns["occurred_at"][row] += int(rng.integers(1, 600))
        else:
            column = TEXT_COLUMN[table]
            columns[column][row] = (columns[column][row] or "") + " (edited)"
    appended.append(near_copies)
    ledger.quarantine[table]["duplicate_key"] += len(near_copies)
    return concatenate_blocks([block, *appended])


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------

ARROW_TYPES = {"id": pa.string(), "text": pa.string(), "timestamp": pa.timestamp("us"), "money": pa.float64(),
               "integer": pa.int64(), "optional_integer": pa.int64()}


def output_schema(table: str, dirty: bool, file_format: str) -> pa.Schema:
    """Typed columns for clean Parquet. CSV timestamps are text ('YYYY-MM-DD HH:MM:SS', Arrow would
    add microseconds). In dirty mode every column is text, so 'five' and 'not a date' fit."""
    fields = []
    for name, kind in TABLE_COLUMNS[table]:
        if dirty or (file_format == "csv" and kind == "timestamp"):
            fields.append(pa.field(name, pa.string()))
        else:
            fields.append(pa.field(name, ARROW_TYPES[kind]))
    return pa.schema(fields)


def arrow_table(table: str, block: TableBlock, widths: IdWidths, dirty: bool, file_format: str) -> pa.Table:
    schema = output_schema(table, dirty, file_format)
    arrays = []
    for name, kind in TABLE_COLUMNS[table]:
        values = block.columns[name]
        if kind == "id":
            entity = ID_ENTITY[name]
            array = format_ids(ID_PREFIX[entity], values, widths.of(entity))
        elif kind == "text":
            array = pa.array(values, type=pa.string())
        elif kind == "timestamp":
            array = pa.array(values.astype("datetime64[s]"))
        elif kind == "money":
            array = pa.array(values, type=pa.float64())
        elif kind == "integer":
            array = pa.array(values, type=pa.int64())
        else:
            array = pa.array(values, type=pa.float64(), from_pandas=True).cast(pa.int64())
        array = array.cast(schema.field(name).type)
        if name in block.overrides:
            if not dirty:
                raise AssertionError(f"text overrides in clean mode: {table}.{name}")
            cells = sorted(block.overrides[name].items())
            mask = np.zeros(len(values), dtype=bool)
            mask[[row for row, _ in cells]] = True
            array = pc.replace_with_mask(array, pa.array(mask), pa.array([value for _, value in cells], type=pa.string()))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


class TableWriter:
    """Appends chunks to `<table>.<format>`. Writes to a temporary name first so that an interrupted
    run never leaves a complete-looking file behind."""

    def __init__(self, out_dir: Path, table: str, schema: pa.Schema, file_format: str):
        self.path = out_dir / f"{table}.{file_format}"
        self.partial_path = out_dir / f".{table}.{file_format}.partial"
        if file_format == "parquet":
            self.writer = pq.ParquetWriter(self.partial_path, schema, compression="zstd")
        else:
            self.writer = pa_csv.CSVWriter(self.partial_path, schema)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self.writer.close()
        self.partial_path.replace(self.path)


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def default_item_count(n_users: int) -> int:
    return max(500, n_users // 20)


def generate_shop(
    n_users: int,
    out_dir: str | Path,
    seed: int = 42,
    file_format: str = "parquet",
    n_items: int | None = None,
    dirty: bool = False,
    chunk_users: int = DEFAULT_CHUNK_USERS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write the seven shop tables to `out_dir` and return the number of rows written per table.

    `chunk_users` bounds memory: users are generated in blocks of BLOCK_USERS (the unit of randomness)
    and written every ceil(chunk_users / BLOCK_USERS) blocks, so the data does not depend on it.
    With `dirty`, defects are injected and `defects.json` describes them; otherwise any old
    `defects.json` is removed so it cannot describe data it does not belong to.
    """
    if n_users < 1:
        raise ValueError("n_users must be at least 1")
    if file_format not in ("parquet", "csv"):
        raise ValueError(f"file_format must be 'parquet' or 'csv', not {file_format!r}")
    if chunk_users < 1:
        raise ValueError("chunk_users must be at least 1")
    n_items = default_item_count(n_users) if n_items is None else n_items
    started = time.perf_counter()
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)

    def report(message: str) -> None:
        if progress is not None:
            progress(f"[{time.perf_counter() - started:7.1f}s] {message}")

    widths = IdWidths.for_sizes(n_users, n_items)
    counters = IdCounters(next_extra_user=n_users + 1, next_extra_item=n_items + 1)
    ledger = DefectLedger()
    catalogue = build_catalogue(n_items, seed)
    writers = {table: TableWriter(out_path, table, output_schema(table, dirty, file_format), file_format)
               for table in TABLE_NAMES}
    try:
        items = catalogue.table
        if dirty:
            items = inject_defects("items", items, random_generator(seed, STREAM_CATALOGUE_DEFECTS), ledger, counters, widths, 0)
        writers["items"].write(arrow_table("items", items, widths, dirty, file_format))
        report(f"catalogue: {n_items:,} items")

        n_blocks = -(-n_users // BLOCK_USERS)
        blocks_per_chunk = max(1, -(-chunk_users // BLOCK_USERS))
        n_chunks = -(-n_blocks // blocks_per_chunk)
        for chunk_index in range(n_chunks):
            pieces: dict[str, list[TableBlock]] = {table: [] for table in TABLE_NAMES if table != "items"}
            first_block = chunk_index * blocks_per_chunk
            for block_index in range(first_block, min(first_block + blocks_per_chunk, n_blocks)):
                first_user = block_index * BLOCK_USERS
                tables = generate_block(block_index, first_user + 1, min(BLOCK_USERS, n_users - first_user),
                                        catalogue, seed, counters, widths)
                if dirty:
                    defect_rng = random_generator(seed, STREAM_DEFECTS, block_index)
                    tables = {table: inject_defects(table, block, defect_rng, ledger, counters, widths, block_index)
                              for table, block in tables.items()}
                for table, block in tables.items():
                    pieces[table].append(block)
            for table, blocks in pieces.items():
                writers[table].write(arrow_table(table, concatenate_blocks(blocks), widths, dirty, file_format))
            users_done = min(n_users, (first_block + blocks_per_chunk) * BLOCK_USERS)
            report(f"chunk {chunk_index + 1}/{n_chunks}: {users_done:,} users, "
                   f"{writers['order_items'].rows:,} order lines, {writers['events'].rows:,} events")
    except BaseException:
        for writer in writers.values():
            writer.writer.close()
            writer.partial_path.unlink(missing_ok=True)
        raise
    for writer in writers.values():
        writer.close()
    rows_written = {table: writers[table].rows for table in TABLE_NAMES}
    manifest_path = out_path / "defects.json"
    if dirty:
        manifest_path.write_text(json.dumps(ledger.manifest(rows_written), indent=2) + "\n")
    else:
        manifest_path.unlink(missing_ok=True)
    report("done: " + ", ".join(f"{table} {count:,}" for table, count in rows_written.items()))
    return rows_written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ltv.cli import path_text, whole_number
    from ltv.shapes import SHAPES

    parser.add_argument("--users", type=whole_number(), required=True, help="number of users to generate (at least 1)")
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=42,
                        help="random seed, 0 to 4294967295 (default 42); the same seed writes the same shop")
    parser.add_argument("--out", type=path_text, required=True,
                        help="output folder (created if missing); one <table>.<format> file per raw table")
    parser.add_argument("--format", type=str.lower, choices=("parquet", "csv"), default="parquet",
                        help="file format, any case (default parquet)")
    parser.add_argument("--items", type=whole_number(len(THEMES)), default=None,
                        help=f"catalogue size, at least {len(THEMES)} (one item per theme); "
                             "default max(500, users // 20); --shape demo only")
    parser.add_argument("--dirty", action="store_true",
                        help="inject known defects and write defects.json; --shape demo only")
    parser.add_argument("--chunk-users", type=whole_number(1), default=DEFAULT_CHUNK_USERS,
                        help=f"users per written chunk; bounds memory (default {DEFAULT_CHUNK_USERS:,})")
    parser.add_argument("--shape", type=str.lower, choices=("demo", *SHAPES), default="demo",
                        help="demo (default: every table and column) or a shop shaped like a real export: "
                             + "; ".join(f"{name}: {description}" for name, description in SHAPES.items()).replace("%", "%%"))
    parser.set_defaults(generate_parser=parser)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "shape", "demo") != "demo":
        demo_only = [flag for flag, given in (("--items", args.items is not None), ("--dirty", args.dirty)) if given]
        if demo_only:
            args.generate_parser.error(f"{' and '.join(demo_only)} apply only to --shape demo, not --shape {args.shape}")
        from ltv.shapes import generate_shaped_shop
        counts = generate_shaped_shop(args.shape, args.users, args.out, seed=args.seed, file_format=args.format)
        print(f"wrote {sum(counts.values()):,} rows ({args.shape} shape) to {args.out}")
        return 0
    Path(args.out, "shape.json").unlink(missing_ok=True)  # left by a shaped run; it would describe other data
    counts = generate_shop(
        n_users=args.users,
        out_dir=args.out,
        seed=args.seed,
        file_format=args.format,
        n_items=args.items,
        dirty=args.dirty,
        chunk_users=args.chunk_users,
        progress=lambda message: print(message, flush=True),
    )
    print(f"wrote {sum(counts.values()):,} rows to {args.out}")
    return 0
