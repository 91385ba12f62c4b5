"""The brain: planner (pure), executor, guards, and one pass over a pair.

Entry point: :func:`syncd.engine.reconcile.reconcile_pair` (see docs/contracts.md). Modules:
``ops`` (what a plan is made of), ``planner`` (three trees in, ops out; no I/O), ``sources``
(the trees read for real), ``executor`` (runs ops, records outcomes), ``guards`` (refuse
dangerous passes), ``commands`` (the `reconcile` and `status` commands' bodies).
"""
