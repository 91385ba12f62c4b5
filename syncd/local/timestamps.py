"""Facts about file time stamps that the planner and the executor share (no I/O here: the
planner imports it).

Filesystem time stamps advance in ticks (Linux: the kernel's coarse clock, a few ms), so a file
rewritten with the same size within the tick in which it was read keeps its mtime: size and
mtime cannot tell the versions apart ("racy git"). A file whose mtime is within ``RACY_NS`` of
the moment its upload began is checked again by content once the tick has surely passed, and an
interrupted upload is adopted only by a file last written more than ``RACY_NS`` before it began.
"""

RACY_NS = 30_000_000
