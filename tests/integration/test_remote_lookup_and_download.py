"""The shared remote helpers against the emulator over loopback HTTP: one folder-by-path lookup
(with its same-name policies) and one download-and-hash."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import UserError
from syncd.remote.downloads import download_to
from syncd.remote.errors import NotFound
from syncd.remote.paths import RemoteFolderMissing, SameName, resolve_remote_folder
from tests.support.restore import add_folder


def test_lookup_walks_the_path_and_names_the_missing_level(client: Any) -> None:
    top = client.folder_create("Backup", None)
    docs = client.folder_create("Docs", top.id)
    assert resolve_remote_folder(client, []) is None
    assert resolve_remote_folder(client, ["Backup", "Docs"]) == docs.id
    with pytest.raises(RemoteFolderMissing) as missing:
        resolve_remote_folder(client, ["Backup", "Nope", "Deeper"])
    assert "'Backup/Nope' does not exist (no folder named 'Nope' in Backup)" in str(missing.value)


def test_twins_are_refused_unless_preferred_or_the_oldest_is_asked_for(
    emulator: Any, client: Any
) -> None:
    first = client.folder_create("Twin", None).id
    second = add_folder(emulator.admin, None, "Twin")
    with pytest.raises(UserError) as twins:
        resolve_remote_folder(client, ["Twin"])
    assert f"ambiguous: 2 folders named 'Twin' in the account root (ids {first}, {second})" in str(
        twins.value
    )
    assert resolve_remote_folder(client, ["Twin"], prefer=second) == second
    assert resolve_remote_folder(client, ["Twin"], same_name=SameName.OLDEST) == first
    # ``prefer`` only settles the last level; above it the policy decides.
    client.folder_create("In", second)
    with pytest.raises(UserError, match="ambiguous"):
        resolve_remote_folder(client, ["Twin", "In"], prefer=second)
    with pytest.raises(RemoteFolderMissing):  # the oldest twin has no "In"
        resolve_remote_folder(client, ["Twin", "In"], same_name=SameName.OLDEST)


def test_create_makes_the_missing_levels_once(client: Any) -> None:
    made = resolve_remote_folder(client, ["New", "Path", "Here"], create=True)
    assert made is not None
    assert resolve_remote_folder(client, ["New", "Path", "Here"]) == made
    assert resolve_remote_folder(client, ["New", "Path", "Here"], create=True) == made
    assert [f.name for f in client.folder_listing(None).folders].count("New") == 1


def test_download_to_writes_hashes_and_counts(client: Any, tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # several of the client's 1 MiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    uploaded = client.upload_file(path, None, filename="big.bin")
    sink = io.BytesIO()
    seen: list[int] = []
    md5, size = download_to(client, uploaded.file_id, sink, on_chunk=seen.append)
    assert sink.getvalue() == data
    assert md5 == hashlib.md5(data).hexdigest() and size == len(data) == sum(seen)
    assert len(seen) > 1
    assert download_to(client, uploaded.file_id) == (md5, size)  # no sink: only hashed


def test_download_to_a_missing_file_raises_not_found(client: Any) -> None:
    with pytest.raises(NotFound):
        download_to(client, 987654321, io.BytesIO())
