"""service counts kept by triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """
    CREATE TRIGGER service_counts_insert AFTER INSERT ON services BEGIN
        INSERT INTO service_counts (project_id, workspace, status, n)
        VALUES (NEW.project_id, NEW.workspace, NEW.status, 1)
        ON CONFLICT (project_id, workspace, status) DO UPDATE SET n = n + 1;
    END
    """,
    """
    CREATE TRIGGER service_counts_delete AFTER DELETE ON services BEGIN
        UPDATE service_counts SET n = n - 1
        WHERE project_id = OLD.project_id AND workspace = OLD.workspace AND status = OLD.status;
    END
    """,
    """
    CREATE TRIGGER service_counts_update AFTER UPDATE OF project_id, workspace, status ON services
    WHEN OLD.project_id != NEW.project_id OR OLD.workspace != NEW.workspace
        OR OLD.status != NEW.status
    BEGIN
        UPDATE service_counts SET n = n - 1
        WHERE project_id = OLD.project_id AND workspace = OLD.workspace AND status = OLD.status;
        INSERT INTO service_counts (project_id, workspace, status, n)
        VALUES (NEW.project_id, NEW.workspace, NEW.status, 1)
        ON CONFLICT (project_id, workspace, status) DO UPDATE SET n = n + 1;
    END
    """,
]

_POSTGRESQL = [
    """
    CREATE FUNCTION modelport_service_counts() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.project_id = NEW.project_id
                AND OLD.workspace = NEW.workspace AND OLD.status = NEW.status THEN
            RETURN NULL;
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE service_counts SET n = n - 1
            WHERE project_id = OLD.project_id AND workspace = OLD.workspace
                AND status = OLD.status;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO service_counts (project_id, workspace, status, n)
            VALUES (NEW.project_id, NEW.workspace, NEW.status, 1)
            ON CONFLICT (project_id, workspace, status)
            DO UPDATE SET n = service_counts.n + 1;
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER service_counts AFTER INSERT OR DELETE OR UPDATE OF project_id, workspace, status
    ON services FOR EACH ROW EXECUTE FUNCTION modelport_service_counts()
    """,
]


def upgrade() -> None:
    op.create_table(
        "service_counts",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "workspace", "status"),
    )
    op.execute(
        "INSERT INTO service_counts (project_id, workspace, status, n) "
        "SELECT project_id, workspace, status, count(*) FROM services "
        "GROUP BY project_id, workspace, status"
    )
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER service_counts ON services")
        op.execute("DROP FUNCTION modelport_service_counts()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER service_counts_{name}")
    op.drop_table("service_counts")
