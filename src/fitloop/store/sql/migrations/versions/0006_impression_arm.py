"""Impressions carry the live A/B split that served them: experiment id and arm (NULL outside a split).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: existing rows (served before any split) need no rewrite.
    with op.batch_alter_table("impressions") as batch:
        batch.add_column(sa.Column("experiment_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("arm", sa.String(8), nullable=True))
    # Attribution reads one experiment's lists in time order.
    op.create_index("ix_impressions_experiment_ts", "impressions", ["experiment_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_impressions_experiment_ts", table_name="impressions")
    with op.batch_alter_table("impressions") as batch:
        batch.drop_column("arm")
        batch.drop_column("experiment_id")
