"""Remove personal data and hostile characters from free text before it is stored, hashed or scored.

Review and support texts are written by customers, who paste their e-mail address, phone number, card
number or IBAN into them. Everything downstream (the text hash that keys incremental scoring, the
sentiment models, the warehouse tables BI reads) only ever sees the cleaned and masked text:

    prepared = mask_personal_data(clean_text(raw_texts))    # = clean_and_mask_personal_data(raw_texts)

`clean_text` comes first so that HTML-escaped personal data ("john&#64;example.com") is decoded and
invisible characters that would split a number or an address are gone before the detectors look.

clean_text strips HTML tags and decodes entities, deletes control characters (C0 but the whitespace
ones, DEL, C1; NUL among them), the Unicode bidirectional controls (U+061C, U+200E, U+200F,
U+202A-U+202E: a right-to-left override makes a table show text that is not what is stored, U+2066-
U+2069) and the invisible U+200B, U+2060, U+FEFF and soft hyphen U+00AD, then collapses whitespace.
`neutralise_formula` applies the OWASP CSV-injection rule to a finished text (see there).

mask_personal_data's detectors, in the order they run (no token has a digit, so a later detector never
sees what an earlier one masked):

  [EMAIL]  a local-part@domain.tld regex, then the usual obfuscations: "john at example dot com",
           "john(at)example(dot)com", "john[at]example[dot]com", "john @ example . com". "at" and "dot"
           are English words, so spelled between spaces they count only with a common top-level domain
           ("look at it dot by dot" survives) or, with plain dots, for a known mailbox provider
           ("john at gmail.com" is masked, "bought it at amazon.com" survives).
  [IBAN]   two letters, two digits and 11-30 letters or digits, with or without single spaces (groups
           of four), any case; masked when python-stdnum's `stdnum.iban` accepts it: the country's
           length and format and the ISO 7064 mod-97 check digits. Before cards, so that an IBAN's
           digits are not half taken for a card ("DE89 [CARD] 00").
  [CARD]   13-19 digits, contiguous or in groups of 3-7 (the last 1-7) with one kind of separator
           (space, dot or dash), starting 2-6 (the networks' ranges) and valid by the Luhn checksum
           (`stdnum.luhn`). A mistyped (Luhn-invalid) number, a tracking number or a product code stays;
           a 13-digit number that is a valid EAN-13/ISBN-13 (`stdnum.ean`) is a product code, since
           13-digit card numbers are no longer issued.
  [PHONE]  Google's libphonenumber (`phonenumbers.PhoneNumberMatcher`), called only on runs of eight or
           more digits with the separators of phone numbers, with one character either side for the
           matcher's context check. Runs glued to a word (order number O00012345, INV-2024-000123) are
           skipped, and dates with a four-digit year are blanked out of a run first ("01.02.2024 12
           days" has the digits and grouping of a French number).
           * A number written with "+" and a country code is masked, whatever the regions, when its
             length is possible for that country (Leniency.POSSIBLE): the "+" is evidence enough, and
             so numbers allocated after the pinned metadata, or reserved ones such as the UK's drama
             range "+44 7700 900123", are masked too.
           * A national number is masked when it is valid (known ranges, not glued to letters, trunk
             prefix present where the country needs it) and grouped as its country groups numbers
             (Leniency.STRICT_GROUPING: "2024-000123" is not a US number) in `default_region`, or in
             one of `other_regions` when it starts with 0, the trunk prefix ("(020) 7946 0958",
             "030 12345678"; "0049 30 1234567" too, "00" being the international prefix there), or,
             for China, when it is an 11-digit mobile number ("138 0013 8000", "13800138000").
             From other regions an ungrouped number needs ten digits or more: "Serial 01086415" is a
             valid Italian number but more likely a serial number.

The default region is "US": a North American number is written without any prefix ("415-555-0132"),
so some region has to be assumed to read a bare ten-digit number, and the United States and Canada
(one numbering plan) are the shop's largest markets. A country whose national numbers start with the
trunk prefix 0 does not need to be the default, since the 0 marks them: `other_regions` defaults to the
shop's other markets that have one (GB, DE, FR, NL, IE, SE, AU, IT) plus China, whose mobile numbers
(11 digits, 1[3-9]…) are distinctive enough to look for whatever the default. Spain's nine-digit
numbers have no such mark: they are masked when written with +34, or with default_region="ES".

Precision matters as much as recall: prices (49.99, $1,299.00), quantities, shoe sizes, years, dates,
times, postal codes, order and tracking numbers and product codes carry the meaning of a review and
must survive. tests/python/test_pii_corpus.py measures both on a corpus of about a thousand cases.

Speed: each detector runs only on the rows that can contain a match, found by cheap regexes that
pandas runs in pyarrow's RE2 engine (no look-arounds, no "\\s"): "@" or an " at "/"(at)"-like separator
for e-mails, two letters, two digits and four more for IBANs, 13 close digits for cards, 8 close digits
not glued to a word (once dates are blanked) for phones. libphonenumber is slow per call (0.1-0.5 ms):
it only sees the digit runs, the region that the run's start points to goes first, the other regions
only until every digit of the run is in a number, and its answers are cached per run.
Measured on 100,000 texts, CPU time, median of five (caches emptied), one core of a busy machine:
  ~300 characters, 2 % with personal data, most rows with long numbers (order numbers, ZIP+4 codes,
  EANs): clean_text 0.25 s (0.20 s before this version), mask_personal_data 2.3 s (2.0 s before,
  when the EAN in 31 % of the rows was masked as a card);
  the demo generator's reviews (~250 characters, 1 % with personal data): clean_text 0.25 s
  (0.22 s), mask_personal_data 0.31 s (0.13 s).

clean_and_mask_personal_data does both on only the rows one RE2 scan finds either could change (on the
large generated shop's 1.27M texts: 12% of the rows; masking 9.3-10.3 -> 6.0-7.4 CPU-s, the same rows).

The package: this module holds the cleaning and the vectorised public functions, detectors.py the
detectors (one function per kind that masks a single text, and the row filters).

Limits: digits are ASCII 0-9 (a number in full-width digits is not masked); numbers spelled out or
split over odd separators ("0 7 7 0 0 …", "four one one one") are not recognised; a national number of
a country outside default_region/other_regions is found only with its "+"; an obfuscated address
needs "at" and "dot" written as above; a number that is also a valid phone number of one of the
regions is masked (an order number "0123456789" is a valid French number, an 11-digit one starting
13-19 a valid Chinese mobile number); two card numbers written back to back with the same separator
are not cut apart.
"""


