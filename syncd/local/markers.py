"""Names syncd itself writes into a local tree, which every stage must recognise.

Restore writes a file as ``.syncd-restore-XXXX.part`` and renames it into place; while a
disaster-recovery restore into a pair's root is unfinished, ``.syncd-restore-incomplete`` lies in
that root, and the engine refuses to reconcile the pair (the files not yet restored would look
like local deletions). Verify skips both.
"""

TEMP_PREFIX = ".syncd-restore-"
TEMP_SUFFIX = ".part"
INCOMPLETE_MARKER = TEMP_PREFIX + "incomplete"
