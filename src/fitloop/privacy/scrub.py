"""Remove personal data from free text (search queries, comments, photo captions) before storage.

Built on Presidio's analyzer, fully offline: the ``no_op`` NLP engine (no spaCy
model download), an explicit registry of pattern and checksum recognizers, and
``tldextract`` with its bundled public-suffix snapshot (no download). Detected:

* ``<EMAIL>``: e-mail addresses (Presidio's pattern, domain checked offline);
* ``<PHONE>``: mainland China mobiles (``1[3-9]`` + 9 digits, optional ``+86``/``0086``)
  and international numbers validated by ``phonenumbers`` (Presidio's recognizer
  scores them 0.4, under the threshold; here they score 0.6). A bare run of digits
  in national format (``0108775015``) is left alone: in a shop it is far more often
  an article or order number; written with ``+``/``00`` or separators it is a phone;
* ``<CN_ID>``: mainland resident ID numbers (18 characters, GB 11643-1999 checksum);
* ``<BANK_CARD>``: 13 to 19 digit card numbers with a valid Luhn checksum.
  Presidio's ``CreditCardRecognizer`` does check Luhn, but its pattern only allows
  up to 17 digits, so 19-digit UnionPay cards slip through; this one covers them.

Person names are not detected (that needs an NER model); the manifest keeps
name fields out of free text instead.

>>> r = scrub("call me on +86 138-0013-8000 or mail anna.li@example.com")
>>> r.text
'call me on <PHONE> or mail <EMAIL>'
>>> [f.entity for f in r.findings]
['PHONE', 'EMAIL']
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Finding",
    "ScrubResult",
    "Scrubber",
    "scrub",
    "default_scrubber",
    "luhn_valid",
    "cn_resident_id_valid",
    "PLACEHOLDERS",
]

#: Presidio entity → placeholder written into the text.
PLACEHOLDERS: dict[str, str] = {
    "CN_RESIDENT_ID": "<CN_ID>",
    "BANK_CARD": "<BANK_CARD>",
    "EMAIL_ADDRESS": "<EMAIL>",
    "PHONE_NUMBER": "<PHONE>",
}
# When two findings overlap, the more specific one wins (an 18-digit ID can also pass Luhn).
_PRIORITY = {"CN_RESIDENT_ID": 0, "BANK_CARD": 1, "EMAIL_ADDRESS": 2, "PHONE_NUMBER": 3}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_resident_id_valid(value: str) -> bool:
    """GB 11643-1999 check character of an 18-character mainland resident ID.

    >>> cn_resident_id_valid("11010519491231002X"), cn_resident_id_valid("110105194912310021")
    (True, False)
    """
    v = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return False
    total = sum(int(d) * w for d, w in zip(v[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == v[17]


def luhn_valid(value: str) -> bool:
    """Luhn checksum of a digit string (separators ignored).

    >>> luhn_valid("4111 1111 1111 1111"), luhn_valid("4111 1111 1111 1112")
    (True, False)
    """
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data found (the value itself is not kept)."""

    entity: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """The text with placeholders, and what was replaced (offsets refer to the original text)."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def changed(self) -> bool:
        return bool(self.findings)


def _build_analyzer(phone_regions: Sequence[str]) -> Any:
    # Imported here: presidio takes ~2 s to import, and most processes never scrub.
    import tldextract
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

    # suffix_list_urls=() and no cache: the bundled public-suffix snapshot, never the network.
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    class CnMobileRecognizer(PatternRecognizer):
        PATTERNS = [Pattern("cn_mobile", r"(?<![\d+])(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)", 0.7)]

        def __init__(self) -> None:
            super().__init__(supported_entity="PHONE_NUMBER", patterns=self.PATTERNS, name="CnMobileRecognizer",
                             context=["phone", "mobile", "tel", "手机", "电话"])

    class InternationalPhoneRecognizer(PhoneRecognizer):
        SCORE = 0.6  # numbers phonenumbers validates are phone numbers; Presidio's 0.4 is below threshold

        def analyze(self, text, entities, nlp_artifacts=None):
            # A bare run of digits in national format is far more often an article number or an order id
            # in a shop ("0108775015" is also a valid Beijing landline). Require a "+"/"00" prefix or
            # separators for non-mobile numbers; mainland mobiles have their own recognizer above.
            results = super().analyze(text, entities, nlp_artifacts)
            return [r for r in results if not (text[r.start:r.end].isdigit() and not text[r.start:r.end].startswith("00"))]

    class CnResidentIdRecognizer(PatternRecognizer):
        PATTERNS = [Pattern("cn_resident_id",
                            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                            r"\d{3}[\dXx](?![0-9A-Za-z])", 0.5)]

        def __init__(self) -> None:
            super().__init__(supported_entity="CN_RESIDENT_ID", patterns=self.PATTERNS, name="CnResidentIdRecognizer",
                             context=["id", "身份证"])

        def validate_result(self, pattern_text: str) -> bool:
            return cn_resident_id_valid(pattern_text)

    class BankCardRecognizer(PatternRecognizer):
        PATTERNS = [Pattern("bank_card", r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", 0.3)]

        def __init__(self) -> None:
            super().__init__(supported_entity="BANK_CARD", patterns=self.PATTERNS, name="BankCardRecognizer",
                             context=["card", "visa", "mastercard", "unionpay", "银行卡", "卡号"])

        def validate_result(self, pattern_text: str) -> bool:
            digits = EntityRecognizer.sanitize_value(pattern_text, [(" ", ""), ("-", "")])
            return 13 <= len(digits) <= 19 and luhn_valid(digits)

    registry = RecognizerRegistry(supported_languages=["en"])
    for rec in (OfflineEmailRecognizer(), CnMobileRecognizer(), InternationalPhoneRecognizer(
            supported_regions=tuple(phone_regions)), CnResidentIdRecognizer(), BankCardRecognizer()):
        registry.add_recognizer(rec)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "none"}]}).create_engine()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


class Scrubber:
    """Holds one analyzer (slow to build, fast to use); thread-safe.

    ``phone_regions`` are the regions whose national formats (without ``+``) count
    as phone numbers; numbers written with ``+`` are recognised for any region.
    """

    DEFAULT_REGIONS: tuple[str, ...] = ("CN", "HK", "TW", "US", "GB", "DE", "FR", "JP", "SG")

    def __init__(self, *, phone_regions: Sequence[str] = DEFAULT_REGIONS, score_threshold: float = 0.5) -> None:
        self.score_threshold = score_threshold
        self._analyzer = _build_analyzer(phone_regions)
        self._lock = threading.Lock()

    def find(self, text: str) -> tuple[Finding, ...]:
        """Non-overlapping findings in ``text``, in order of position."""
        if not text:
            return ()
        with self._lock:  # presidio's engine is not documented as thread-safe
            results = self._analyzer.analyze(text=text, language="en", entities=list(PLACEHOLDERS),
                                             score_threshold=self.score_threshold)
        ranked = sorted(results, key=lambda r: (_PRIORITY.get(r.entity_type, 9), -(r.end - r.start), -r.score))
        chosen: list[Finding] = []
        for r in ranked:
            if all(r.end <= c.start or r.start >= c.end for c in chosen):
                chosen.append(Finding(r.entity_type, r.start, r.end, float(r.score)))
        return tuple(sorted(chosen, key=lambda f: f.start))

    def scrub(self, text: str) -> ScrubResult:
        """``text`` with every finding replaced by its placeholder."""
        found = self.find(text)
        out: list[str] = []
        pos = 0
        for f in found:
            out.append(text[pos:f.start])
            out.append(PLACEHOLDERS[f.entity])
            pos = f.end
        out.append(text[pos:])
        short = {"CN_RESIDENT_ID": "CN_ID", "BANK_CARD": "BANK_CARD", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE"}
        return ScrubResult("".join(out), tuple(Finding(short[f.entity], f.start, f.end, f.score) for f in found))


_default_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _default() -> Scrubber:
    return Scrubber()


def default_scrubber() -> Scrubber:
    """The process-wide scrubber, built on first use."""
    with _default_lock:
        return _default()


def scrub(text: str) -> ScrubResult:
    """Scrub ``text`` with the process-wide :class:`Scrubber`."""
    return default_scrubber().scrub(text)
