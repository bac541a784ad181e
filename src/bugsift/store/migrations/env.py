"""Alembic environment: the engine comes from bugsift (config.attributes), never from an ini file."""

from alembic import context

from bugsift.store.schema import metadata

config = context.config
target_metadata = metadata

engine = config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
