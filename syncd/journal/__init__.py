"""The synced tree (SQLite via SQLAlchemy, schema by Alembic).

Import :class:`syncd.journal.store.Journal` for the database; :mod:`syncd.journal.rows` holds the
plain row types the (pure) planner shares, and imports nothing that does I/O.
"""
