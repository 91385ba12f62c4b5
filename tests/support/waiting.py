"""Waiting for something to happen: always a poll of a condition with a deadline.

A sleep that merely hopes makes a test slow when it is generous and flaky when it is not; a poll
returns as soon as the condition holds and fails with an explanation when it never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_DELAY = 0.01
MAX_DELAY = 0.25


def wait_for(
    condition: Callable[[], T],
    timeout: float = 10.0,
    what: str = "the condition",
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that value.

    The delay between polls grows from 10 ms to 250 ms: quick conditions are seen at once,
    slow ones do not spin. After ``timeout`` seconds an AssertionError names ``what`` was
    awaited and adds ``explain()`` (a difference, a log tail) so that the failure explains
    itself. The condition is always checked once more after the deadline has passed.
    """
    deadline = time.monotonic() + timeout
    delay = FIRST_DELAY
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = explain() if explain is not None else ""
            message = f"timed out after {timeout:g}s waiting for {what}"
            raise AssertionError(f"{message}\n{detail}" if detail else message)
        time.sleep(delay)
        delay = min(delay * 1.5, MAX_DELAY)
