"""`uploaded_before`: whether the host's upload date (whole seconds, the host's clock) puts a
file before an upload that began at a moment of syncd's clock."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.remote.models import RemoteFile
from syncd.remote.paths import uploaded_before

SECOND = 1_000_000_000


class _DatedFile:
    """A host that dates every file to one moment (what `file/info` answers)."""

    def __init__(self, dated_s: int) -> None:
        self.dated = datetime.fromtimestamp(dated_s, UTC)

    def file_info(self, file_id: int) -> RemoteFile:
        return RemoteFile(file_id, "a.txt", 3, None, "active", uploaded_at=self.dated)


def test_a_host_clock_a_few_ms_behind_does_not_date_syncds_own_upload_before_it() -> None:
    """Found in CI: the intent was written at 711.0018 s; the host stored the upload a moment
    later but dated it 710 (a host's second clock, like glibc's time(), lags the precise one
    by up to a tick). The file is the interrupted upload's own, not someone else's."""
    host = _DatedFile(710)
    assert not uploaded_before(host, 1, 711 * SECOND + 1_807_000)  # type: ignore[arg-type]


def test_a_file_dated_well_before_the_upload_began_is_not_what_it_left() -> None:
    host = _DatedFile(700)
    assert uploaded_before(host, 1, 711 * SECOND)  # type: ignore[arg-type]


def test_an_undated_file_is_never_before() -> None:
    class Undated:
        def file_info(self, file_id: int) -> RemoteFile:
            return RemoteFile(file_id, "a.txt", 3, None, "active")

    assert not uploaded_before(Undated(), 1, 711 * SECOND)  # type: ignore[arg-type]
