"""Masking of personal data and cleaning of review / support texts (ltv.text_privacy)."""

from __future__ import annotations

import pandas as pd
import pytest

from ltv.text_privacy import (
    clean_and_mask_personal_data,
    clean_text,
    mask_personal_data,
    mask_text,
    neutralise_formula,
)

EMAILS = [
    "anna.smith@example.com",
    "john.doe+shoes@example.co.uk",
    "j_o-e@sub.mail-server.org",
    "ANNA.1987@GMX.DE",
    "kunde99@t-online.de",
    "maría.lópez@correo.es",
    "x@example.io",
]
PHONES = [
    "+44 20 7946 0958",
    "+1 415-555-0132",
    "+44 (0)20 7946 0958",
    "+33 1 23 45 67 89",
    "+4915112345678",
    "0049 30 1234567",
    "(020) 7946 0958",
    "020 7946 0958",
    "07700 900123",
    "07700900123",
    "030 12345678",
    "415.555.0132",
    "415-555-0132",
    "(415) 555-0132",
    "415 555 0132",
]
CARDS = [
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111111111111111",
    "5555 5555 5555 4444",
    "3782 822463 10005",
    "378282246310005",
    "4222222222222",
    "6011 0009 9013 9424",
    "6759 6498 2643 8453 011",  # 19-digit Maestro, Luhn-valid
]
# Numbers that carry the meaning of a review and must survive masking untouched.
ORDINARY = [
    "The price was 49.99 and shipping 4.95.",
    "Paid $1,299.00 for the set, £89 for the boots, 1.299,00 € in Germany.",
    "Bought 2 pairs, then 3 more; 10 out of 10.",
    "EU 42, UK 8, US 9, size 10.5, width 2E.",
    "Ordered in 2024, arrived 2024-01-15 at 10:30, returned on 01.02.2024 12 days later.",
    "Dates: 15/01/2024, 1/2/24, 2024/01/15.",
    "Order O00012345 and order #12345, invoice INV-2024-000123, tracking 1Z999AA10123456784.",
    "Call centre said 24/7, rated 4/5, 100% cotton, 30 day returns.",
    "Ordered 01.02.2024 12:00, 3 x 2 pairs, ref 123-456.",
    "ISBN 978-3-16-148410-0 and the version 1.2.3.",
]


def test_emails_are_masked_inside_sentences():
    for email in EMAILS:
        assert mask_text(f"Write to {email}, thanks") == "Write to [EMAIL], thanks", email


@pytest.mark.parametrize("phone", PHONES)
def test_phone_numbers_are_masked(phone):
    assert mask_text(f"Call me on {phone} tomorrow.") == "Call me on [PHONE] tomorrow.", phone
    assert mask_text(f"tel:{phone}") == "tel:[PHONE]", phone


@pytest.mark.parametrize("card", CARDS)
def test_card_numbers_are_masked(card):
    assert mask_text(f"My card {card} was charged twice") == "My card [CARD] was charged twice"


def test_card_followed_by_a_quantity_keeps_the_quantity():
    assert mask_text("card 4111 1111 1111 1111 2 days ago") == "card [CARD] 2 days ago"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_are_not_masked(text):
    assert mask_text(text) == text


def test_long_digit_runs_that_are_neither_card_nor_phone_stay():
    # 20+ digits: not a card (13-19), not a phone (at most 15)
    assert mask_text("tracking 12345678901234567890123") == "tracking 12345678901234567890123"
    # a short run is never personal data
    assert mask_text("code 123456") == "code 123456"


def test_series_masking_matches_scalar_and_keeps_nulls_and_index():
    texts = [f"Mail {EMAILS[0]} or call {PHONES[0]}", ORDINARY[0], None, f"card {CARDS[0]}", ""]
    series = pd.Series(texts, index=[10, 11, 12, 13, 14])
    masked = mask_personal_data(series)
    assert list(masked.index) == [10, 11, 12, 13, 14]
    assert masked[10] == "Mail [EMAIL] or call [PHONE]"
    assert masked[11] == ORDINARY[0]
    assert pd.isna(masked[12])
    assert masked[13] == "card [CARD]"
    assert masked[14] == ""
    assert mask_text(None) is None
    # the input is not modified in place
    assert series[10] == texts[0]


def test_vectorised_and_scalar_agree_on_a_mixed_batch():
    texts = [
        f"{prefix} {item} {suffix}"
        for item in EMAILS + PHONES + CARDS + ORDINARY
        for prefix, suffix in [("a", "b"), ("Hi,", ".")]
    ]
    masked = mask_personal_data(pd.Series(texts))
    assert masked.tolist() == [mask_text(text) for text in texts]


