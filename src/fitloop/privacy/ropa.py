"""Records of processing activities (GDPR Art. 30 style), generated from the manifest.

One record per purpose: name, why, lawful basis, categories of data subjects and
personal data (with tiers), recipients, transfers, retention, security measures,
and whether consent is needed. Available as a dict, JSON and Markdown, so the
report always matches what the engine actually enforces.

>>> from fitloop.privacy.manifest import default_manifest
>>> md = ropa_markdown(default_manifest())
>>> "## analytics" in md and "Art. 6(1)(a) consent" in md
True
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fitloop.privacy.manifest import LAWFUL_BASES, Manifest
from fitloop.privacy.tiers import Tier

__all__ = ["records_of_processing", "ropa_json", "ropa_markdown", "TIER_MEASURES"]

#: Technical and organisational measures per tier (Art. 30(1)(g) / Art. 32).
TIER_MEASURES: dict[Tier, str] = {
    Tier.L1: "AES-256-GCM per person under a wrapped data key, bound to row and column; crypto-shredding on erasure; "
             "hidden from marketer, analyst and merchandiser roles",
    Tier.L2: "stored under a pseudonymous shopper id; access limited to admin, DPO, analyst and marketer roles",
    Tier.L3: "keyed HMAC-SHA256 pseudonym instead of the shopper id; free text scrubbed of PII before storage",
    Tier.L4: "aggregates; shared outside the shop only with differential privacy (OpenDP) and a minimum group size",
}


def records_of_processing(manifest: Manifest, *, generated: date | None = None) -> dict[str, Any]:
    """The records as a JSON-ready dict."""
    records = []
    for p in manifest.purposes.values():
        fields = manifest.fields_for_purpose(p.name)
        tiers = sorted({f.tier for f in fields})
        records.append({
            "purpose": p.name,
            "purpose_version": p.version,
            "title": p.title,
            "why": p.why,
            "lawful_basis": p.lawful_basis,
            "lawful_basis_text": LAWFUL_BASES[p.lawful_basis],
            "consent_required": p.needs_consent,
            "separate_consent": p.sensitive,
            "withdrawn_by_gpc": p.gpc,
            "data_subjects": ["shoppers (visitors and customers)"],
            "data_categories": [{"field": f.name, "tier": f.tier.name, "tier_label": f.tier.label,
                                 "description": f.description} for f in fields],
            "events": list(manifest.events_for_purpose(p.name)),
            "internal_users": list(p.users),
            "recipients": list(p.recipients),
            "third_country_transfers": "none unless a listed recipient is outside the shop's jurisdiction",
            "retention_days": p.retention_days,
            "owner": p.owner,
            "security_measures": [f"{t.name}: {TIER_MEASURES[t]}" for t in tiers],
        })
    return {
        "title": "Records of processing activities",
        "controller": manifest.controller,
        "contact": manifest.contact,
        "manifest_version": manifest.version,
        "manifest_fingerprint": manifest.fingerprint,
        "generated": (generated or date.today()).isoformat(),
        "records": records,
    }


def ropa_json(manifest: Manifest, *, generated: date | None = None) -> str:
    return json.dumps(records_of_processing(manifest, generated=generated), indent=2, ensure_ascii=False)


def ropa_markdown(manifest: Manifest, *, generated: date | None = None) -> str:
    """The records as a Markdown document a DPO can file."""
    r = records_of_processing(manifest, generated=generated)
    lines = [
        f"# {r['title']}",
        "",
        f"- Controller: {r['controller'] or '(set [manifest].controller)'}",
        f"- Contact: {r['contact'] or '(set [manifest].contact)'}",
        f"- Manifest version: {r['manifest_version']} (fingerprint {r['manifest_fingerprint'] or 'n/a'})",
        f"- Generated: {r['generated']}",
        "",
        "| Purpose | Lawful basis | Consent | Retention (days) | Recipients |",
        "|---|---|---|---|---|",
    ]
    for rec in r["records"]:
        consent = "separate, explicit" if rec["separate_consent"] else ("yes" if rec["consent_required"] else "no")
        lines.append(f"| {rec['purpose']} | {rec['lawful_basis_text']} | {consent} | {rec['retention_days']} | "
                     f"{', '.join(rec['recipients']) or '-'} |")
    for rec in r["records"]:
        lines += [
            "",
            f"## {rec['purpose']}",
            "",
            f"**{rec['title']}** (purpose version {rec['purpose_version']}). {rec['why']}",
            "",
            f"- Lawful basis: {rec['lawful_basis_text']}",
            f"- Consent: {'required' if rec['consent_required'] else 'not required'}"
            + ("; sensitive: asked separately, never bundled" if rec["separate_consent"] else "")
            + ("; withdrawn by a Sec-GPC: 1 signal" if rec["withdrawn_by_gpc"] else ""),
            f"- Data subjects: {', '.join(rec['data_subjects'])}",
            f"- Collected by events: {', '.join(rec['events']) or '-'}",
            f"- Used by: {', '.join(rec['internal_users']) or '-'}; owner: {rec['owner']}",
            f"- Recipients: {', '.join(rec['recipients']) or 'none outside the shop'}",
            f"- Transfers to third countries: {rec['third_country_transfers']}",
            f"- Retention: {rec['retention_days']} days, then deleted by the retention job",
            "- Security measures:",
            *[f"  - {m}" for m in rec["security_measures"]],
            "",
            "| Field | Tier | Description |",
            "|---|---|---|",
            *[f"| {d['field']} | {d['tier']} ({d['tier_label']}) | {d['description'] or '-'} |"
              for d in rec["data_categories"]],
        ]
    return "\n".join(lines) + "\n"
