"""running runs index: a partial index for reaping

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:55:00

``reap`` (run before every ``modeldb runs list``) selects the runs still
``running``. With planner statistics on a store of a million runs SQLite
stops using the plain ``status`` index for that and scans the table; a
partial index over just the running runs stays small and is always used.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_running", "runs", ["id"], unique=False,
                    sqlite_where=sa.text("status = 'running'"),
                    postgresql_where=sa.text("status = 'running'"))


def downgrade() -> None:
    op.drop_index("ix_runs_running", table_name="runs")