def test_clean_text_strips_html_entities_and_whitespace():
    raw = pd.Series(
        [
            "<p>Great&nbsp;shoes!</p><p>Love them &lt;3</p>",
            "  lots \t of\n\nspace\u00a0here  ",
            "<div class='x'>Fits <b>well</b></div><br/>",
            "<script>alert('x')</script>Nice <!-- hidden -->colour",
            "Tom &amp; Jerry &quot;quoted&quot; caf&eacute;",
            "<3 them, a < b > c",
        ]
    )
    assert clean_text(raw).tolist() == [
        "Great shoes! Love them <3",
        "lots of space here",
        "Fits well",
        "Nice colour",
        'Tom & Jerry "quoted" café',
        "<3 them, a < b > c",
    ]


def test_clean_text_turns_empty_texts_into_nulls_but_keeps_rows():
    raw = pd.Series(["", "   ", "\n\t", "<p> </p>", "&nbsp;", None, "ok"], index=list("abcdefg"))
    cleaned = clean_text(raw)
    assert list(cleaned.index) == list("abcdefg")
    assert cleaned.isna().tolist() == [True] * 6 + [False]
    assert cleaned["g"] == "ok"


def test_entity_encoded_email_is_masked_after_cleaning():
    raw = pd.Series(["write to anna&#64;example.com or <b>+44 20 7946 0958</b>"])
    assert mask_personal_data(clean_text(raw)).tolist() == ["write to [EMAIL] or [PHONE]"]


# --- found on real hostile input (issue 16) ---------------------------------------------------------


@pytest.mark.parametrize("number", ["138 0013 8000", "13800138000", "139-1234-5678"])
def test_chinese_mobiles_are_masked_with_the_default_region_and_with_cn(number):
    text = f"my number is {number} thanks"
    assert mask_text(text) == "my number is [PHONE] thanks"
    assert mask_text(text, default_region="CN", other_regions=()) == "my number is [PHONE] thanks"
    # Chinese text has no spaces around the number
    assert mask_text(f"手机{number}谢谢") == "手机[PHONE]谢谢"


def test_the_default_region_decides_how_a_bare_national_number_is_read():
    assert mask_text("call 415-555-0132") == "call [PHONE]"  # default "US"
    assert mask_text("call 415-555-0132", default_region="GB", other_regions=()) == "call 415-555-0132"
    assert mask_text("call 020 7946 0958", default_region="GB", other_regions=()) == "call [PHONE]"
    # with "+" the country is written down: found whatever the region
    for region in ["US", "GB", "CN", "BR"]:
        assert mask_text("call +44 20 7946 0958", default_region=region, other_regions=()) == "call [PHONE]"
        assert mask_text("call +86 138 0013 8000", default_region=region, other_regions=()) == "call [PHONE]"
    with pytest.raises(ValueError, match="unknown phone region"):
        mask_personal_data(pd.Series(["x"]), default_region="XX")


@pytest.mark.parametrize("card", ["4111.1111.1111.1111", "4111 1111 1111 1111", "4111-1111-1111-1111",
                                  "5555.5555.5555.4444", "3782.822463.10005"])
def test_cards_with_any_separator_are_masked(card):
    assert mask_text(f"card {card}.") == "card [CARD]."


def test_only_luhn_valid_numbers_are_cards():
    assert mask_text("code 4111 1111 1111 1112 used") == "code 4111 1111 1111 1112 used"
    assert mask_text("EAN 5449000000996 on the bottle") == "EAN 5449000000996 on the bottle"  # Luhn-valid EAN


@pytest.mark.parametrize("account", ["DE89370400440532013000", "GB29NWBK60161331926819", "DE89 3704 0044 0532 0130 00",
                                     "GB29 NWBK 6016 1331 9268 19", "gb29 nwbk 6016 1331 9268 19"])
def test_ibans_are_masked_whole(account):
    assert mask_text(f"Refund to {account}, thanks") == "Refund to [IBAN], thanks"
    assert mask_text(f"IBAN {account}") == "IBAN [IBAN]"


def test_an_iban_with_a_wrong_check_digit_is_left():
    assert mask_text("ref DE88370400440532013000 ok") == "ref DE88370400440532013000 ok"