from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import partial

import pandas as pd
import phonenumbers
import stdnum

from ltv.text_privacy.detectors import (
    CARD_TOKEN,
    DATE_RE2,
    DEFAULT_OTHER_REGIONS,
    DEFAULT_REGION,
    EMAIL,
    EMAIL_TOKEN,
    IBAN_TOKEN,
    MAYBE_CARD,
    MAYBE_IBAN,
    MAYBE_OBFUSCATED_EMAIL,
    MAYBE_PHONE,
    OBFUSCATED_EMAIL,
    PHONE_TOKEN,
    check_regions,
    mask_cards,
    mask_emails,
    mask_ibans,
    mask_phones,
    obfuscated_email_replacement,
)

# Masking depends on these as much as on the code: texts_masked keys its reuse on them too.
DETECTOR_LIBRARIES = f"phonenumbers {phonenumbers.__version__}, python-stdnum {stdnum.__version__}"

__all__ = ["CARD_TOKEN", "DEFAULT_OTHER_REGIONS", "DEFAULT_REGION", "DETECTOR_LIBRARIES", "EMAIL_TOKEN",
           "IBAN_TOKEN", "PHONE_TOKEN", "clean_and_mask_personal_data", "clean_text", "mask_personal_data", "mask_text", "neutralise_formula"]

# --- HTML, control characters and whitespace ---------------------------------------------------------
# Script and style bodies are not text; comments neither. A tag must start with a letter (or "/", "!")
# so that "<3" (a heart, which TextBlob scores) and "a < b" survive.
_HTML_BLOCKS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<![A-Za-z][^<>]*>")
# Characters deleted outright: C0 controls but the whitespace ones (tab, newline, CR, VT, FF and the
# separators 0x1C-0x1F, which become spaces below), DEL, C1 controls but NEL (whitespace), the bidi
# controls (ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI) and invisible characters that would
# split a number or address from the detectors (zero-width space, word joiner, BOM, soft hyphen).
# Written as literal characters, so that the same class works in Python's re and in RE2.
_DELETED_CHARACTERS = "".join(
    chr(code) for code in [*range(0x00, 0x09), *range(0x0E, 0x1C), *range(0x7F, 0x85), *range(0x86, 0xA0),
                           0x00AD, 0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), 0x2060,
                           *range(0x2066, 0x206A), 0xFEFF]
)
_CONTROL = re.compile("[" + "".join(re.escape(c) for c in _DELETED_CHARACTERS) + "]")
# Rows whose whitespace needs normalising: any whitespace other than a single space (tabs, newlines,
# the non-breaking space that "&nbsp;" turns into, ...), two spaces in a row, or a space at either end.
# The characters are listed literally rather than as \s so that pandas can run the filter in RE2;
# str.isspace() is the same Unicode definition Python's \s and str.split() use.
_WHITESPACE_CHARACTERS = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
_IRREGULAR_WHITESPACE = re.compile(
    "[" + "".join(re.escape(c) for c in _WHITESPACE_CHARACTERS if c != " ") + "]|  |^ | \\Z"
)
# OWASP CSV injection: a cell starting with one of these is a formula (or is made one) in a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_series(texts: pd.Series) -> pd.Series:
    """A copy of `texts` as the pandas string dtype (nulls kept as missing), with the same index."""
    if not isinstance(texts, pd.Series):
        texts = pd.Series(texts)
    return texts.astype("str") if texts.dtype != "str" else texts.copy()


