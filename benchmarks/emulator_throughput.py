"""How many requests the emulator sustains: small uploads/s and folder listings/s.

    python3 benchmarks/emulator_throughput.py [--seconds 5] [--clients 16] [--procs 4]

Starts an emulator subprocess, then `--clients` concurrent httpx clients (threads spread over
`--procs` processes, so the client side's GIL is not what we measure) hammer it for `--seconds`
per workload. Prints requests/s and the emulator's own CPU use (CPU-seconds per 1000 requests,
which says what one core of the emulator can do whatever the client side costs).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncd.emulator.testing import EmulatorProcess, RawApi
from syncd.remote.uploads import multipart_body

SMALL = os.urandom(4096)


@dataclass(frozen=True)
class Job:
    api_url: str
    access_token: str
    account_id: str
    workload: str  # "upload" | "listing"
    folder_id: int
    seconds: float
    threads: int
    client: str  # "httpx" | "raw" (http.client with prebuilt bodies: cheap client side)


def _raw_loop(job: Job, stop_at: float, results: list[int], errors: list[str]) -> None:
    url = urlsplit(job.api_url)
    auth = {"access_token": job.access_token, "account_id": job.account_id}
    if job.workload == "upload":
        fields = {**auth, "folder_id": str(job.folder_id)}
        body, ctype = multipart_body(fields, "f.bin", SMALL, "application/octet-stream")
        path = url.path + "file/upload"
    else:
        body = urlencode({**auth, "parent_folder_id": str(job.folder_id)}).encode()
        path, ctype = url.path + "folder/listing", "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    done = 0
    while time.monotonic() < stop_at:
        connection.request("POST", path, body, {"Content-Type": ctype})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200 or b'"_status": "success"' not in data:
            errors.append(f"{response.status} {data[:200]!r}")
            return
        done += 1
    connection.close()
    results.append(done)


def _client_loop(job: Job, stop_at: float, results: list[int], errors: list[str]) -> None:
    if job.client == "raw":
        _raw_loop(job, stop_at, results, errors)
        return
    auth = {"access_token": job.access_token, "account_id": job.account_id}
    done = 0
    with httpx.Client(timeout=30) as http:
        while time.monotonic() < stop_at:
            if job.workload == "upload":
                response = http.post(
                    job.api_url + "file/upload",
                    data={**auth, "folder_id": str(job.folder_id)},
                    files={"upload_file": (f"f{done}.bin", SMALL, "application/octet-stream")},
                )
            else:
                response = http.post(
                    job.api_url + "folder/listing",
                    data={**auth, "parent_folder_id": str(job.folder_id)},
                )
            if response.status_code != 200 or response.json().get("_status") != "success":
                errors.append(f"{response.status_code} {response.text[:200]}")
                return
            done += 1
    results.append(done)


def run_job(job: Job, start_at: float) -> tuple[int, list[str]]:
    """One process: `job.threads` clients from `start_at` for `job.seconds` (wall clock)."""
    time.sleep(max(0.0, start_at - time.time()))
    stop_at = time.monotonic() + job.seconds
    results: list[int] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=_client_loop, args=(job, stop_at, results, errors))
        for _ in range(job.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results), errors


@dataclass(frozen=True)
class UploadLoad:
    """A fixed set of uploads: (local file, remote folder id, remote name) per item."""

    api_url: str
    access_token: str
    account_id: str
    items: tuple[tuple[str, int, str], ...]
    threads: int
    stack: str  # "httpx" (a plain httpx.Client per thread) | "stdlib" (bare http.client)


@contextmanager
def _uploader(load: UploadLoad) -> Iterator[Callable[[dict[str, str], str, bytes], bool]]:
    """One thread's upload call: True when the host took the file."""
    if load.stack == "stdlib":
        from benchmarks.floors import stdlib_stack

        _, upload = stdlib_stack(load.api_url)
        yield (
            lambda fields, name, content: upload(fields, name, content).get("_status") == "success"
        )
        return
    with httpx.Client(timeout=60) as http:

        def with_httpx(fields: dict[str, str], name: str, content: bytes) -> bool:
            response = http.post(
                load.api_url + "file/upload",
                data=fields,
                files={"upload_file": (name, content, "application/octet-stream")},
            )
            return response.status_code == 200 and b'"success"' in response.content

        yield with_httpx


