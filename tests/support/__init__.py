"""Helpers shared by the unit, integration and reliability tests (no tests here).

One implementation each, so that a fix (a clean environment for the CLI, a deadline that
explains itself) reaches every test at once:

- :mod:`tests.support.waiting` — ``wait_for``: poll a condition with a deadline.
- :mod:`tests.support.trees` — write a ``{relative path: bytes | str}`` tree, read one back as
  ``{relative path: md5}``, MD5 of bytes and of files.
- :mod:`tests.support.config` — ``write_config``: a syncd config file for a test.
- :mod:`tests.support.cli` — ``run_syncd`` / ``start_syncd``: the CLI as a real subprocess with a
  clean environment; ``error_line`` and ``log_records`` to read what it printed.
- :mod:`tests.support.leaks` — scanners for keys and tokens in output.
- :mod:`tests.support.hosts` — a scripted HTTP host on loopback, for answers the emulator never
  gives.
- :mod:`tests.support.mounts` — tiny tmpfs mounts (root only) for full and read-only disks.
- :mod:`tests.support.daemon`, :mod:`tests.support.reconcile`, :mod:`tests.support.restore` —
  the helpers of one area each (the daemon as a subprocess, in-process passes, restore and
  verify trees), built on the ones above.

Fixtures stay in ``conftest.py`` files; everything here is a plain function or class.
"""
