"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 23:07:18.014229
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('artifacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('uri', name=op.f('uq_artifacts_uri'))
    )
    op.create_table('code_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('hash', sa.String(length=80), nullable=False),
    sa.Column('git_commit', sa.String(length=64), nullable=True),
    sa.Column('git_branch', sa.String(length=250), nullable=True),
    sa.Column('git_dirty', sa.Boolean(), nullable=True),
    sa.Column('git_diff_hash', sa.String(length=80), nullable=True),
    sa.Column('repo_path', sa.Text(), nullable=True),
    sa.Column('source_file', sa.Text(), nullable=True),
    sa.Column('function', sa.String(length=500), nullable=True),
    sa.Column('source_hash', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_versions')),
    sa.UniqueConstraint('hash', name=op.f('uq_code_versions_hash'))
    )
    op.create_table('environments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('hash', sa.String(length=80), nullable=False),
    sa.Column('python_version', sa.String(length=50), nullable=False),
    sa.Column('platform', sa.String(length=250), nullable=False),
    sa.Column('packages', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environments')),
    sa.UniqueConstraint('hash', name=op.f('uq_environments_hash'))
    )
    op.create_table('projects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('artifact_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('artifact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('content_hash', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('fingerprint_method', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_versions_artifact_id_artifacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_versions')),
    sa.UniqueConstraint('artifact_id', 'content_hash', name=op.f('uq_artifact_versions_artifact_id_content_hash'))
    )
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_versions_content_hash'), ['content_hash'], unique=False)

    op.create_table('pipelines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('orchestrator', sa.String(length=50), nullable=False),
    sa.Column('structure_hash', sa.String(length=80), nullable=False),
    sa.Column('structure', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_pipelines_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
    sa.UniqueConstraint('project_id', 'name', 'orchestrator', 'structure_hash', name=op.f('uq_pipelines_project_id_name_orchestrator_structure_hash'))
    )
    op.create_table('pipeline_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('pipeline_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_id', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.Column('ended_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_pipeline_runs_pipeline_id_pipelines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_runs')),
    sa.UniqueConstraint('pipeline_id', 'external_id', name=op.f('uq_pipeline_runs_pipeline_id_external_id'))
    )
    op.create_table('runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pipeline_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('parent_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('phase', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('orchestrator', sa.String(length=50), nullable=True),
    sa.Column('external_id', sa.String(length=500), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=True),
    sa.Column('user', sa.String(length=250), nullable=True),
    sa.Column('host', sa.String(length=250), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.Column('started_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.Column('ended_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.Column('code_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('environment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('error_type', sa.String(length=250), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_traceback', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['code_version_id'], ['code_versions.id'], name=op.f('fk_runs_code_version_id_code_versions')),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_runs_environment_id_environments')),
    sa.ForeignKeyConstraint(['parent_run_id'], ['runs.id'], name=op.f('fk_runs_parent_run_id_runs')),
    sa.ForeignKeyConstraint(['pipeline_run_id'], ['pipeline_runs.id'], name=op.f('fk_runs_pipeline_run_id_pipeline_runs')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_runs_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_parent_run_id'), ['parent_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_pipeline_run_id'), ['pipeline_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_project_id_started_at'), ['project_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_status'), ['status'], unique=False)

    op.create_table('latest_metrics',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_latest_metrics_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_latest_metrics'))
    )
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_latest_metrics_key_value'), ['key', 'value'], unique=False)

    op.create_table('metrics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.Column('is_nan', sa.Boolean(), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metrics_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metrics'))
    )
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metrics_run_id_key_step'), ['run_id', 'key', 'step'], unique=False)

    op.create_table('notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_notes_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes'))
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_run_id'), ['run_id'], unique=False)

    op.create_table('params',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value_json', sa.Text(), nullable=False),
    sa.Column('value_text', sa.Text(), nullable=False),
    sa.Column('value_num', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_params_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_params'))
    )
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_params_key_value_num'), ['key', 'value_num'], unique=False)
        batch_op.create_index(batch_op.f('ix_params_key_value_text'), ['key', 'value_text'], unique=False)

    op.create_table('run_io',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artifact_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.Float(precision=53).with_variant(sa.Float(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['artifact_version_id'], ['artifact_versions.id'], name=op.f('fk_run_io_artifact_version_id_artifact_versions')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_io_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'artifact_version_id', 'direction', name=op.f('pk_run_io'))
    )
    with op.batch_alter_table('run_io', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_io_artifact_version_id_direction'), ['artifact_version_id', 'direction'], unique=False)

    op.create_table('tags',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_tags_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'key', name=op.f('pk_tags'))
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tags_key_value'), ['key', 'value'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_key_value'))

    op.drop_table('tags')
    with op.batch_alter_table('run_io', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_io_artifact_version_id_direction'))

    op.drop_table('run_io')
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_params_key_value_text'))
        batch_op.drop_index(batch_op.f('ix_params_key_value_num'))

    op.drop_table('params')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notes_run_id'))

    op.drop_table('notes')
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metrics_run_id_key_step'))

    op.drop_table('metrics')
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_latest_metrics_key_value'))

    op.drop_table('latest_metrics')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_status'))
        batch_op.drop_index(batch_op.f('ix_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_runs_project_id_started_at'))
        batch_op.drop_index(batch_op.f('ix_runs_pipeline_run_id'))
        batch_op.drop_index(batch_op.f('ix_runs_parent_run_id'))
        batch_op.drop_index(batch_op.f('ix_runs_external_id'))

    op.drop_table('runs')
    op.drop_table('pipeline_runs')
    op.drop_table('pipelines')
    with op.batch_alter_table('artifact_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_versions_content_hash'))

    op.drop_table('artifact_versions')
    op.drop_table('projects')
    op.drop_table('environments')
    op.drop_table('code_versions')
    op.drop_table('artifacts')