def _upload_items(load: UploadLoad, start_at: float) -> tuple[int, float, list[str]]:
    """One process: `load.threads` clients share the items; returns (done, end, errors)."""
    time.sleep(max(0.0, start_at - time.time()))
    auth = {"access_token": load.access_token, "account_id": load.account_id}
    lock = threading.Lock()
    cursor = iter(load.items)
    done: list[int] = []
    errors: list[str] = []

    def worker() -> None:
        count = 0
        with _uploader(load) as upload:
            while not errors:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    break
                path, folder_id, name = item
                with open(path, "rb") as handle:
                    content = handle.read()
                if not upload({**auth, "folder_id": str(folder_id)}, name, content):
                    errors.append(f"{name}: the host refused the upload")
                    break
                count += 1
        with lock:
            done.append(count)

    threads = [threading.Thread(target=worker) for _ in range(load.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), time.time(), errors


@dataclass(frozen=True)
class LoadResult:
    uploads: int
    seconds: float  # wall time from the common start to the last process's end
    emulator_cpu_s: float
    errors: list[str]

    @property
    def per_s(self) -> float:
        return self.uploads / self.seconds if self.seconds > 0 else 0.0


def upload_load(
    api_url: str,
    access_token: str,
    account_id: str,
    items: list[tuple[str, int, str]],
    *,
    clients: int,
    procs: int,
    emulator_pid: int | None = None,
    stack: str = "httpx",
) -> LoadResult:
    """Upload every item once with `clients` plain clients (threads spread over `procs`
    processes, so the client side's GIL is not what we measure): the emulator's capacity for
    exactly these uploads when `clients` is well above what its latency needs. ``stack``:
    httpx, or bare http.client ("stdlib": the cheapest client there is)."""
    procs = max(1, min(procs, clients))
    shares = [tuple(items[i::procs]) for i in range(procs)]
    loads = [
        UploadLoad(api_url, access_token, account_id, share, max(1, clients // procs), stack)
        for share in shares
    ]
    cpu_before = cpu_seconds(emulator_pid) if emulator_pid else 0.0
    start_at = time.time() + 1.0  # let every process start before the clock runs
    with concurrent.futures.ProcessPoolExecutor(procs) as pool:
        outcomes = list(pool.map(_upload_items, loads, [start_at] * procs))
    cpu = cpu_seconds(emulator_pid) - cpu_before if emulator_pid else 0.0
    return LoadResult(
        uploads=sum(done for done, _, _ in outcomes),
        seconds=max(end for _, end, _ in outcomes) - start_at,
        emulator_cpu_s=cpu,
        errors=[e for _, _, errs in outcomes for e in errs],
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    emu: EmulatorProcess, api: RawApi, workload: str, folder_id: int, args: argparse.Namespace
) -> None:
    per_proc = max(1, args.clients // args.procs)
    job = Job(
        api.api_url,
        api.access_token,
        api.account_id,
        workload,
        folder_id,
        args.seconds,
        per_proc,
        args.client,
    )
    assert emu.pid is not None
    cpu_before = cpu_seconds(emu.pid)
    start_at = time.time() + 1.0  # let every process start before the clock runs
    with concurrent.futures.ProcessPoolExecutor(args.procs) as pool:
        outcomes = list(pool.map(run_job, [job] * args.procs, [start_at] * args.procs))
    cpu = cpu_seconds(emu.pid) - cpu_before
    total = sum(count for count, _ in outcomes)
    errors = [e for _, errs in outcomes for e in errs]
    rate = total / args.seconds
    print(
        f"{workload:>8} ({args.client}): {rate:6.0f} req/s  ({total} in {args.seconds:.0f} s, "
        f"{per_proc * args.procs} clients; emulator CPU {cpu:.1f} s = "
        f"{1000 * cpu / max(total, 1):.2f} CPU-s per 1000 requests)"
    )
    if errors:
        print(f"          {len(errors)} client(s) stopped on errors, first: {errors[0]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--listing-files", type=int, default=100)
    parser.add_argument(
        "--client",
        choices=("httpx", "raw", "both"),
        default="both",
        help="httpx clients (like syncd), raw http.client with prebuilt bodies, or both",
    )
    args = parser.parse_args()
    print(f"emulator throughput on {os.cpu_count()} CPUs, 4 KiB uploads")
    with EmulatorProcess() as emu, RawApi(emu.api_url) as api:
        api.authorize()
        clients = ["httpx", "raw"] if args.client == "both" else [args.client]
        upload_folder = int(api.ok("folder/create", folder_name="uploads")["data"]["id"])
        for args.client in clients:
            measure(emu, api, "upload", upload_folder, args)
        listed = int(api.ok("folder/create", folder_name="listed")["data"]["id"])
        for i in range(10):
            api.ok("folder/create", folder_name=f"sub{i}", parent_id=listed)
        for i in range(args.listing_files):
            api.upload(SMALL[:100], f"file{i:04}.txt", listed)
        print(f"listing a folder of 10 folders + {args.listing_files} files:")
        for args.client in clients:
            measure(emu, api, "listing", listed, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
