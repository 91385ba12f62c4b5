"""Journal schema revisions, oldest first (see ``syncd.journal.db.upgrade``)."""
