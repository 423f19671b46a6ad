from __future__ import annotations

import socket

import pytest

from fitloop.privacy.scrub import Scrubber, cn_resident_id_valid, luhn_valid, scrub


def gb11643_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 written independently of the module under test."""
    s = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    c = (12 - s % 11) % 11
    return "X" if c == 10 else str(c)


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit (computed independently of the module under test)."""
    for d in "0123456789":
        digits = [int(c) for c in prefix + d][::-1]
        total = sum(digits[0::2]) + sum(sum(divmod(2 * x, 10)) for x in digits[1::2])
        if total % 10 == 0:
            return prefix + d
    raise AssertionError


VALID_IDS = ["11010519491231002X", *(p + gb11643_check(p) for p in ("44030619900101123", "31011519851212045"))]
CARDS = ["4111 1111 1111 1111", "5500-0055-5555-5559", luhn_complete("621700123456789012"),
         luhn_complete("622202123456789")]


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber()


def test_building_and_scrubbing_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    fresh = Scrubber()
    assert fresh.scrub("write to zoe@shop.example.co.uk").text == "write to <EMAIL>"


@pytest.mark.parametrize("email", ["anna.li@example.com", "x_y+tag@mail.example.cn", "Z@sub.domain.co.uk"])
def test_emails(scrubber: Scrubber, email: str) -> None:
    r = scrubber.scrub(f"mail {email} please")
    assert r.text == "mail <EMAIL> please"
    assert [f.entity for f in r.findings] == ["EMAIL"]


@pytest.mark.parametrize("phone", ["13800138000", "+86 138 0013 8000", "+86-139-1234-5678", "0086 13912345678",
                                   "+8615912345678", "138-0013-8000"])
def test_mainland_mobiles(scrubber: Scrubber, phone: str) -> None:
    assert scrubber.scrub(f"我的手机{phone}，谢谢").text == "我的手机<PHONE>，谢谢"


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "+1 (415) 555-2671", "+49 30 901820", "+81 3-1234-5678",
                                   "+33 1 42 68 53 00"])
def test_international_numbers(scrubber: Scrubber, phone: str) -> None:
    assert scrubber.scrub(f"call {phone} tonight").text == "call <PHONE> tonight"


@pytest.mark.parametrize("rid", VALID_IDS)
def test_valid_resident_ids(scrubber: Scrubber, rid: str) -> None:
    assert cn_resident_id_valid(rid)
    r = scrubber.scrub(f"身份证 {rid} 收货")
    assert r.text == "身份证 <CN_ID> 收货" and r.findings[0].entity == "CN_ID"


def test_resident_ids_with_a_wrong_checksum_are_not_ids(scrubber: Scrubber) -> None:
    for rid in VALID_IDS:
        last = rid[-1]
        for wrong in "0123456789X":
            if wrong == last:
                continue
            bad = rid[:-1] + wrong
            assert not cn_resident_id_valid(bad)
            assert all(f.entity != "CN_ID" for f in scrubber.scrub(f"id {bad}").findings)


@pytest.mark.parametrize("card", CARDS)
def test_luhn_valid_cards(scrubber: Scrubber, card: str) -> None:
    assert luhn_valid(card)
    r = scrubber.scrub(f"card {card} expires soon")
    assert r.text == "card <BANK_CARD> expires soon"


def test_luhn_invalid_cards_are_left(scrubber: Scrubber) -> None:
    for card in CARDS:
        digits = card.replace(" ", "").replace("-", "")
        bad = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        assert not luhn_valid(bad)
        assert all(f.entity != "BANK_CARD" for f in scrubber.scrub(f"card {bad}").findings)


def test_ordinary_shopping_text_is_untouched(scrubber: Scrubber) -> None:
    for text in ["red linen dress size M under 39.99", "jeans 32/34 slim fit, order 12345", "汉服 170/92A 2026 新款",
                 "sku 0108775015 in black", ""]:
        r = scrubber.scrub(text)
        assert r.text == text and not r.changed


def test_several_findings_keep_order_and_offsets() -> None:
    text = "a@b.com / 13800138000 / 4111111111111111 / 11010519491231002X"
    r = scrub(text)
    assert r.text == "<EMAIL> / <PHONE> / <BANK_CARD> / <CN_ID>"
    assert [text[f.start:f.end] for f in r.findings] == ["a@b.com", "13800138000", "4111111111111111",
                                                         "11010519491231002X"]


@pytest.mark.realdata
def test_no_false_positives_on_real_product_descriptions(shared_data_dir, scrubber: Scrubber) -> None:
    from fitloop.datasets.hm import load_articles
    from tests.conftest import require_data_file

    require_data_file(shared_data_dir, "hm/articles.csv.gz")
    desc = load_articles(shared_data_dir)["detail_desc"].dropna().astype(str)
    sample = desc[desc.str.len() > 20].sample(500, random_state=0).tolist()
    assert [t for t in sample if scrubber.scrub(t).changed] == []
    # the same texts with contact data pasted in are all caught
    for i, t in enumerate(sample[:50]):
        r = scrubber.scrub(f"{t} contact me: 1390000{i:04d}")
        assert r.text.endswith("contact me: <PHONE>")
