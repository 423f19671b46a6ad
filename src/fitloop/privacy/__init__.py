"""Privacy by design: purposes & manifest, consent, the data-path gate, pseudonyms, the vault,
PII scrubbing, the compliance monitor, retention and differential privacy.

Everything here is pure library logic (no web framework, no database); the
services and stores wire it into the data path as described in ``docs/PRIVACY.md``.
:mod:`fitloop.privacy.scrub` imports Presidio lazily on first use.
"""

from fitloop.privacy.compliance import (
    Alert,
    AuditEntry,
    ComplianceMonitor,
    FieldOutsideManifest,
    LogNotifier,
    MultiNotifier,
    Notifier,
    Observation,
    Owner,
    PastRetention,
    PauseKey,
    PlainHttpInProduction,
    PurposeWithoutConsent,
    RateAnomaly,
    Rule,
    RuleHit,
    SmtpNotifier,
    ThreadedNotifier,
    UnknownOrRevokedSource,
    Violation,
    WebhookNotifier,
    default_rules,
)
from fitloop.privacy.consent import (
    BUNDLE_SOURCE,
    GPC_SOURCE,
    ConsentDecision,
    ConsentLedger,
    sign_receipt,
    verify_receipt,
)
from fitloop.privacy.dp import DPAggregator, DPConfig, DPCount, DPHistogram, PrivacyBudgetExceeded
from fitloop.privacy.gate import GateDecision, PrivacyGate
from fitloop.privacy.manifest import EventSpec, FieldSpec, Manifest, Purpose, default_manifest, load_manifest
from fitloop.privacy.pseudonym import Pseudonymiser
from fitloop.privacy.retention import RetentionPolicy
from fitloop.privacy.ropa import records_of_processing, ropa_json, ropa_markdown
from fitloop.privacy.scrub import Finding, Scrubber, ScrubResult, default_scrubber, scrub
from fitloop.privacy.tiers import Role, Tier, can_see, redact_for, tier_of
from fitloop.privacy.vault import (
    DataKeyErased,
    DataKeyStore,
    InMemoryDataKeyStore,
    MasterKeyring,
    Vault,
    VaultError,
    WrappedKey,
)

__all__ = [
    # manifest & reports
    "Manifest", "Purpose", "FieldSpec", "EventSpec", "load_manifest", "default_manifest",
    "records_of_processing", "ropa_json", "ropa_markdown",
    # consent & gate
    "ConsentLedger", "ConsentDecision", "BUNDLE_SOURCE", "GPC_SOURCE", "sign_receipt", "verify_receipt",
    "PrivacyGate", "GateDecision",
    # tiers, pseudonyms, vault
    "Tier", "Role", "can_see", "tier_of", "redact_for", "Pseudonymiser",
    "Vault", "MasterKeyring", "DataKeyStore", "InMemoryDataKeyStore", "WrappedKey", "VaultError", "DataKeyErased",
    # scrubbing
    "scrub", "Scrubber", "ScrubResult", "Finding", "default_scrubber",
    # compliance monitor
    "ComplianceMonitor", "Observation", "Violation", "Alert", "AuditEntry", "PauseKey", "Owner", "Rule", "RuleHit",
    "FieldOutsideManifest", "PurposeWithoutConsent", "UnknownOrRevokedSource", "PlainHttpInProduction",
    "PastRetention", "RateAnomaly", "default_rules",
    "Notifier", "LogNotifier", "WebhookNotifier", "SmtpNotifier", "MultiNotifier", "ThreadedNotifier",
    # retention & DP
    "RetentionPolicy", "DPAggregator", "DPConfig", "DPCount", "DPHistogram", "PrivacyBudgetExceeded",
]
