"""tracking events: client-made run ids, idempotent and order-independent application

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 06:00:00

Runs get ``uuid`` (their public id, made by the tracking client; existing runs
get a UUIDv7 from their start time) and ``end_seq``; pipeline runs a ``uuid``
(the key every worker gives them); tags and notes the ``seq`` of the event that
wrote them; a metric point is unique by (run, key, step, timestamp), so an
event delivered twice adds nothing; ``parked_events`` keeps events that came
before what they refer to. Old integer run ids keep resolving (documented).
"""
import os
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _uuid7_at(seconds: float) -> str:
    millis = int(seconds * 1000) & 0xFFFF_FFFF_FFFF
    value = millis << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def upgrade() -> None:
    op.add_column('runs', sa.Column('uuid', sa.String(length=36), nullable=True))
    op.add_column('runs', sa.Column('end_seq', sa.BigInteger(), nullable=True))
    op.add_column('runs', sa.Column('parent_uuid', sa.String(length=36), nullable=True))
    op.add_column('pipeline_runs', sa.Column('uuid', sa.String(length=36), nullable=True))
    op.add_column('tags', sa.Column('seq', sa.BigInteger(), nullable=True))
    op.add_column('notes', sa.Column('seq', sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, started_at FROM runs WHERE uuid IS NULL")).all()
    for start in range(0, len(rows), 5000):
        conn.execute(sa.text("UPDATE runs SET uuid = :uuid WHERE id = :id"),
                     [{"id": r.id, "uuid": _uuid7_at(r.started_at)} for r in rows[start:start + 5000]])
    op.create_index('uq_runs_uuid', 'runs', ['uuid'], unique=True)
    conn.execute(sa.text("UPDATE runs SET parent_uuid = (SELECT p.uuid FROM runs p WHERE p.id = runs.parent_run_id) "
                         "WHERE parent_run_id IS NOT NULL"))
    op.create_index('uq_pipeline_runs_uuid', 'pipeline_runs', ['uuid'], unique=True)
    op.create_index('uq_notes_run_seq', 'notes', ['run_id', 'seq'], unique=True)
    # A point written twice by an earlier version is kept once.
    conn.execute(sa.text(
        "DELETE FROM metrics WHERE id NOT IN (SELECT MIN(id) FROM metrics "
        "GROUP BY run_id, key, step, timestamp)"))
    op.drop_index('ix_metrics_run_id_key_step', table_name='metrics')
    op.create_index('uq_metrics_point', 'metrics', ['run_id', 'key', 'step', 'timestamp'], unique=True)
    op.create_table(
        'parked_events',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('waits_for', sa.String(length=36), nullable=False),
        sa.Column('event', sa.Text(), nullable=False),
        sa.Column('definitions', sa.Text(), nullable=False),
        sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_parked_events')),
    )
    op.create_index('ix_parked_events_waits_for', 'parked_events', ['waits_for'], unique=False)
    op.create_table(
        'store_info',
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_store_info')),
    )


def downgrade() -> None:
    op.drop_table('store_info')
    op.drop_index('ix_parked_events_waits_for', table_name='parked_events')
    op.drop_table('parked_events')
    op.drop_index('uq_metrics_point', table_name='metrics')
    op.create_index('ix_metrics_run_id_key_step', 'metrics', ['run_id', 'key', 'step'], unique=False)
    op.drop_index('uq_notes_run_seq', table_name='notes')
    op.drop_index('uq_pipeline_runs_uuid', table_name='pipeline_runs')
    op.drop_index('uq_runs_uuid', table_name='runs')
    with op.batch_alter_table('notes') as batch:
        batch.drop_column('seq')
    with op.batch_alter_table('tags') as batch:
        batch.drop_column('seq')
    with op.batch_alter_table('pipeline_runs') as batch:
        batch.drop_column('uuid')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('end_seq')
        batch.drop_column('parent_uuid')
        batch.drop_column('uuid')
