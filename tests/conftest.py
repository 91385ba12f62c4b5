"""Shared fixtures: a real emulator subprocess on a free loopback port, and a client on it.

Configure the function-scoped emulator with a marker:
    @pytest.mark.emulator(rate_limit_rps=20, upload_concurrency_limit=4)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator(**knobs): start the `emulator` fixture with these knobs"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `slow` tests run only when selected with -m (pyproject: "not run by default in CI").
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: select with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    """A fresh emulator (empty state) for one test."""
    knobs: dict[str, Any] = {}
    marker = request.node.get_closest_marker("emulator")
    if marker is not None:
        knobs.update(marker.kwargs)
    with EmulatorProcess(**knobs) as emu:
        yield emu
        emu.kill()  # its state is thrown away: no need to wait for a graceful shutdown


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[EmulatorProcess]:
    """One emulator shared by the whole session: tests must not assume it is empty."""
    with EmulatorProcess() as emu:
        yield emu


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[Any]:
    """A `RemoteClient` with the demo keys on `emulator`; closed afterwards."""
    from syncd.remote.client import RemoteClient
    from syncd.remote.credentials import Credentials

    remote = RemoteClient(emulator.api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2))
    try:
        yield remote
    finally:
        remote.close()
