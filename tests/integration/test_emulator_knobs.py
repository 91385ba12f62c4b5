"""The emulator's knobs: rate limits, upload concurrency, faults, token lifetime, package values."""

from __future__ import annotations

import concurrent.futures
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.emulator.testing import EmulatorError, EmulatorProcess, RawApi
from tests.support.waiting import wait_for

BAD_TOKEN = "Could not validate access_token and account_id, please reauthenticate or try again."


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[RawApi]:
    with RawApi(emulator.api_url, timeout=10) as raw:
        raw.authorize()
        yield raw


def folder_names(emulator: EmulatorProcess) -> list[str]:
    return [f["name"] for f in emulator.admin.tree()["folders"]]


# ---------------------------------------------------------------- rate limits
def test_rate_limit_answers_429_with_retry_after_and_html(
    emulator: EmulatorProcess, api: RawApi
) -> None:
    emulator.admin.reset_counts()
    emulator.admin.set_knobs(rate_limit_rps=2)
    responses = [api.call("account/info") for _ in range(12)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "12 back-to-back requests at 2/s must hit the limit"
    for r in limited:
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"].startswith("text/html")
        assert "429 Too Many Requests" in r.text
    counts = emulator.admin.counts()
    assert counts["429"] == len(limited)
    assert counts["account/info"] == 12 - len(limited)
    emulator.admin.set_knobs(rate_limit_rps=0)
    assert api.call("account/info").status_code == 200


@pytest.mark.emulator(rate_limit_rps=3)
def test_rate_limit_from_the_command_line(emulator: EmulatorProcess, api: RawApi) -> None:
    statuses = {api.call("account/info").status_code for _ in range(5)}
    assert statuses == {200, 429}


def test_upload_concurrency_limit(emulator: EmulatorProcess, api: RawApi) -> None:
    # Hold the first upload in flight with latency, then a second one must get 429.
    emulator.admin.set_knobs(upload_concurrency_limit=1, latency_ms=1500)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.upload_response, b"first", "1.txt")
        wait_for(lambda: emulator.admin.counts().get("file/upload", 0) == 1, what="the upload")
        emulator.admin.set_knobs(latency_ms=0)
        second = api.upload_response(b"second", "2.txt")
        assert second.status_code == 429
        assert int(second.headers["retry-after"]) >= 1
        assert first.result().json()["_status"] == "success"
    assert emulator.admin.counts()["429"] == 1
    assert api.upload_response(b"third", "3.txt").json()["_status"] == "success"


# ---------------------------------------------------------------------- faults
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_error_faults_change_nothing(
    emulator: EmulatorProcess, api: RawApi, kind: str
) -> None:
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=[kind])
    response = api.call("folder/create", folder_name=f"f{kind}")
    assert response.status_code == int(kind)
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text
    emulator.admin.set_knobs(fault_rate=0)
    assert folder_names(emulator) == []
    assert emulator.admin.counts()["faults"] == 1


def test_drop_fault_breaks_the_connection(emulator: EmulatorProcess, api: RawApi) -> None:
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["drop"])
    with pytest.raises(httpx.TransportError):
        api.call("folder/create", folder_name="dropped")
    emulator.admin.set_knobs(fault_rate=0)
    assert folder_names(emulator) == []
    assert api.ok("account/info")["data"]["id"] == "1"  # the server is fine afterwards


def test_stall_fault_outlasts_the_client_timeout(emulator: EmulatorProcess) -> None:
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["stall"], stall_s=1.5)
    with RawApi(emulator.api_url, timeout=0.3) as raw, pytest.raises(httpx.ReadTimeout):
        raw.post("authorize")
    assert emulator.admin.counts()["faults"] == 1


def test_after_500_fault_takes_effect_then_loses_the_answer(
    emulator: EmulatorProcess, api: RawApi
) -> None:
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["after_500"])
    response = api.call("folder/create", folder_name="made anyway")
    assert response.status_code == 500
    assert folder_names(emulator) == ["made anyway"]


def test_after_drop_fault_on_upload_stores_the_file(emulator: EmulatorProcess, api: RawApi) -> None:
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["after_drop"])
    with pytest.raises(httpx.TransportError):
        api.upload_response(b"ghost", "ghost.txt")
    emulator.admin.set_knobs(fault_rate=0)
    assert emulator.admin.active_paths() == {"/ghost.txt": hashlib.md5(b"ghost").hexdigest()}


def test_faults_are_reproducible_with_a_seed(emulator: EmulatorProcess, api: RawApi) -> None:
    def pattern() -> list[int]:
        return [api.call("account/info").status_code for _ in range(30)]

    emulator.admin.set_knobs(fault_rate=0.5, fault_kinds=["500", "503"], fault_seed=7)
    first = pattern()
    emulator.admin.set_knobs(fault_seed=7)
    assert pattern() == first
    assert set(first) == {200, 500, 503}


def test_faults_also_hit_downloads(emulator: EmulatorProcess, api: RawApi) -> None:
    item = api.upload(b"abc", "a.txt")
    url = api.ok("file/download", file_id=item["file_id"])["data"]["download_url"]
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["502"])
    assert httpx.get(url).status_code == 502


# ---------------------------------------------------------------------- tokens
@pytest.mark.emulator(token_lifetime_s=1.0)
def test_token_expires_after_idle_time(emulator: EmulatorProcess, api: RawApi) -> None:
    api.ok("account/info")
    time.sleep(1.5)  # longer than the configured idle lifetime
    response = api.call("account/info")
    assert response.json()["response"] == BAD_TOKEN
    api.authorize()
    api.ok("account/info")