def _rows(texts: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    """The rows `pattern` is found in. The pattern goes as a string, so that an inline "(?i)" does not
    send it to Python's re: written for RE2, it runs in pyarrow, many times faster over all rows."""
    return texts.str.contains(pattern.pattern, regex=True).fillna(False).astype(bool)


def _subset_rows(texts: pd.Series, rows: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    """The rows among `rows` that `pattern` is found in."""
    found = rows.copy()
    if found.any():
        found.loc[found] = _rows(texts.loc[found], pattern).to_numpy()
    return found


def _replace_where(texts: pd.Series, rows: pd.Series, pattern: re.Pattern[str], replacement) -> pd.Series:
    """Apply `pattern` only to `rows` (a boolean mask); scanning rows that cannot match is wasted time."""
    rows = rows.fillna(False).astype(bool)
    if rows.any():
        texts.loc[rows] = texts.loc[rows].str.replace(pattern, replacement, regex=True)
    return texts


def _map_where(texts: pd.Series, rows: pd.Series, function) -> pd.Series:
    """Apply a str -> str `function` only to `rows` (a boolean mask)."""
    if rows.any():
        texts.loc[rows] = texts.loc[rows].map(function)
    return texts


# --- public functions ---------------------------------------------------------------------------------


def mask_personal_data(texts: pd.Series, *, default_region: str = DEFAULT_REGION,
                       other_regions: Iterable[str] = DEFAULT_OTHER_REGIONS) -> pd.Series:
    """Replace e-mail addresses with [EMAIL], IBANs with [IBAN], card numbers with [CARD] and phone
    numbers with [PHONE] (see the package docstring for what each detector accepts).

    `default_region` is the ISO 3166 region whose national numbers are read without a prefix ("US": a
    bare "415-555-0132"); `other_regions` are recognised in their national format when it starts with
    the trunk prefix 0 (China also for its 11-digit mobiles). Numbers written with "+" and a country
    code are found whatever the regions ("00" too when one of the regions dials 00 abroad, as GB and
    DE do). Nulls stay null; the index is preserved. Ordinary numbers (prices, quantities, sizes,
    years, dates, postal codes, order numbers) are left as they are.
    """
    other_regions = check_regions(default_region, other_regions)
    masked = _as_text_series(texts)
    # E-mails first: a mailbox like "anna.1987@…" must not lose its digits to the number detectors.
    masked = _replace_where(masked, masked.str.contains("@", regex=False), EMAIL, EMAIL_TOKEN)
    masked = _replace_where(masked, _rows(masked, MAYBE_OBFUSCATED_EMAIL), OBFUSCATED_EMAIL,
                            obfuscated_email_replacement)
    masked = _map_where(masked, _rows(masked, MAYBE_IBAN), mask_ibans)
    # A card's 13 digits are also eight close digits: one scan of all rows finds the rows for both.
    numbers = _rows(masked, MAYBE_PHONE)
    masked = _map_where(masked, _subset_rows(masked, numbers, MAYBE_CARD), mask_cards)
    # Phones: the rows with eight close digits once their dates are blanked out (dates are common).
    phone_rows = numbers.copy()
    if phone_rows.any():
        without_dates = masked.loc[phone_rows].str.replace(DATE_RE2.pattern, " ", regex=True)
        phone_rows.loc[phone_rows] = _rows(without_dates, MAYBE_PHONE).to_numpy()
    phones = partial(mask_phones, default_region=default_region, other_regions=other_regions)
    return _map_where(masked, phone_rows, phones)


def mask_text(text: str | None, *, default_region: str = DEFAULT_REGION,
              other_regions: Iterable[str] = DEFAULT_OTHER_REGIONS) -> str | None:
    """`mask_personal_data` for one string (None stays None)."""
    if text is None:
        return None
    other_regions = check_regions(default_region, other_regions)
    text = mask_cards(mask_ibans(mask_emails(text)))
    return mask_phones(text, default_region, other_regions)


# The rows clean_text or mask_personal_data can change, in one RE2 scan: the characters clean_text deletes
# or turns into spaces, markup and entities ("<", "&"), two spaces or a space at either end, the empty
# text (which becomes null), "@", and the row filters of the other detectors. A row none of them is in
# comes out of both as it went in. RE2 syntax (run by pyarrow directly: pandas would hand "$" to
# Python's re, whose "$" also matches before a final newline): "^" and "$" are the text's ends.
_MAYBE_CHANGED = "|".join([
    "[" + "".join(re.escape(c) for c in _DELETED_CHARACTERS + _WHITESPACE_CHARACTERS.replace(" ", "") + "<&@") + "]",
    "  ", "^ ", " $", "^$",
    f"(?i:{MAYBE_OBFUSCATED_EMAIL.pattern.removeprefix('(?i)')})", MAYBE_IBAN.pattern, MAYBE_PHONE.pattern,
])


def clean_and_mask_personal_data(texts: pd.Series, *, default_region: str = DEFAULT_REGION,
                                 other_regions: Iterable[str] = DEFAULT_OTHER_REGIONS) -> pd.Series:
    """mask_personal_data(clean_text(texts)), run only on the rows either could change (_MAYBE_CHANGED):
    each of the two scans every row with a dozen filters, ~0.35 CPU-s per million reviews each, where
    one scan finds the few rows that need any of them (the large shop's reviews: 12%)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = _as_text_series(texts)
    maybe_changed = pc.match_substring_regex(pa.array(texts.array), _MAYBE_CHANGED)
    rows = pd.Series(maybe_changed.fill_null(False).to_numpy(zero_copy_only=False), index=texts.index)
    if rows.all():
        return mask_personal_data(clean_text(texts), default_region=default_region, other_regions=other_regions)
    if rows.any():
        texts.loc[rows] = mask_personal_data(clean_text(texts.loc[rows]), default_region=default_region,
                                             other_regions=other_regions).to_numpy()
    return texts


def clean_text(texts: pd.Series) -> pd.Series:
    """Strip HTML tags and entities, delete control, bidi and invisible characters, collapse
    whitespace, and turn empty texts into nulls.

    Empty or whitespace-only texts (after cleaning) become null: the rows stay, but there is nothing
    to score, and a null is clearer downstream than a polarity of 0.0 for "no words".
    """
    cleaned = _as_text_series(texts)
    # Control characters go first, so that "<scr\0ipt>" is seen as the tag it is, and again after
    # entities are decoded ("&#x202E;" is a right-to-left override too).
    cleaned = _replace_where(cleaned, _rows(cleaned, _CONTROL), _CONTROL, "")
    has_markup = cleaned.str.contains("<", regex=False)
    cleaned = _replace_where(cleaned, has_markup, _HTML_BLOCKS, " ")
    cleaned = _replace_where(cleaned, has_markup, _HTML_TAG, " ")
    # Tags go before entities are decoded, so that "&lt;3" becomes the text "<3", not a tag.
    has_entity = cleaned.str.contains("&", regex=False).fillna(False).astype(bool)
    if has_entity.any():
        cleaned.loc[has_entity] = cleaned.loc[has_entity].map(html.unescape)
        cleaned = _replace_where(cleaned, _subset_rows(cleaned, has_entity, _CONTROL), _CONTROL, "")
    irregular = _rows(cleaned, _IRREGULAR_WHITESPACE)
    if irregular.any():
        # split() without arguments splits on runs of Unicode whitespace and drops empty ends:
        # collapse and strip in one step.
        cleaned.loc[irregular] = cleaned.loc[irregular].map(lambda text: " ".join(text.split()))
    return cleaned.mask(cleaned.str.len() == 0)


def neutralise_formula(texts: pd.Series) -> pd.Series:
    """Prefix a text that a spreadsheet would read as a formula with an apostrophe (OWASP CSV injection).

    A value starting with "=", "+", "-", "@", a tab or a carriage return gets a leading "'", which
    Excel, LibreOffice and Google Sheets show as text ("=HYPERLINK(…)" -> "'=HYPERLINK(…)",
    "+cmd|' /C calc'!A0" -> "'+cmd|' /C calc'!A0"). Everything else, nulls included, is unchanged, and
    the index is preserved. Apply it last, to the text as it is stored (after masking: no mask token
    starts with one of these characters; after clean_text no text starts with a tab or CR, but a
    text from elsewhere may).
    """
    neutralised = _as_text_series(texts)
    starts = neutralised.str.startswith(_FORMULA_STARTS).fillna(False).astype(bool)
    if starts.any():
        neutralised.loc[starts] = "'" + neutralised.loc[starts]
    return neutralised
