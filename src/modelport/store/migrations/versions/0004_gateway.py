"""gateway: traffic policy, per-deployment counts, request stats, routing generation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch_op:
        batch_op.add_column(sa.Column("traffic", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("deployments") as batch_op:
        batch_op.add_column(
            sa.Column("invocation_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("failure_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "request_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_stats_service_minute", "request_stats", ["service_id", "minute"])
    op.create_index("ix_request_stats_minute", "request_stats", ["minute"])
    op.create_table(
        "routing_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO routing_state (id, generation) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("routing_state")
    op.drop_index("ix_request_stats_minute", table_name="request_stats")
    op.drop_index("ix_request_stats_service_minute", table_name="request_stats")
    op.drop_table("request_stats")
    with op.batch_alter_table("deployments") as batch_op:
        batch_op.drop_column("failure_count")
        batch_op.drop_column("invocation_count")
    with op.batch_alter_table("services") as batch_op:
        batch_op.drop_column("traffic")
