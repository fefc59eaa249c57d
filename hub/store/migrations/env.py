from alembic import context

from hub.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # SQLite runs DDL in transactions too: one transaction for the whole upgrade keeps the
    # BEGIN IMMEDIATE lock to the end, so hubs starting at once cannot interleave migrations.
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
