"""model names unique per project; audit events know their model

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 13:40:00

Until 0010 a model name was unique in the whole store. From 0011 it is unique per
project: ``registered_models`` is unique on (name, project_id), and every model has
a project. A model registered without one gets the project of its first version's
run, else the project ``default`` (the default project of tracking). Nothing else
changes: ids, versions, aliases and their history stay as they are.

Audit events before 0011 name their model without its project (``models:/pricing``),
which becomes ambiguous once another project holds the name; ``audit_events.model_id``
says which model each event is about (filled here from the subjects, while names are
still unique) and is what lists a model's events. It is not part of the hash chain:
no hash changes.

SQLite cannot drop a table constraint in place: ``registered_models`` is copied to a
new table (Alembic's batch mode). Other tables refer to it, and with foreign keys on,
SQLite refuses to drop a table whose rows are referred to even when the copy keeps
every id; foreign keys are switched off around the copy (outside a transaction, the
only place SQLite allows it: the revisions before this one are committed first), the
copy is checked with ``PRAGMA foreign_key_check``, and ``migrate.py`` switches them
back on once the upgrade commits.
"""
import time

from alembic import op
import sqlalchemy as sa

from modeldb_core.store.migrate import FOREIGN_KEYS_OFF


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
DEFAULT_PROJECT = 'default'  # modeldb_core.config's default project, as it was when this was written

models = sa.table('registered_models', sa.column('id', Id), sa.column('name', sa.String),
                  sa.column('project_id', Id))
projects = sa.table('projects', sa.column('id', Id), sa.column('name', sa.String),
                    sa.column('created_at', sa.Float))
versions = sa.table('model_versions', sa.column('model_id', Id), sa.column('version', sa.Integer),
                    sa.column('run_id', Id))
runs = sa.table('runs', sa.column('id', Id), sa.column('project_id', Id))
events = sa.table('audit_events', sa.column('id', Id), sa.column('subject', sa.String),
                  sa.column('model_id', Id))


def _foreign_keys_off(bind) -> None:
    """SQLite with models only: commit what came before, switch foreign keys off, go on in a
    new transaction (without rows referring to models, the copy needs none of it)."""
    if bind.dialect.name != 'sqlite' or bind.info.get(FOREIGN_KEYS_OFF):
        return
    if bind.execute(sa.select(models.c.id).limit(1)).first() is None:
        return
    bind.exec_driver_sql('COMMIT')
    bind.exec_driver_sql('PRAGMA foreign_keys=OFF')
    bind.exec_driver_sql('BEGIN IMMEDIATE')
    bind.info[FOREIGN_KEYS_OFF] = True


def _check_foreign_keys(bind) -> None:
    if bind.dialect.name == 'sqlite':
        broken = bind.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if broken:
            raise RuntimeError(f'revision 0011 would leave rows referring to missing rows: {broken[:5]}')


def upgrade() -> None:
    bind = op.get_bind()
    # Every model gets a project: its first version's run's, else the default one.
    first_run_project = (sa.select(runs.c.project_id).select_from(versions.join(runs, runs.c.id == versions.c.run_id))
                         .where(versions.c.model_id == models.c.id).order_by(versions.c.version).limit(1)
                         .scalar_subquery())
    bind.execute(models.update().where(models.c.project_id.is_(None)).values(project_id=first_run_project))
    if bind.execute(sa.select(models.c.id).where(models.c.project_id.is_(None)).limit(1)).first() is not None:
        default = bind.execute(sa.select(projects.c.id).where(projects.c.name == DEFAULT_PROJECT)).scalar()
        if default is None:
            default = bind.execute(projects.insert().values(name=DEFAULT_PROJECT, created_at=time.time())
                                   .returning(projects.c.id)).scalar_one()
        bind.execute(models.update().where(models.c.project_id.is_(None)).values(project_id=default))

    _foreign_keys_off(bind)
    with op.batch_alter_table('registered_models') as batch:
        batch.drop_constraint('uq_registered_models_name', type_='unique')
        batch.alter_column('project_id', existing_type=Id, nullable=False)
        batch.create_unique_constraint('uq_registered_models_name_project_id', ['name', 'project_id'])
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('model_id', Id, nullable=True))
        batch.create_foreign_key('fk_audit_events_model_id_registered_models', 'registered_models',
                                 ['model_id'], ['id'])
        batch.create_index('ix_audit_events_model_id_id', ['model_id', 'id'], unique=False)
    _check_foreign_keys(bind)

    # Which model each event is about, from its subject (names are still unique here):
    # models:/NAME, models:/NAME/N, models:/NAME@alias.
    for model_id, name in bind.execute(sa.select(models.c.id, models.c.name)).all():
        base = f'models:/{name}'
        bind.execute(events.update().where(
            events.c.model_id.is_(None),
            (events.c.subject == base) | events.c.subject.startswith(base + '/', autoescape=True)
            | events.c.subject.startswith(base + '@', autoescape=True)).values(model_id=model_id))


def downgrade() -> None:
    bind = op.get_bind()
    shared = bind.execute(sa.select(models.c.name).group_by(models.c.name).having(sa.func.count() > 1)
                          .order_by(models.c.name)).scalars().all()
    if shared:
        raise RuntimeError(f'cannot go back to store-wide model names: several projects hold {shared[:5]}; '
                           'rename or remove those models first')
    _foreign_keys_off(bind)
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_index('ix_audit_events_model_id_id')
        batch.drop_constraint('fk_audit_events_model_id_registered_models', type_='foreignkey')
        batch.drop_column('model_id')
    with op.batch_alter_table('registered_models') as batch:
        batch.drop_constraint('uq_registered_models_name_project_id', type_='unique')
        batch.alter_column('project_id', existing_type=Id, nullable=True)
        batch.create_unique_constraint('uq_registered_models_name', ['name'])
    _check_foreign_keys(bind)
