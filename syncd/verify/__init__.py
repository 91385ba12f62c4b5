"""`syncd verify`: compare the journal, the local tree and the remote listings."""
