"""Privacy: data keys (vault), identity vault (L1), stripped-field quarantine, compliance alerts and audit,
DP budgets, erasure records.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from fitloop.store.sql.schema import JSONDoc, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("person_id", sa.String(128), primary_key=True),
        sa.Column("master_version", sa.Integer, nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "identity_vault",
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "field", name="pk_identity_vault"),
    )
    op.create_table(
        "privacy_quarantine",
        sa.Column("quarantine_id", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_privacy_quarantine_person", "privacy_quarantine", ["person_id"])
    op.create_table(
        "compliance_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("pause_key", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("owner", sa.String(254), nullable=False),
        sa.Column("first_ts", UTCDateTime(), nullable=False),
        sa.Column("last_ts", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data", JSONDoc, nullable=False),
    )
    op.create_table(
        "compliance_audit",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("pause_key", sa.String(200)),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("alert_id", sa.String(64)),
        sa.Column("detail", JSONDoc, nullable=False),
    )
    op.create_table(
        "dp_budgets",
        sa.Column("period", sa.String(32), primary_key=True),
        sa.Column("epsilon_total", sa.Float, nullable=False),
        sa.Column("spent", sa.Float, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("subject_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.Column("summary", JSONDoc, nullable=False),
    )


def downgrade() -> None:
    for name in ("privacy_erasures", "dp_budgets", "compliance_audit", "compliance_alerts"):
        op.drop_table(name)
    op.drop_index("ix_privacy_quarantine_person", table_name="privacy_quarantine")
    for name in ("privacy_quarantine", "identity_vault", "data_keys"):
        op.drop_table(name)
