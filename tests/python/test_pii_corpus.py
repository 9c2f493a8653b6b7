"""Recall and false-positive rate of ltv.text_privacy on a corpus of personal data and ordinary numbers.

The corpus is built here from fixed lists (no randomness): each personal datum (phone numbers of many
countries in international and national formats, Luhn-valid card numbers of several networks with
and without separators, IBANs with and without spaces, plain and obfuscated e-mail addresses) inside
realistic review sentences, and ordinary text with numbers that must survive (order numbers, prices,
dates, times, postal codes, product codes, sizes, quantities, tracking numbers, mistyped cards).

Recall: share of positives whose masked sentence is exactly the sentence with the datum replaced by
the right token (so the datum is gone, nothing of it is left over, and nothing else changed).
False-positive rate: share of negatives the masking changed at all. `pytest -s` prints both.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from stdnum import ean, iban, luhn

from ltv.text_privacy import CARD_TOKEN, EMAIL_TOKEN, IBAN_TOKEN, PHONE_TOKEN, mask_personal_data, mask_text

# --- positives ---------------------------------------------------------------------------------------

# Region -> numbers as people write them: international (+CC, 00CC) and national formats.
PHONES = {
    "US": ["+1 415-555-0132", "+1.415.555.0132", "+1 (212) 555-0187", "415-555-0132", "(212) 555-0187", "202.555.0143",
           "646 555 0123", "4155550132", "1-800-555-0199", "+14155550132"],
    "CA": ["+1 416 555 0123", "(604) 555-0147", "613-555-0181"],
    "GB": ["+44 20 7946 0958", "+44 (0)20 7946 0958", "020 7946 0958", "(020) 7946 0958", "07911 123456",
           "07911123456", "+44 7911 123456", "0161 234 5678", "0131 222 3344", "0044 20 7946 0958",
           "+44 7700 900123"],
    "DE": ["+49 30 12345678", "+49 (0)30 12345678", "030 12345678", "030/12345678", "089 1234567",
           "0151 23456789", "0171 1234567", "040-123456789", "06221 123456", "0049 30 1234567",
           "+49 151 23456789", "+4915123456789",
           "+49-30-12345678", "+49 (30) 1234-5678"],
    "FR": ["+33 1 23 45 67 89", "+33 6 12 34 56 78", "01 23 45 67 89", "06 12 34 56 78", "06.12.34.56.78",
           "0612345678", "04 91 23 45 67", "0033 6 12 34 56 78"],
    "NL": ["+31 20 123 4567", "+31 6 12345678", "020 123 4567", "06 12345678", "06-12345678", "010-1234567"],
    "IE": ["+353 1 234 5678", "+353 87 123 4567", "01 234 5678", "087 123 4567", "(01) 234 5678"],
    "SE": ["+46 8 123 456 78", "+46 70 123 45 67", "08-123 456 78", "070-123 45 67", "0701234567"],
    "AU": ["+61 2 9876 5432", "+61 412 345 678", "(02) 9876 5432", "0412 345 678", "0412345678",
           "03 9123 4567"],
    "IT": ["+39 06 1234 5678", "+39 312 345 6789", "06 1234 5678", "02 1234 5678"],
    "CN": ["+86 138 0013 8000", "(+86) 138 0013 8000", "+86 10 1234 5678", "138 0013 8000", "13800138000", "139-1234-5678",
           "186 1234 5678", "15912345678", "010 1234 5678"],
    "ES": ["+34 612 34 56 78", "+34 912 345 678"],
    "JP": ["+81 3-1234-5678", "+81 90-1234-5678"],
    "IN": ["+91 98765 43210"],
    "BR": ["+55 11 91234-5678"],
    "CH": ["+41 44 668 18 00"],
    "PL": ["+48 512 345 678"],
    "MX": ["+52 55 1234 5678"],
}
PHONE_SENTENCES = [
    "Call me on {} tomorrow, I am home after six.",
    "The courier never rang, my number is {} so please text me.",
    "You can reach me at {} if the parcel is lost again.",
    "Wrong size again. Tel.: {}.",
]

# Test numbers of the card networks (all Luhn-valid), written contiguous, spaced, dotted and dashed.
CARDS = {
    "visa": ["4111111111111111", "4012888888881881", "4000056655665556"],
    "mastercard": ["5555555555554444", "5105105105105100", "2221000000000009"],
    "amex": ["378282246310005", "371449635398431"],
    "discover": ["6011111111111117", "6011000990139424"],
    "jcb": ["3530111333300000", "3566002020360505"],
    "diners": ["30569309025904"],
    "unionpay": ["6200000000000005"],
    "maestro": ["6759649826438453"],
}
CARD_SENTENCES = [
    "The charge went to my card {} twice!",
    "I paid with {} and never got a receipt.",
    "Card number {} was declined although it works everywhere else.",
    "Refund it to the card ending the same as {}.",
]


def _grouped(number: str, separator: str) -> str:
    sizes = [4, 6, 5] if len(number) == 15 else [4, 6, 4] if len(number) == 14 else [4] * (len(number) // 4)
    if sum(sizes) < len(number):
        sizes.append(len(number) - sum(sizes))
    starts = list(itertools.accumulate([0, *sizes]))
    return separator.join(number[a:b] for a, b in zip(starts, starts[1:], strict=False))


IBANS = ["DE89370400440532013000", "GB29NWBK60161331926819", "FR1420041010050500013M02606",
         "NL91ABNA0417164300", "ES9121000418450200051332", "IT60X0542811101000000123456",
         "BE71096123456769", "AT611904300234573201", "CH9300762011623852957", "SE4550000000058398257466",
         "IE29AIBK93115212345678", "PL61109010140000071219812874", "NO9386011117947", "DK5000400440116243"]
IBAN_SENTENCES = [
    "Please refund the money to my account {} as soon as possible.",
    "Refund to {} please, the order was cancelled.",
    "IBAN: {}.",
]

EMAILS = [
    "anna.smith@example.com", "john.doe+shoes@example.co.uk", "kunde99@t-online.de", "maría.lópez@correo.es",
    "x@example.io", "j_o-e@sub.mail-server.org", "ANNA.1987@GMX.DE",
    # obfuscated
    "john at example dot com", "john(at)example(dot)com", "john[at]example[dot]com", "john @ example . com",
    "john (at) example (dot) com", "kunde99 [at] t-online [dot] de", "JOHN AT EXAMPLE DOT COM",
    "mary.jones at yahoo dot co dot uk", "anna.smith at gmail.com", "john{at}example{dot}org",
    "pierre.dupont(at)orange(dot)fr", "j.doe @ mail . example . com", "lisa_m [AT] web [DOT] de",
]
EMAIL_SENTENCES = [
    "Write to {} if anything is missing.",
    "Seller, please contact me via {} about the replacement.",
    "Questions? {}.",
]


def positives() -> list[tuple[str, str, str]]:
    """(sentence, datum, token): each datum in every sentence of its kind."""
    cases = []
    for numbers in PHONES.values():
        for number, template in itertools.product(numbers, PHONE_SENTENCES):
            cases.append((template, number, PHONE_TOKEN))
    for number, template in itertools.product(itertools.chain(*CARDS.values()), CARD_SENTENCES):
        assert luhn.is_valid(number), number
        for written in [number, _grouped(number, " "), _grouped(number, "."), _grouped(number, "-")]:
            cases.append((template, written, CARD_TOKEN))
    for number, template in itertools.product(IBANS, IBAN_SENTENCES):
        assert iban.is_valid(number), number
        cases.append((template, number, IBAN_TOKEN))
        cases.append((template, iban.format(number), IBAN_TOKEN))  # groups of four
        cases.append((template, iban.format(number).lower(), IBAN_TOKEN))
    for email, template in itertools.product(EMAILS, EMAIL_SENTENCES):
        cases.append((template, email, EMAIL_TOKEN))
    # Chinese text has no spaces around the number.
    cases += [("我的手机号是{}，谢谢。", "13800138000", PHONE_TOKEN), ("电话{}请联系", "138 0013 8000", PHONE_TOKEN),
              ("Mein Konto: {}.", "DE89 3704 0044 0532 0130 00", IBAN_TOKEN)]
    return [(template.format(datum), datum, token) for template, datum, token in cases]


# --- negatives -----------------------------------------------------------------------------------------

# Mistyped card numbers and 13-digit codes: shaped like cards, but the Luhn checksum fails.
LUHN_INVALID = ["4111 1111 1111 1112", "5555-5555-5555-4440", "4111.1111.1111.1110", "4012888888881882",
                "6011 1111 1111 1118", "3782 822463 10006", "5901234123458", "4012345678902", "9780306406158"]
# Real EAN-13 product codes (GS1 check digit valid); 5449000000996 also passes the Luhn check.
PRODUCT_CODES = ["4006381333931", "5449000000996", "4003994155486", "4000417025005", "9783161484100"]
NOT_IBANS = ["DE12 3456 7890 1234 5678 90", "GB00 NWBK 6016 1331 9268 19", "DE89370400440532013001",
             "AB12 CD34 EF56 GH78", "FR00 2004 1010 0505 0001 3M02 606"]

NEGATIVES = [
    # order, invoice and customer numbers
    "Order O00012345 arrived without the charger.",
    "My order #100234567 is still not shipped after two weeks.",
    "Order 100234567 was split into two parcels.",
    "Invoice INV-2024-000123 shows the wrong address.",
    "Order ORD-2024-0012345 arrived damaged.",
    "Customer number 12345678, order 87654321, please check.",
    "Reference 0012345678 on the return label.",
    "Return authorisation RMA 000123456789 was approved.",
    "PO 4500012345 for the office chairs.",
    # prices
    "The set cost 1,299.00 which is steep but worth it.",
    "Only €49.99 for two pairs, great deal.",
    "Paid $1,299.00 for the sofa and £89 for delivery.",
    "In Germany it costs 1.299,00 € and 49,99 € for the cover.",
    "It was CHF 129.90 in the shop and USD 10,000 for the whole kitchen.",
    "Prices went from 19.99 to 24.99 to 29.99 in one month.",
    "Total 2.499,99 EUR incl. 19 % VAT.",
    # dates and times
    "Ordered on 2024-03-01 and it came on 2024-03-05.",
    "Delivered 01.03.2024, returned 15.03.2024.",
    "Bought 03/01/2024, broke 04/15/2024.",
    "Arrived 1/3/24 at 10:30, a day late.",
    "Ordered 01.03.2024 12 days before the wedding.",
    "Ordered 01.02.2024 12:00, got it 03.02.2024 18:45.",
    "It shipped 2024/03/01 and arrived 2024/03/04.",
    "Timestamp 2023-12-11T10:30:00 on the confirmation.",
    "Delivery window 10:30 - 12:45, they came at 7.30pm.",
    "Used it from 2019 to 2024, five years without trouble.",
    "Between 1999-2024 I bought 12 pairs from this brand.",
    "Opening hours 08:00-20:00, Mon-Sat.",
    # postal codes
    "Shipped to 94105-1234 in two days.",
    "Delivery to ZIP 10001-0001 and 90210 both fine.",
    "To London SW1A 1AA and EC1A 1BB, no problems.",
    "Delivered to 10115 Berlin and 80331 München.",
    "Sent to 1012 AB Amsterdam and 75008 Paris.",
    "Ottawa K1A 0B1 took a week.",
    "Address: 123 Main Street, Springfield, IL 62704-1234.",
    # product codes, versions, models
    "EAN 4006381333931 was out of stock.",
    "ISBN 978-3-16-148410-0, the hardcover edition.",
    "ISBN 9780306406157 and ISBN 0-306-40615-2 are the same book.",
    "Model WH-1000XM4, firmware 1.2.3, serial SN20240001234.",
    "Article 123-456-789 in size M.",
    "Part no. 12 345 678 fits the 2019 model.",
    "The 1920x1080 screen at 144 Hz, 16 GB RAM, 512 GB SSD.",
    "Battery 5000 mAh, 65 W charger, 1,5 m cable.",
    "IP 192.168.1.1 and version 10.0.19045.3803 after the update.",
    # sizes, quantities, ratings
    "EU 42, UK 8, US 9, size 10.5, width 2E.",
    "Size 38-39 fits like 40, 42 2/3 in Adidas.",
    "Bought 3 x 2 pairs, 12 pcs in total, 100% cotton.",
    "Rated 4/5, 10/10 would buy again, 30 day returns.",
    "The box is 30 x 40 x 50 cm and weighs 12.5 kg.",
    "+3 more colours and -20% in the sale.",
    "+5 stars from me, -1 for the packaging.",
    "1,000,000 people can't be wrong, 2 000 000 sold.",
    "Call 911 if it catches fire (it did not), hotline 116 117.",
    "Room 1204, floor 12, building 3.",
    # tracking numbers that are no card, IBAN or phone number
    "Tracking 1Z999AA10123456784 shows delivered.",
    "USPS tracking 9400 1000 0000 0000 0000 00 never updated.",
    "DHL JD014600006281234567 stuck in customs.",
    "SSCC 00340434161234567890 on the pallet.",
    "Royal Mail LX123456789GB arrived, RR123456785CN too.",
    "Amazon TBA123456789000 was left at the door.",
    "DHL Express 1234567890 took three days.",
    "FedEx 7946 1234 5678 delivered early.",
    # e-mail look-alikes
    "I bought it at amazon.com because it was cheaper.",
    "We met at home. Great service from the team.",
    "Thanks @anna for the tip, and @shop_support for the quick answer.",
    "Price @ 10.99 each, 3 @ 29.99.",
    "Look at it dot by dot, the print is perfect.",
    "Arrived at 5 dot 30 in the morning.",
    # text with no numbers at all
    "Great shoes, very comfortable, would buy again.",
    "Terrible quality, the seam split on day one.",
]
NEGATIVE_SENTENCES = ["A customer had {} on the receipt.", "Note: {}"]


def generated_negatives() -> list[str]:
    """Ordinary numbers in many values, from fixed arithmetic (deterministic, no random draws)."""
    cases = []
    for k in range(1, 13):
        day = 1 + (k * 7) % 28
        cases += [f"Ordered {day:02d}.{k:02d}.2024 {k + 2} days before the trip, arrived {day:02d}.{k:02d}.2024 at {k + 7}:15.",
                  f"Delivered 2023-{k:02d}-{day:02d} 1{k % 10}:30, returned {k:02d}/{day:02d}/2023.",
                  f"Order #{100000000 + k * 7654321} and O{k * 1234567:08d}, invoice INV-2024-{k * 937:06d}.",
                  f"Order number {1000000000 + k * 76543219}, customer {20000000 + k * 345678}.",
                  f"Paid €{k * 13.37:.2f} plus ${k * 1234.5:,.2f} shipping, {k * 3} items at {k * 4.99:.2f} each.",
                  f"Shipped to {10000 + k * 4567:05d}-{k * 123:04d}, then to {10000 + k * 7321:05d}.",
                  f"FedEx {7946_1234_5600 + k * 1111} and DHL {1000000000 + k * 12345} both tracked fine.",
                  f"Serial {k * 98765:08d}, model {k * 111}-{k * 222:04d}, size EU {36 + k}, US {5 + k / 2}."]
    # Luhn-invalid 16-digit numbers in card shape, and Luhn-invalid 13-digit codes.
    invalid_cards = [number for number in (str(4000_1234_5678_9010 + k * 7) for k in range(40)) if not luhn.is_valid(number)]
    invalid_codes = [number for number in (str(5_901234_12345_0 + k * 13) for k in range(40)) if not luhn.is_valid(number)]
    separators = [" ", "-", ".", ""]
    for index, number in enumerate(invalid_cards[:24]):
        cases.append(f"The code on the voucher was {_grouped(number, separators[index % 4])}, it did not work.")
    for number in invalid_codes[:16]:
        cases.append(f"Product code {number} was listed twice.")
    return cases


def negatives() -> list[str]:
    cases = list(NEGATIVES) + generated_negatives()
    for number in LUHN_INVALID:
        assert not luhn.is_valid(number.replace(" ", "").replace("-", "").replace(".", "")), number
    for number in PRODUCT_CODES:
        assert ean.is_valid(number), number
    for number in NOT_IBANS:
        assert not iban.is_valid(number), number
    for code, template in itertools.product(LUHN_INVALID + PRODUCT_CODES + NOT_IBANS, NEGATIVE_SENTENCES):
        cases.append(template.format(code))
    return cases


# --- the measurement -----------------------------------------------------------------------------------


def measure() -> dict:
    positive_cases, negative_cases = positives(), negatives()
    masked = mask_personal_data(pd.Series([sentence for sentence, _, _ in positive_cases] + negative_cases))
    masked_positives, masked_negatives = masked[: len(positive_cases)], masked[len(positive_cases):]
    missed = [(sentence, result) for (sentence, datum, token), result in zip(positive_cases, masked_positives, strict=True)
              if result != sentence.replace(datum, token)]
    altered = [(sentence, result) for sentence, result in zip(negative_cases, masked_negatives, strict=True)
               if result != sentence]
    return {"positives": len(positive_cases), "negatives": len(negative_cases),
            "recall": 1 - len(missed) / len(positive_cases),
            "false_positive_rate": len(altered) / len(negative_cases), "missed": missed, "altered": altered}


@pytest.fixture(scope="module")
def result():
    return measure()


def _report(result: dict) -> str:
    lines = [f"corpus: {result['positives']} positives, {result['negatives']} negatives; "
             f"recall {result['recall']:.4f}, false-positive rate {result['false_positive_rate']:.4f}"]
    lines += [f"  missed:  {sentence!r} -> {masked!r}" for sentence, masked in result["missed"]]
    lines += [f"  altered: {sentence!r} -> {masked!r}" for sentence, masked in result["altered"]]
    return "\n".join(lines)


def test_corpus_is_large_and_covers_many_countries(result):
    assert result["positives"] + result["negatives"] >= 300
    assert len(PHONES) >= 8 and result["negatives"] >= 100


# The issue asked for recall >= 0.98 and a false-positive rate <= 0.01; these are what was measured
# (phonenumbers 9.0.43, python-stdnum 2.2). A change that loses a case says why, here.
MIN_RECALL = 1.0
MAX_FALSE_POSITIVE_RATE = 0.0


def test_recall_and_false_positive_rate(result):
    report = _report(result)
    print("\n" + report)
    assert result["recall"] >= MIN_RECALL and result["false_positive_rate"] <= MAX_FALSE_POSITIVE_RATE, report


def test_the_row_filters_drop_nothing_the_detectors_would_find():
    """mask_personal_data runs each detector only on rows its cheap filter selects; mask_text runs all."""
    sentences = [sentence for sentence, _, _ in positives()] + negatives()
    assert mask_personal_data(pd.Series(sentences)).tolist() == [mask_text(sentence) for sentence in sentences]
