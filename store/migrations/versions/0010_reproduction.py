"""reproduction: run recipes (what a run needs to be executed again) and reproductions

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 05:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Double = sa.Float(precision=53).with_variant(sa.Float(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'run_recipes',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('run_id', Id, nullable=False),
        sa.Column('part', sa.String(length=50), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_recipes_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_run_recipes')),
        sa.UniqueConstraint('run_id', 'part', name=op.f('uq_run_recipes_run_id_part')),
    )
    op.create_table(
        'reproductions',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('run_id', Id, nullable=False),
        sa.Column('original_run_id', Id, nullable=False),
        sa.Column('verdict', sa.String(length=40), nullable=True),
        sa.Column('details', sa.Text(), nullable=True),
        sa.Column('created_at', Double, nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_reproductions_run_id_runs')),
        sa.ForeignKeyConstraint(['original_run_id'], ['runs.id'],
                                name=op.f('fk_reproductions_original_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reproductions')),
        sa.UniqueConstraint('run_id', name=op.f('uq_reproductions_run_id')),
    )
    op.create_index(op.f('ix_reproductions_original_run_id'), 'reproductions', ['original_run_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_reproductions_original_run_id'), table_name='reproductions')
    op.drop_table('reproductions')
    op.drop_table('run_recipes')
