"""Alembic environment of the state journal.

It lives inside the package (not in a top-level ``migrations/``) so that a plain ``pip install``
ships it: the journal upgrades its database at start from wherever syncd is installed.
"""
