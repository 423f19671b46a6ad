from __future__ import annotations

from pathlib import Path

import pytest

from fitloop.data import EventType
from fitloop.errors import ConfigError, InvalidInput
from fitloop.privacy.manifest import Manifest, default_manifest, load_manifest
from fitloop.privacy.tiers import Tier

IDENTITY = ("name", "email", "phone", "address", "payment_token")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return default_manifest()


def test_default_manifest_covers_every_event_type(manifest: Manifest) -> None:
    assert {e.value for e in EventType} == set(manifest.events)
    for et in EventType:
        assert manifest.purpose_for(et) in manifest.purposes
        assert manifest.allowed_fields(et) <= set(manifest.fields)


def test_identity_fields_are_l1_and_only_for_necessary_purposes(manifest: Manifest) -> None:
    for name in IDENTITY:
        spec = manifest.fields[name]
        assert spec.tier is Tier.L1
        extra = {"marketing_email"} if name == "email" else set()
        assert set(spec.purposes) <= {"strictly_necessary", "order_fulfilment"} | extra
    # identity is never carried by behaviour events
    for et in ("product_viewed", "impression", "search", "page", "dwell", "scroll"):
        assert not set(IDENTITY) & manifest.allowed_fields(et)


def test_sensitive_and_gpc_purposes(manifest: Manifest) -> None:
    assert {p.name for p in manifest.purposes.values() if p.sensitive} == {"photo_analysis", "location"}
    assert set(manifest.gpc_purposes()) == {"marketing_email", "marketing_push", "social"}
    for p in manifest.purposes.values():
        assert p.retention_days > 0 and p.why and p.title


def test_check_event_strips_fields_outside_the_manifest(manifest: Manifest) -> None:
    kept, stripped = manifest.check_event("search", {"query": "red dress", "email": "a@b.cn", "ssn": 1})
    assert kept == {"query": "red dress"}
    assert stripped == {"email": "a@b.cn", "ssn": 1}
    assert manifest.check_event(EventType.ORDER_COMPLETED, {"email": "a@b.cn"}) == ({"email": "a@b.cn"}, {})


def test_unknown_event_type_is_refused_with_a_hint(manifest: Manifest) -> None:
    with pytest.raises(InvalidInput, match=r"\[events.teleported\]"):
        manifest.allowed_fields("teleported")


def test_field_purposes_are_intersected_with_the_event(manifest: Manifest) -> None:
    assert manifest.field_purposes("product_viewed", "latitude") == ("location",)
    assert manifest.field_purposes("product_viewed", "phone") == ()
    assert manifest.field_purposes("identify", "email") == ("strictly_necessary", "marketing_email")


def test_load_manifest_from_a_file_and_fingerprint_changes(tmp_path: Path, manifest: Manifest) -> None:
    from importlib import resources

    text = resources.files("fitloop.privacy").joinpath("default_manifest.toml").read_text()
    p = tmp_path / "m.toml"
    p.write_text(text.replace(f'version = "{manifest.version}"', 'version = "2099.1"'))
    m2 = load_manifest(p)
    assert m2.version == "2099.1" and m2.fingerprint != manifest.fingerprint
    assert load_manifest(None).fingerprint == manifest.fingerprint


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ("not toml = = 1", "not valid TOML"),
        ("[purposes.a]\nversion=1", "needs a version"),
        ('[manifest]\nversion="1"\n[purposes.a]\ntitle="t"\nwhy="w"\nlawful_basis="vibes"\nretention_days=1',
         "lawful_basis"),
        ('[manifest]\nversion="1"\n[purposes.a]\ntitle="t"\nwhy="w"\nlawful_basis="consent"\nretention_days=1\n'
         '[fields.x]\npurposes=["b"]', "declared purposes"),
        ('[manifest]\nversion="1"\n[purposes.a]\ntitle="t"\nwhy="w"\nlawful_basis="consent"\nretention_days=1\n'
         '[events.e]\npurposes=["a"]\nfields=["nope"]', r"\[fields.nope\]"),
        ('[manifest]\nversion="1"\n[purposes.a]\ntitle="t"\nwhy="w"\nlawful_basis="consent"\nretention_days=1\n'
         'version=1\nreconsent_from=2', "reconsent_from"),
        ('[manifest]\nversion="1"\n[purposes.a]\ntitle="t"\nlawful_basis="consent"\nretention_days=1', "'why'"),
    ],
)
def test_bad_manifests_are_refused_with_a_message(toml: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Manifest.from_toml(toml)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_manifest(tmp_path / "absent.toml")


def test_to_dict_roundtrips_through_from_dict(manifest: Manifest) -> None:
    again = Manifest.from_dict(manifest.to_dict())
    assert again.purposes == manifest.purposes
    assert again.fields == manifest.fields
    assert again.events == manifest.events
