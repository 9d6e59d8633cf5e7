"""a run's params, metrics and tags without foreign keys on PostgreSQL

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:10:00

A run's values are most of what the tracking path writes: with 10 params, 5 metrics and
3 tags, 23 rows a run in ``params``, ``metrics``, ``latest_metrics`` and ``tags``. On
PostgreSQL each of those rows fired a foreign key trigger (a lookup of the run, and a
row lock on it, ``FOR KEY SHARE``): a third of the server's CPU on a batch of runs, and
the writer's drain was bound by it (~2,100 runs/s, issue 12 asks 2,500). Their only
writer is the store's event path (``store/events.py``), which writes a run's values only
under the run's key it has just read or inserted in the same transaction (a value whose
run has not arrived waits in ``parked_events``), and runs are never deleted; the
conformance suite checks that no value outlives or precedes its run.

SQLite keeps the constraints: there a check is a lookup in the same process (no
measurable cost), and dropping one would mean copying each table.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLES = ("params", "metrics", "latest_metrics", "tags")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    inspector = sa.inspect(bind)
    for table in TABLES:
        for key in inspector.get_foreign_keys(table):
            if key["referred_table"] == "runs" and key.get("name"):
                op.drop_constraint(key["name"], table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_foreign_key(f"{table}_run_id_fkey", table, "runs", ["run_id"], ["id"], ondelete="CASCADE")