@pytest.mark.parametrize("email", ["john at example dot com", "john(at)example(dot)com", "john[at]example[dot]com",
                                   "john @ example . com", "John AT Example DOT com", "john at gmail.com"])
def test_obfuscated_emails_are_masked(email):
    assert mask_text(f"mail {email} please") == "mail [EMAIL] please"


@pytest.mark.parametrize("text", ["I bought it at amazon.com, cheaper", "We met at home. Great service",
                                  "Look at it dot by dot", "thanks @anna for the tip", "3 @ 29.99 each"])
def test_words_that_only_look_like_obfuscated_emails_stay(text):
    assert mask_text(text) == text


def test_clean_text_removes_control_bidi_and_invisible_characters():
    raw = pd.Series([
        "nul\x00byte", "bell\x07 and del\x7f and c1\x9b", "evil\u202etxt.exe", "\u2066isolate\u2069 \u200emarks\u200f\u061c",
        "card 4111\u200b1111\u200b1111\u200b1111", "entity &#x202E;override &#8238;decimal", "tab\tcr\rff\x0cnel\x85end",
        "<scr\x00ipt>alert(1)</script>ok",
    ])
    assert clean_text(raw).tolist() == [
        "nulbyte", "bell and del and c1", "eviltxt.exe", "isolate marks", "card 4111111111111111",
        "entity override decimal", "tab cr ff nel end", "ok",
    ]
    assert mask_personal_data(clean_text(raw))[4] == "card [CARD]"


def test_neutralise_formula_prefixes_what_a_spreadsheet_would_run():
    texts = pd.Series(['=HYPERLINK("http://evil","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx",
                       "Great, =fine", "[EMAIL] wrote", None], index=list("abcdefghi"))
    assert neutralise_formula(texts).tolist()[:8] == [
        '\'=HYPERLINK("http://evil","click")', "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx",
        "Great, =fine", "[EMAIL] wrote"]
    assert pd.isna(neutralise_formula(texts)["i"]) and list(neutralise_formula(texts).index) == list("abcdefghi")
    assert texts["a"].startswith("=")  # not modified in place


def _hostile_texts(count: int, seed: int) -> list[str | None]:
    """Texts drawn from pieces that each step reacts to (control, bidi and invisible characters, every
    kind of whitespace, markup, entities, e-mails plain and obfuscated, IBANs, cards, phones, dates) and
    from plain words and numbers, so that some rows need nothing and others several steps."""
    import random

    rng = random.Random(seed)
    pieces = ["good", "bad", "shoes", "at", "dot", "Size 42", "49.99", "2024", "O00012345", "café", "日本",
              "\x00", "\x07", "\u202e", "\u200b", "\xad", "\t", "\n", "\u00a0", "\u3000", "  ", " ",
              "<b>", "</p>", "<3", "&amp;", "&#64;", "&nbsp;", "a < b", "anna@example.com", "john at gmail.com",
              "john (at) example (dot) com", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111",
              "+44 20 7946 0958", "(415) 555-0132", "01.02.2024", "138 0013 8000", "5901234123457", ""]
    texts: list[str | None] = [None, "", " ", "plain words only"]
    for _ in range(count):
        texts.append("".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(1, 8))))
    return texts


def test_clean_and_mask_equals_mask_after_clean_and_skips_rows_that_need_nothing(monkeypatch):
    from test_pii_corpus import negatives, positives

    import ltv.text_privacy as text_privacy

    cleaned_rows = []
    monkeypatch.setattr(text_privacy, "clean_text",
                        lambda texts, clean=text_privacy.clean_text: cleaned_rows.append(len(texts)) or clean(texts))

    texts = pd.Series(_hostile_texts(3000, seed=7) + [sentence for sentence, _, _ in positives()] + negatives(),
                      dtype="object")
    texts.index = texts.index * 3 + 1  # not a RangeIndex from 0: the rows must keep their labels
    expected = mask_personal_data(clean_text(texts))
    got = clean_and_mask_personal_data(texts)
    pd.testing.assert_series_equal(got, expected)
    assert got.isna().sum() > 0 and (got != texts).sum() > 1000
    # The one scan sends only the rows that may change through the two steps (the nulls and the plain
    # corpus sentences stay out); plain text none at all.
    assert cleaned_rows[-1] < len(texts) - 100
    plain = pd.Series(["Great fit, size 42, would buy again.", "Arrived in 3 days"] * 50)
    cleaned_rows.clear()
    pd.testing.assert_series_equal(clean_and_mask_personal_data(plain), plain.astype("str"))
    assert cleaned_rows == []
