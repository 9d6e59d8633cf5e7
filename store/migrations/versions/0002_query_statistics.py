"""query statistics: multi-column statistics for the planner (PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:20:00

``params.value_text`` mixes every param's values, so PostgreSQL's per-column
statistics badly misjudge how many runs match ``key = 'model' AND
value_text = 'rf'`` (by 10x and more); it then picks a plan that collects and
sorts every match instead of walking the sort key's index and stopping at the
page's last row (140 ms instead of 6 ms at 30,000 runs). Most-common-value
lists over (key, value) pairs fix the estimates. SQLite has no equivalent and
needs none: its plans are driven by the statement's shape (store/query.py).
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_STATISTICS = (
    ("st_params_key_value_text", "params", "key, value_text"),
    ("st_params_key_value_num", "params", "key, value_num"),
    ("st_tags_key_value", "tags", "key, value"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns in _STATISTICS:
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (mcv) ON {columns} FROM {table}")
    op.execute("ANALYZE params, tags")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in _STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
