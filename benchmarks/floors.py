"""What syncd's requests cost with nothing else done: a floor under its client CPU figures.

Each floor is a program of its own, run as a fresh interpreter like `syncd reconcile`, that
makes the requests of a pass and does no syncing work at all: no journal, no plan, no
comparison, no retries, no logging.

- ``noop``: the requests and system calls of a no-op pass. As many threads as syncd lists on
  list the pair's remote folder and every folder under it, decoding each answer's JSON;
  meanwhile the main thread `lstat`s every local entry of the tree (``os.scandir``).
- ``upload``: the requests of an initial sync. One remote folder per local directory, made one
  after the other; then every file read, MD5-hashed and uploaded on as many threads as syncd's
  upload workers, each answer's JSON decoded.

Each over one of two HTTP stacks:

- ``httpx``: an ``httpx.Client`` built as syncd builds it (`syncd.remote.transport`, with its
  standard-library transport): what any client has to spend as long as httpx carries the
  requests;
- ``stdlib``: ``http.client`` with one keep-alive connection per thread: what the requests cost
  with no HTTP library at all.

An upload's body is built by syncd's own ``multipart_body`` over either stack, as syncd does.

The floor reads the host and the pair from a syncd config file (``[remote]`` and the first
``[[pairs]]``), so the keys are never on a command line; `run_floor` works out the threads from
that config as syncd does:

    python3 -m benchmarks.floors noop|upload httpx|stdlib CONFIG THREADS

`run_floor` runs one under ``run_measured``; the ``noop`` case and ``benchmarks.per_request``
report the figures next to syncd's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

# The multipart body as syncd builds it (standard library only, like this module).
from syncd.remote.uploads import multipart_body

if TYPE_CHECKING:  # the floor itself imports nothing it does not measure
    from benchmarks.core import Measured
    from benchmarks.launch import Launch

KINDS = ("noop", "upload")
STACKS = ("httpx", "stdlib")

Answer = dict[str, Any]
Post = Callable[[str, dict[str, str]], Answer]
Upload = Callable[[dict[str, str], str, bytes], Answer]


def run_floor(kind: str, stack: str, config: Path, *, launch: Launch | None = None) -> Measured:
    """One floor as a measured subprocess (pinned like syncd under ``--cores``)."""
    from benchmarks.core import run_measured
    from benchmarks.data import syncd_env
    from syncd.config import load_config
    from syncd.engine.reconcile import LISTING_THREADS_MAX

    workers = load_config(config, warn=False).sync.workers
    threads = min(workers, LISTING_THREADS_MAX) if kind == "noop" else workers
    command = [sys.executable, "-m", "benchmarks.floors", kind, stack, str(config), str(threads)]
    return run_measured(
        command, env=syncd_env(), launch=launch, label=f"floor-{kind}-{stack}"
    ).check(f"floor {kind} over {stack}")


# --- the programs --------------------------------------------------------------------------


def _httpx_stack(api_url: str, threads: int) -> tuple[Post, Upload]:
    from syncd.remote.transport import make_http_client

    http = make_http_client(verify_tls=True, timeout=60.0, max_connections=threads, transport=None)

    def post(action: str, fields: dict[str, str]) -> Answer:
        return http.post(api_url + action, data=fields).json()  # type: ignore[no-any-return]

    def upload(fields: dict[str, str], name: str, content: bytes) -> Answer:
        body, content_type = multipart_body(fields, name, content, "application/octet-stream")
        answer = http.post(
            api_url + "file/upload", content=body, headers={"Content-Type": content_type}
        )
        return answer.json()  # type: ignore[no-any-return]

    return post, upload


def stdlib_stack(api_url: str) -> tuple[Post, Upload]:
    """``post(action, fields)`` and ``upload(fields, name, content)`` over ``http.client``, one
    keep-alive connection per calling thread; each returns the decoded answer."""
    import http.client

    url = urlsplit(api_url)
    local = threading.local()

    def exchange(path: str, body: bytes, content_type: str) -> Answer:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                url.hostname or "", url.port, timeout=60
            )
        connection.request("POST", url.path + path, body, {"Content-Type": content_type})
        return json.loads(connection.getresponse().read())  # type: ignore[no-any-return]

    def post(action: str, fields: dict[str, str]) -> Answer:
        return exchange(action, urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def upload(fields: dict[str, str], name: str, content: bytes) -> Answer:
        body, content_type = multipart_body(fields, name, content, "application/octet-stream")
        return exchange("file/upload", body, content_type)

    return post, upload


def _data(answer: Answer, what: str) -> Any:
    if answer.get("_status") != "success":
        raise RuntimeError(f"{what}: {answer.get('response')}")
    return answer["data"]


def _noop(post: Post, auth: dict[str, str], local: str, remote: str, threads: int) -> str:
    """List the remote tree (threads) while the main thread stats the local one."""
    root = next(
        folder["id"]
        for folder in _data(post("folder/listing", {**auth, "parent_folder_id": ""}), "root")[
            "folders"
        ]
        if folder["folderName"] == remote
    )
    pool = ThreadPoolExecutor(threads)
    lock = threading.Lock()
    done = threading.Event()
    tally = {"pending": 1, "listings": 1, "files": 0}
    failures: list[BaseException] = []

    def listing(folder_id: int) -> None:
        try:
            fields = {**auth, "parent_folder_id": str(folder_id)}
            data = _data(post("folder/listing", fields), "folder/listing")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            done.set()
            return
        with lock:
            tally["listings"] += 1
            tally["files"] += len(data["files"])
            for folder in data["folders"]:
                tally["pending"] += 1
                pool.submit(listing, folder["id"])
            tally["pending"] -= 1
            if tally["pending"] == 0:
                done.set()

    pool.submit(listing, root)
    entries = 0
    stack = [local]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                entry.stat(follow_symlinks=False)
                entries += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    done.wait()
    pool.shutdown()
    if failures:
        raise failures[0]
    return f"{tally['listings']} listings, {tally['files']} remote files, {entries} local entries"


def _upload(
    post: Post, upload: Upload, auth: dict[str, str], local: str, remote: str, threads: int
) -> str:
    """Make the remote tree, one folder at a time, then upload every file on `threads`."""
    folder_of = {
        local: _data(post("folder/create", {**auth, "folder_name": remote}), "folder/create")["id"]
    }
    files: list[tuple[str, str, int]] = []
    for directory, subdirs, names in os.walk(local):
        subdirs.sort()
        for name in subdirs:
            fields = {**auth, "folder_name": name, "parent_id": str(folder_of[directory])}
            folder_of[os.path.join(directory, name)] = _data(
                post("folder/create", fields), "folder/create"
            )["id"]
        files += [(os.path.join(directory, n), n, folder_of[directory]) for n in sorted(names)]

    def one(item: tuple[str, str, int]) -> None:
        path, name, folder_id = item
        with open(path, "rb") as handle:
            content = handle.read()
        hashlib.md5(content).hexdigest()
        _data(upload({**auth, "folder_id": str(folder_id)}, name, content), "file/upload")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files))
    return f"{len(folder_of)} folders, {len(files)} uploads"


def main(argv: list[str]) -> int:
    kind, stack, config_path, thread_count = argv
    if kind not in KINDS or stack not in STACKS:
        raise SystemExit(f"usage: floors {'|'.join(KINDS)} {'|'.join(STACKS)} CONFIG THREADS")
    threads = int(thread_count)
    config = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    remote, pair = config["remote"], config["pairs"][0]
    api_url = remote["api_url"].rstrip("/") + "/"
    post, upload = _httpx_stack(api_url, threads) if stack == "httpx" else stdlib_stack(api_url)
    token = _data(post("authorize", {"key1": remote["key1"], "key2": remote["key2"]}), "authorize")
    auth = {"access_token": token["access_token"], "account_id": str(token["account_id"])}
    if kind == "noop":
        print(_noop(post, auth, pair["local"], pair["remote"], threads))
    else:
        print(_upload(post, upload, auth, pair["local"], pair["remote"], threads))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
