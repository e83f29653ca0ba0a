"""rollouts: the spec each replica runs, each deployment's rollout, when a replica turned unhealthy

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch_op:
        batch_op.add_column(
            sa.Column("rollout_timeout", sa.Float(), nullable=False, server_default="600")
        )
        batch_op.add_column(sa.Column("previous", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("rollout_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rollout", sa.String(16), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("updated_replicas", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("replicas") as batch_op:
        # "": started before this migration; the controller adopts it as running the current spec
        batch_op.add_column(sa.Column("template", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("unhealthy_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replicas") as batch_op:
        batch_op.drop_column("unhealthy_at")
        batch_op.drop_column("template")
    with op.batch_alter_table("deployments") as batch_op:
        for column in ("updated_replicas", "rollout", "rollout_started_at", "previous"):
            batch_op.drop_column(column)
        batch_op.drop_column("rollout_timeout")
