"""The synced tree (SQLite through the standard library's sqlite3; the schema created and
upgraded by Alembic on SQLAlchemy, imported only then).

Import :class:`syncd.journal.store.Journal` for the database; :mod:`syncd.journal.rows` holds the
plain row types the (pure) planner shares, and imports nothing that does I/O.
"""
