"""Alembic runs with the engine the inbox hands it (``db.alembic_config``)."""

from alembic import context

from whistle.inbox.models import Base
from whistle.migrating import migration_transaction

engine = context.config.attributes["engine"]
with engine.connect() as connection, migration_transaction(connection):
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
