"""The detectors of ltv.text_privacy: for e-mail addresses, IBANs, card numbers and phone numbers, a
function that masks one text (str -> str) and a row filter (MAYBE_*, written for RE2) that tells the
rows that can hold a match at all. What each detector accepts, and why, is in the package docstring.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache, partial

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType
from stdnum import ean, luhn
from stdnum import iban as stdnum_iban

EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
CARD_TOKEN = "[CARD]"
IBAN_TOKEN = "[IBAN]"

DEFAULT_REGION = "US"
DEFAULT_OTHER_REGIONS = ("GB", "DE", "FR", "NL", "IE", "SE", "AU", "IT", "CN")

# --- e-mail addresses -------------------------------------------------------------------------------
# local-part@domain.tld; \w admits non-ASCII letters (IDN mailboxes). The look-behind keeps the match
# from starting in the middle of a longer local part, the TLD must be letters so "a@b.12" is left alone.
EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")

# Obfuscated: "at" in brackets or spelled between spaces, or "@" with a space either side; "dot"
# likewise, or a "." with spaces on both sides ("john @ example . com"; "home. Great" is a sentence end,
# not a domain). The domain needs at least one dot and ends in two letters.
def _bracketed(word: str) -> str:
    return r"[\[({<] ?(?i:" + word + r") ?[\])}>]"


OBFUSCATED_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+"
    r"(?P<at> ?" + _bracketed("at") + r" ?| @ | (?i:at) )"
    r"(?P<domain>[\w-]+(?:(?: ?" + _bracketed("dot") + r" ?| (?i:dot) | \. |\.)[\w-]+)+)"
    r"(?<=[^\W\d_]{2})(?![\w-])"
)
_OBFUSCATED_DOT = re.compile(_bracketed("dot") + r"| (?i:dot) | \. ")
# Mailbox providers for which "john at gmail.com" (spelled "at", plain dots) is taken for an address.
_MAIL_PROVIDER_DOMAINS = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.de yahoo.fr hotmail.com hotmail.co.uk hotmail.de "
    "hotmail.fr outlook.com outlook.de live.com live.de icloud.com me.com aol.com gmx.de gmx.net gmx.at "
    "gmx.ch gmx.com web.de t-online.de proton.me protonmail.com yandex.ru mail.ru qq.com 163.com".split())
_MAIL_PROVIDERS = sorted({domain.split(".")[0] for domain in _MAIL_PROVIDER_DOMAINS})
_COMMON_TOP_LEVEL_DOMAINS = frozenset(
    "com net org info biz edu gov io co me eu uk de fr nl be lu at ch it es pt ie se dk no fi pl cz sk hu "
    "ro gr ru ua tr cn jp kr in au nz ca us mx br ar za".split())
# Row filter (RE2): a bracketed "at", a spaced "@", a spelled " at " before a spelled or spaced dot, or
# before a provider.
MAYBE_OBFUSCATED_EMAIL = re.compile(
    r"(?i)[\[({<] ?at ?[\])}>]| @ | at [^ ]+ (?:dot|\.) | at [^ ]+ ?[\[({<] ?dot| at (?:"
    + "|".join(map(re.escape, _MAIL_PROVIDERS)) + r")\."
)


def obfuscated_email_replacement(match: re.Match[str]) -> str:
    """A spelled " at " is a common word: with it, the domain needs a known provider, or a spelled dot
    and a common top-level domain ("look at it dot by dot" is no address)."""
    if match.group("at").strip().lower() == "at":
        domain = match.group("domain")
        top_level = re.split(r"[ .\])}>]", domain)[-1].lower()
        if not (domain.lower() in _MAIL_PROVIDER_DOMAINS
                or (_OBFUSCATED_DOT.search(domain) and top_level in _COMMON_TOP_LEVEL_DOMAINS)):
            return match.group(0)
    return EMAIL_TOKEN


def mask_emails(text: str) -> str:
    text = EMAIL.sub(EMAIL_TOKEN, text)
    return OBFUSCATED_EMAIL.sub(obfuscated_email_replacement, text)


# --- IBANs --------------------------------------------------------------------------------------------
# A candidate runs on greedily (single spaces allowed anywhere); the longest prefix that ends at a word
# boundary and validates is the IBAN. IBANs are 15 (Norway) to 34 characters long.
_IBAN_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}")
MAYBE_IBAN = re.compile(r"[A-Za-z]{2}[0-9]{2} ?[A-Za-z0-9]{4}")


def mask_ibans(text: str) -> str:
    pieces, position = [], 0
    match = _IBAN_CANDIDATE.search(text)
    while match:
        end = _iban_end(text, match)
        if end is None:
            match = _IBAN_CANDIDATE.search(text, match.start() + 1)
            continue
        pieces += [text[position:match.start()], IBAN_TOKEN]
        position = end
        match = _IBAN_CANDIDATE.search(text, end)
    return "".join(pieces) + text[position:] if pieces else text


def _iban_end(text: str, match: re.Match[str]) -> int | None:
    """The end of the longest valid IBAN at the start of `match`, or None."""
    for end in range(match.end(), match.start() + 14, -1):
        if text[end - 1] != " " and (end == len(text) or not _is_latin_word_character(text[end])):
            if stdnum_iban.is_valid(text[match.start():end]):
                return end
    return None


# --- card numbers -----------------------------------------------------------------------------------
# A run of 13 or more digits in groups joined by single separators, not glued to a word or to a "+"
# (phone numbers).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z_+])[0-9](?:[ .-]?[0-9]){12,}")
_DIGIT_GROUP = re.compile(r"[0-9]+")
MAYBE_CARD = re.compile(r"[0-9](?:[ .-]?[0-9]){12}")


def mask_cards(text: str) -> str:
    return _DIGIT_RUN.sub(_card_replacement, text)


def _card_replacement(match: re.Match[str]) -> str:
    run = match.group(0)
    if match.end() < len(match.string) and _is_latin_word_character(match.string[match.end()]):
        return run  # "…1111abc": part of a code
    groups = [(group.start(), group.end()) for group in _DIGIT_GROUP.finditer(run)]
    separators = [run[groups[index][1]:groups[index + 1][0]] for index in range(len(groups) - 1)]
    # A card is written with one kind of separator, so the run is cut where the separator changes
    # ("2024-03-01 4111 1111 1111 1111"; the group at a cut belongs to both sides). A segment holds a
    # card when it is one, or is one less its group at a cut or a short group at the run's ends
    # ("2 4111 …", "… 1111 2 days ago"). A card number inside a longer number is not a card number.
    edges = [0, *(index for index in range(1, len(separators)) if separators[index] != separators[index - 1]),
             len(groups) - 1]
    pieces, position, taken = [], 0, -1  # `taken`: the last group masked
    for segment in range(len(edges) - 1):
        first, last = max(edges[segment], taken + 1), edges[segment + 1]
        if last < first:
            continue
        drop_first = first > 0 or groups[first][1] - groups[first][0] <= 3
        drop_last = last < len(groups) - 1 or groups[last][1] - groups[last][0] <= 3
        for start, end in dict.fromkeys([(first, last), (first + drop_first, last), (first, last - drop_last),
                                         (first + drop_first, last - drop_last)]):
            if end >= start and _is_card(run, groups[start:end + 1]):
                pieces += [run[position:groups[start][0]], CARD_TOKEN]
                position, taken = groups[end][1], end
                break
    return "".join(pieces) + run[position:] if pieces else run


def _is_card(run: str, groups: list[tuple[int, int]]) -> bool:
    if len(groups) > 1:
        separators = {run[groups[index][1]:groups[index + 1][0]] for index in range(len(groups) - 1)}
        sizes = [end - start for start, end in groups]
        if len(separators) > 1 or not all(3 <= size <= 7 for size in sizes[:-1]) or sizes[-1] > 7:
            return False
    return _is_card_number("".join(run[start:end] for start, end in groups))


@lru_cache(maxsize=1 << 14)
def _is_card_number(digits: str) -> bool:
    if not (13 <= len(digits) <= 19 and digits[0] in "23456") or not luhn.is_valid(digits):
        return False
    # A valid EAN-13 or ISBN-13 is a product code; 13-digit card numbers are no longer issued.
    return not (len(digits) == 13 and ean.is_valid(digits))


# --- phone numbers ----------------------------------------------------------------------------------
# Digits with the separators people put in phone numbers; a run with eight or more digits goes to
# libphonenumber, with one character of context either side.
_PHONE_RUN = re.compile(r"[0-9](?:[ .()/-]{0,3}[0-9]){7,}\)?")  # a leading "+" or "(" is added in code
# Row filter (RE2): eight close digits, not glued to a word (that is: after a character that is not a
# letter, digit or "_", or at the start of the text).
MAYBE_PHONE = re.compile(r"(?:^|[^0-9A-Za-z_])[0-9](?:[ .()/-]{0,3}[0-9]){7}")
# Dates with a four-digit year (01.02.2024, 2024-02-01, 1/2/2024) are blanked out before the runs are
# looked for: "01.02.2024 12 days" has the digits and the grouping of a French number. The row filter
# drops them too (with an RE2 version of the pattern), since dates are in many texts.
_DATE = re.compile(r"(?<![0-9])(?:[0-9]{1,2}([./-])[0-9]{1,2}\1(?:19|20)[0-9]{2}"
                   r"|(?:19|20)[0-9]{2}([./-])[0-9]{1,2}\2[0-9]{1,2})(?![0-9])")
DATE_RE2 = re.compile(r"[0-9]{1,2}[./-][0-9]{1,2}[./-](?:19|20)[0-9]{2}"
                       r"|(?:19|20)[0-9]{2}[./-][0-9]{1,2}[./-][0-9]{1,2}")
_PLUS = re.compile(r"\(?\+")
_RUN_START = re.compile(r"[+0-9]")
_TRUNK_PREFIX = re.compile(r"\(?0[0-9]")  # also "00", the international prefix outside North America
_GROUP_WITH_TRUNK_PREFIX = re.compile(r"(?<![0-9])0[0-9]")
_CN_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")
# Regions whose mobile numbers have no trunk prefix but a shape distinctive enough to look for in any
# region: China's 11-digit 1[3-9]… mobiles.
_MOBILES_WITHOUT_TRUNK_PREFIX = {"CN": _CN_MOBILE}
# National numbers must be valid and grouped as the country groups them (the digits of a group may not
# straddle two of the country's groups): "2024-000123" is not a US number, "01.02.2024 12" is not French.
_NATIONAL_LENIENCY = Leniency.STRICT_GROUPING


def mask_phones(text: str, default_region: str, other_regions: tuple[str, ...]) -> str:
    spans = []
    for start, end, source in _phone_runs(text):
        while start > 0 and source[start - 1] in "+(":
            start -= 1
        if source[start] not in "+(" and (_glued(source, start) or (
                start > 1 and source[start - 1] in "-/" and _glued(source, start - 1))):
            continue  # part of a code: order number O00012345, invoice INV-2024-000123
        window_start = max(start - 1, 0)
        spans += [(window_start + a, window_start + b)
                  for a, b in _phone_spans(source[window_start:end + 1], default_region, other_regions)]
    if not spans:
        return text
    pieces, position = [], 0
    for start, end in sorted(spans):
        if start >= position:
            pieces += [text[position:start], PHONE_TOKEN]
        position = max(position, end)
    return "".join(pieces) + text[position:]


def _phone_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, source) of each run of eight or more digits, once its dates are blanked out in
    `source` (a copy of `text` with the same length)."""
    for run in _PHONE_RUN.finditer(text):
        if not _DATE.search(run.group(0)):
            yield run.start(), run.end(), text
        elif not _DATE.fullmatch(run.group(0)):
            blanked = _DATE.sub(lambda date: " " * len(date.group(0)), run.group(0))
            source = text[:run.start()] + blanked + text[run.end():]
            yield from ((part.start(), part.end(), source)
                        for part in _PHONE_RUN.finditer(source, run.start(), run.end()))


