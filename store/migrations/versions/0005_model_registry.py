"""model registry: models, versions, aliases with their history, policies, approvals, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:40:00

Model names are unique in the store; version numbers are unique per model and an
artifact version is registered once per model; ``alias_moves`` keeps every move
of an alias; ``audit_events`` is append-only and hash-chained (``prev_hash`` is
unique, so the chain cannot fork).
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Double = sa.Float(precision=53).with_variant(sa.Float(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'registered_models',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=250), nullable=False),
        sa.Column('project_id', Id, nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('owner', sa.String(length=250), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('card', sa.Text(), nullable=False),
        sa.Column('created_at', Double, nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_registered_models_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registered_models')),
        sa.UniqueConstraint('name', name=op.f('uq_registered_models_name')),
    )
    op.create_table(
        'model_versions',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('model_id', Id, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('run_id', Id, nullable=True),
        sa.Column('artifact_version_id', Id, nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('created_by', sa.String(length=250), nullable=True),
        sa.Column('created_at', Double, nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_model_versions_model_id_registered_models')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_model_versions_run_id_runs')),
        sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_model_versions_artifact_version_id_artifact_versions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
        sa.UniqueConstraint('model_id', 'version', name=op.f('uq_model_versions_model_id_version')),
        sa.UniqueConstraint('model_id', 'artifact_version_id', name=op.f('uq_model_versions_model_id_artifact_version_id')),
    )
    op.create_table(
        'model_version_inputs',
        sa.Column('model_version_id', Id, nullable=False),
        sa.Column('artifact_version_id', Id, nullable=False),
        sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_model_version_inputs_model_version_id_model_versions')),
        sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_model_version_inputs_artifact_version_id_artifact_versions')),
        sa.PrimaryKeyConstraint('model_version_id', 'artifact_version_id', name=op.f('pk_model_version_inputs')),
    )
    op.create_table(
        'model_aliases',
        sa.Column('model_id', Id, nullable=False),
        sa.Column('alias', sa.String(length=250), nullable=False),
        sa.Column('version_id', Id, nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_model_aliases_model_id_registered_models')),
        sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_model_aliases_version_id_model_versions')),
        sa.PrimaryKeyConstraint('model_id', 'alias', name=op.f('pk_model_aliases')),
    )
    op.create_table(
        'alias_moves',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('model_id', Id, nullable=False),
        sa.Column('alias', sa.String(length=250), nullable=False),
        sa.Column('from_version_id', Id, nullable=True),
        sa.Column('to_version_id', Id, nullable=True),
        sa.Column('actor', sa.String(length=250), nullable=False),
        sa.Column('at', Double, nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('forced', sa.Boolean(), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_alias_moves_model_id_registered_models')),
        sa.ForeignKeyConstraint(['from_version_id'], ['model_versions.id'], name=op.f('fk_alias_moves_from_version_id_model_versions')),
        sa.ForeignKeyConstraint(['to_version_id'], ['model_versions.id'], name=op.f('fk_alias_moves_to_version_id_model_versions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alias_moves')),
    )
    op.create_index('ix_alias_moves_model_id_alias_at', 'alias_moves', ['model_id', 'alias', 'at'], unique=False)
    op.create_table(
        'promotion_policies',
        sa.Column('model_id', Id, nullable=False),
        sa.Column('alias', sa.String(length=250), nullable=False),
        sa.Column('rules', sa.Text(), nullable=False),
        sa.Column('updated_at', Double, nullable=False),
        sa.ForeignKeyConstraint(['model_id'], ['registered_models.id'], name=op.f('fk_promotion_policies_model_id_registered_models')),
        sa.PrimaryKeyConstraint('model_id', 'alias', name=op.f('pk_promotion_policies')),
    )
    op.create_table(
        'approvals',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('version_id', Id, nullable=False),
        sa.Column('alias', sa.String(length=250), nullable=False),
        sa.Column('actor', sa.String(length=250), nullable=False),
        sa.Column('at', Double, nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_approvals_version_id_model_versions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals')),
        sa.UniqueConstraint('version_id', 'alias', 'actor', name=op.f('uq_approvals_version_id_alias_actor')),
    )
    op.create_table(
        'audit_events',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('at', Double, nullable=False),
        sa.Column('actor', sa.String(length=250), nullable=False),
        sa.Column('action', sa.String(length=100), nullable=False),
        sa.Column('subject', sa.String(length=600), nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.Column('after', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
        sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_events_prev_hash')),
        sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash')),
    )
    op.create_index('ix_audit_events_subject', 'audit_events', ['subject'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_subject', table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_table('approvals')
    op.drop_table('promotion_policies')
    op.drop_index('ix_alias_moves_model_id_alias_at', table_name='alias_moves')
    op.drop_table('alias_moves')
    op.drop_table('model_aliases')
    op.drop_table('model_version_inputs')
    op.drop_table('model_versions')
    op.drop_table('registered_models')
