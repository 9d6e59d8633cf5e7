"""api tokens of `modeldb server`: hashed at rest, revocable, with an expiry

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Double = sa.Float(precision=53).with_variant(sa.Float(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'api_tokens',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('token_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=500), nullable=False),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('secret_hash', sa.String(length=100), nullable=False),
        sa.Column('created_at', Double, nullable=False),
        sa.Column('expires_at', Double, nullable=True),
        sa.Column('revoked_at', Double, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_id', name=op.f('uq_api_tokens_token_id')),
    )


def downgrade() -> None:
    op.drop_table('api_tokens')
