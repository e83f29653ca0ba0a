"""scaling: autoscaling and scheduled scaling of deployments, auto stop, the gateways' load

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch_op:
        batch_op.add_column(sa.Column("autoscaling", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("schedules", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("scale_set_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("target_replicas", sa.Integer(), nullable=True))
    with op.batch_alter_table("services") as batch_op:
        batch_op.add_column(sa.Column("stop_after", sa.Float(), nullable=True))
    op.create_table(
        "load_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("gateway", sa.String(128), nullable=False),
        sa.Column("deployment_id", sa.String(32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("span", sa.Float(), nullable=False),
        sa.Column("in_flight", sa.Float(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
    )
    op.create_index("ix_load_samples_at", "load_samples", ["at"])


def downgrade() -> None:
    op.drop_index("ix_load_samples_at", table_name="load_samples")
    op.drop_table("load_samples")
    with op.batch_alter_table("services") as batch_op:
        batch_op.drop_column("stop_after")
    with op.batch_alter_table("deployments") as batch_op:
        for column in ("target_replicas", "scale_set_at", "schedules", "autoscaling"):
            batch_op.drop_column(column)