@pytest.mark.emulator(token_lifetime_s=2.0)
def test_each_valid_call_refreshes_the_token(emulator: EmulatorProcess, api: RawApi) -> None:
    deadline = time.monotonic() + 2.5  # past the lifetime, in calls 0.05 s apart
    while time.monotonic() < deadline:
        api.ok("account/info")
        time.sleep(0.05)


def test_token_lifetime_knob_at_run_time(emulator: EmulatorProcess, api: RawApi) -> None:
    emulator.admin.set_knobs(token_lifetime_s=0.2)
    time.sleep(0.4)
    assert api.call("account/info").json()["response"] == BAD_TOKEN


def test_revoke_tokens(emulator: EmulatorProcess, api: RawApi) -> None:
    emulator.admin.revoke_tokens()
    assert api.call("folder/listing").json()["response"] == BAD_TOKEN


# ------------------------------------------------------------- account knobs
def test_api_access_off(emulator: EmulatorProcess) -> None:
    emulator.admin.set_knobs(api_access=False)
    with RawApi(emulator.api_url) as raw:
        answer = raw.post("authorize", key1=raw.key1, key2=raw.key2).json()
    assert answer["status"] == "error"
    assert answer["response"] == (
        "Your account level does not have access to the file upload API. Please contact site "
        "support for more information."
    )


def test_api_access_off_from_the_command_line() -> None:
    with (
        EmulatorProcess(api_access=False) as emu,
        RawApi(emu.api_url) as raw,
        pytest.raises(EmulatorError, match="does not have access"),
    ):
        raw.authorize()


@pytest.mark.emulator(lockout_after_failures=3)
def test_repeated_failed_logins_lock_the_account(emulator: EmulatorProcess) -> None:
    with RawApi(emulator.api_url, key2="0" * 64) as wrong, RawApi(emulator.api_url) as right:
        right.authorize()  # a success resets the failure count
        for _ in range(3):
            with pytest.raises(EmulatorError, match="Could not authenticate user"):
                wrong.authorize()
        with pytest.raises(EmulatorError, match="Could not authenticate user"):
            right.authorize()  # locked: the right keys are refused too
        emulator.admin.set_knobs(lockout_after_failures=3)  # unlocks
        right.authorize()
    assert emulator.admin.counts()["authorize"] == 6


def test_max_upload_size(emulator: EmulatorProcess, api: RawApi) -> None:
    emulator.admin.set_knobs(max_upload_size=100_000, concurrent_uploads=3)
    package = api.ok("account/package")["data"]
    assert (package["max_upload_size"], package["concurrent_uploads"]) == ("100000", "3")
    assert api.upload(b"x" * 100_000, "fits.bin")["size"] == "100000"
    for size in (100_001, 300_000):
        answer = api.upload_response(b"x" * size, "too-big.bin").json()
        assert answer["status"] == "error"
        assert "File received is larger than permitted. (max 100000 bytes)" in answer["response"]
    assert list(emulator.admin.active_paths()) == ["/fits.bin"]
    assert len(emulator.blob_files()) == 1  # the refused uploads left nothing behind


def test_knob_validation(emulator: EmulatorProcess) -> None:
    for bad in ({"nosuch": 1}, {"fault_rate": 2}, {"fault_kinds": ["boom"]}, {"latency_ms": -1}):
        with pytest.raises(EmulatorError, match="HTTP 400"):
            emulator.admin.set_knobs(**bad)
    knobs = emulator.admin.set_knobs(latency_ms=5, fault_kinds="500,drop")
    assert knobs["latency_ms"] == 5
    assert knobs["fault_kinds"] == ["500", "drop"]
    assert emulator.admin.knobs() == knobs


# ------------------------------------------------------------------- big files
def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _upload_big_file(emulator: EmulatorProcess, api: RawApi, tmp_path: Path, size: int) -> None:
    path = tmp_path / "big.bin"
    chunk = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, not all zeros
    md5 = hashlib.md5()
    with open(path, "wb") as out:
        for _ in range(size // len(chunk)):
            out.write(chunk)
            md5.update(chunk)
    assert emulator.pid is not None
    before = _vm_hwm_kib(emulator.pid)
    with open(path, "rb") as body:
        response = api.http.post(
            api.api_url + "file/upload",
            data={"access_token": api.access_token, "account_id": api.account_id},
            files={"upload_file": ("big.bin", body, "application/octet-stream")},
            timeout=300,
        )
    item = response.json()["data"][0]
    assert item["hash"] == md5.hexdigest()
    assert item["size"] == str(size)
    growth_mib = (_vm_hwm_kib(emulator.pid) - before) / 1024
    assert growth_mib < 24, f"emulator peak memory grew by {growth_mib:.0f} MiB"


def test_large_upload_streams_in_constant_memory(
    emulator: EmulatorProcess, api: RawApi, tmp_path: Path
) -> None:
    _upload_big_file(emulator, api, tmp_path, 64 * 1024 * 1024)


@pytest.mark.slow
def test_one_gib_upload(emulator: EmulatorProcess, api: RawApi, tmp_path: Path) -> None:
    _upload_big_file(emulator, api, tmp_path, 1024 * 1024 * 1024)
