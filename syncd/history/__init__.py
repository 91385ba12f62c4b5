"""The history of a pair's remote folder: pure rules shared by the engine, restore and verify.

``names`` (the versioned-name scheme), ``retention`` (which versions a policy keeps) and
``timespec`` (times and durations as users write them). No I/O here: this package sits in the
lowest import layer so that the engine, restore and verify can all use it.
"""