@lru_cache(maxsize=1 << 16)
def _phone_spans(window: str, default_region: str, other_regions: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Where libphonenumber finds phone numbers in a digit run (with one character of context).

    Each pass is another scan (0.1-0.5 ms), so they stop as soon as every digit of the run is in a
    number found, and the pass the run's start points to goes first: most runs are one number."""
    digits = [index for index, character in enumerate(window) if character.isdigit()]
    spans: list[tuple[int, int]] = []

    def national(region: str) -> None:
        spans.extend((match.start, match.end) for match in PhoneNumberMatcher(window, region, _NATIONAL_LENIENCY))

    def international() -> None:
        # Leniency.POSSIBLE does not look at the context: the match may not be glued to a word.
        for match in PhoneNumberMatcher(window, default_region, Leniency.POSSIBLE):
            glued = _glued(window, match.start) or (
                match.end < len(window) and _is_latin_word_character(window[match.end]))
            if _PLUS.match(match.raw_string) and not glued and _digits(match.raw_string) >= 8:
                spans.append((match.start, match.end))

    def other(region: str, has_mobile: bool) -> None:
        for match in PhoneNumberMatcher(window, region, _NATIONAL_LENIENCY):
            raw = match.raw_string
            if raw.isdigit() and len(raw) < 10:
                continue  # "01086415": an ungrouped short number starting 0 is as often a serial number
            if _TRUNK_PREFIX.match(raw) or (
                has_mobile and phonenumbers.number_type(match.number) == PhoneNumberType.MOBILE):
                spans.append((match.start, match.end))

    has_trunk_prefix = _GROUP_WITH_TRUNK_PREFIX.search(window) is not None
    others = []
    for region in other_regions:
        mobile_shape = _MOBILES_WITHOUT_TRUNK_PREFIX.get(region)
        has_mobile = mobile_shape is not None and mobile_shape.search(window) is not None
        if region != default_region and (has_trunk_prefix or has_mobile):
            others.append(partial(other, region, has_mobile))
    passes = [partial(national, default_region), *([international] if "+" in window else []), *others]
    start = _RUN_START.search(window).group(0)
    if start == "+":
        passes.insert(0, passes.pop(1))
    elif start == "0" and others:
        passes.append(passes.pop(0))  # a trunk prefix: another region's number first
    for run_pass in passes:
        if digits and all(any(a <= index < b for a, b in spans) for index in digits):
            break
        run_pass()
    return tuple(spans)


def _glued(text: str, start: int) -> bool:
    """Whether text[start] continues a Latin word or a number (Chinese text has no spaces: not glued)."""
    return start > 0 and _is_latin_word_character(text[start - 1])


def _is_latin_word_character(character: str) -> bool:
    return character.isdigit() or character == "_" or (
        character.isalpha() and unicodedata.name(character, "").startswith("LATIN"))


def _digits(text: str) -> int:
    return sum(character.isdigit() for character in text)


def check_regions(default_region: str, other_regions: Iterable[str]) -> tuple[str, ...]:
    other_regions = tuple(other_regions)
    unknown = [region for region in (default_region, *other_regions)
               if region not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown phone region(s) {unknown}: use ISO 3166 codes such as 'US', 'GB'")
    return other_regions
