"""Alembic environment of the backlog, run programmatically by `backlog.db.init_schema`.

The caller hands over an open connection in `config.attributes["connection"]`;
this file never builds an engine itself. Migrations spell out their operations
and do not import `backlog.models`: a revision must keep meaning the same
thing when the models change later.
"""

from alembic import context

from backlog.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the backlog migrations through backlog.db.init_schema(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot alter most things in place: batch mode copies the table.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
