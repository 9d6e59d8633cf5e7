"""deployments: where each model version is served, since and until when

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:30:00

One row per deployment of a model version in an environment; ``until`` is NULL while
it serves. ``uuid`` is client-made so a deployment recorded through the tracking
runtime and delivered twice is one row.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Double = sa.Float(precision=53).with_variant(sa.Float(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'deployments',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('model_id', Id, nullable=False),
        sa.Column('version_id', Id, nullable=False),
        sa.Column('environment', sa.String(length=250), nullable=False),
        sa.Column('endpoint', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('traffic', Double, nullable=True),
        sa.Column('since', Double, nullable=False),
        sa.Column('until', Double, nullable=True),
        sa.Column('actor', sa.String(length=250), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('requested', sa.String(length=600), nullable=False),
        sa.Column('run_id', Id, nullable=True),
        sa.Column('state_reason', sa.Text(), nullable=True),
        sa.Column('state_changed_at', Double, nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'],
                                name=op.f('fk_deployments_model_id_registered_models')),
        sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'],
                                name=op.f('fk_deployments_version_id_model_versions')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_deployments_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
        sa.UniqueConstraint('uuid', name=op.f('uq_deployments_uuid')),
    )
    op.create_index('ix_deployments_environment_since', 'deployments', ['environment', 'since'], unique=False)
    op.create_index('ix_deployments_model_id_environment_until', 'deployments',
                    ['model_id', 'environment', 'until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_deployments_model_id_environment_until', table_name='deployments')
    op.drop_index('ix_deployments_environment_since', table_name='deployments')
    op.drop_table('deployments')
