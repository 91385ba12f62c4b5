"""What versioning costs in API calls (the emulator's per-endpoint request counts; counts, not
timings): replacing a file is one upload plus one `file/edit`, a local delete one `file/edit`,
a directory of 200 files deleted locally one `folder/edit`, and pruning N versions N trashes
plus one listing per folder of the versions area. The same figures, at 1,000 files, are in the
`api_economy` benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.support.reconcile import Syncer, mutating_calls, pair_config

DIR_FILES = 200


def _requests(admin: Any) -> dict[str, int]:
    return {k: v for k, v in admin.counts().items() if v and k not in ("429", "faults")}


def test_versioning_costs_a_handful_of_calls(emulator: Any, tmp_path: Path) -> None:
    root = tmp_path / "local"
    (root / "keep").mkdir(parents=True)
    (root / "bulk").mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / "keep" / name).write_bytes(name.encode())
    for i in range(DIR_FILES):
        (root / "bulk" / f"f{i:04d}.bin").write_bytes(b"x" * (i + 1))
    config = pair_config(tmp_path, emulator.api_url, root, mode="backup")  # keeps versions
    admin = emulator.admin
    syncer = Syncer(config)
    try:
        syncer.run()

        def measured(change: Any, **options: Any) -> tuple[dict[str, int], dict[str, int]]:
            change()
            admin.reset_counts()
            result = syncer.run(**options)
            assert result.exit_code == 0, result.outcome.failed
            requests = _requests(admin)
            return mutating_calls(requests), requests

        def edit(name: str, body: bytes) -> Any:
            return lambda: (root / "keep" / name).write_bytes(body)

        # The first version in a directory also creates its folder in the versions area.
        first, _ = measured(edit("a.txt", b"a, second"))
        assert first == {"file/upload": 1, "file/edit": 1, "folder/create": 2}, first
        replace, _ = measured(edit("a.txt", b"a, third!"))
        assert replace == {"file/upload": 1, "file/edit": 1}, replace
        delete, _ = measured(lambda: (root / "keep" / "b.txt").unlink())
        assert delete == {"file/edit": 1}, delete
        # (200 of 202 files leave the live tree: past max_delete, confirmed as a user would.)
        whole, requests = measured(lambda: shutil.rmtree(root / "bulk"), force_deletes=True)
        assert whole == {"folder/edit": 1}, whole  # the whole directory becomes one version
        assert sum(requests.values()) <= 5, requests  # listings of the live tree, an authorize

        for n in range(4):
            measured(edit("c.txt", f"c, version {n + 2}".encode()))
    finally:
        syncer.close()

    # Versions now: a.txt 2, b.txt 1, c.txt 4, bulk/ 1. Keeping the last of each prunes 4.
    with config.open("a", encoding="utf-8") as fh:
        fh.write("versions = { keep_last = 1 }\n")
    syncer = Syncer(config)
    try:
        admin.reset_counts()
        assert syncer.run().exit_code == 0
        requests = _requests(admin)
    finally:
        syncer.close()
    assert mutating_calls(requests) == {"file/delete": 4}, requests
    # The pass's own listings (the live root and keep/) plus the area's (its root and keep/).
    assert requests.get("folder/listing") == 4, requests
