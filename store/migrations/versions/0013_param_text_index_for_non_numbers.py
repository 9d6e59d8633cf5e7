"""params indexed by text only when they are not numbers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 11:00:00

Every param row was in both of its value indexes, (key, value_num) and (key, value_text),
though a number's text (its JSON, ``"0.01"``) is found through its number as well: the
query layer looks a text up among the rows that are not numbers (``value_num IS NULL``,
this partial index) and, when the text is a finite number's, among the rows holding that
number ((key, value_num)). Most params are numbers: with 10 numeric params a run, the
tracking server's PostgreSQL writes 10 fewer index entries a run.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

NAME = "ix_params_key_value_text"
NOT_A_NUMBER = "value_num IS NULL"


def upgrade() -> None:
    op.drop_index(NAME, table_name="params")
    op.create_index(NAME, "params", ["key", "value_text"], unique=False,
                    postgresql_where=sa.text(NOT_A_NUMBER), sqlite_where=sa.text(NOT_A_NUMBER))


def downgrade() -> None:
    op.drop_index(NAME, table_name="params")
    op.create_index(NAME, "params", ["key", "value_text"], unique=False)
