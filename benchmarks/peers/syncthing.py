"""Syncthing as a peer: two local instances, A sharing a send-only folder with B's receive-only
folder, fully offline (no global/local discovery, relays, NAT, usage or crash reporting,
upgrades; GUI/REST and sync listeners on 127.0.0.1 ports picked by binding port 0; API keys
generated here). Folder settings stay Syncthing's defaults (``fsWatcherDelayS`` 10, fsync on),
except that Syncthing does not lower its own CPU priority (``setLowPriority`` false; syncd does
not either). Completion is read from the REST API (``/rest/events`` long-polls wake the wait,
``/rest/db/status`` and ``/rest/db/completion`` decide), never guessed with a sleep.

Functions (all raise ``PeerError`` on a timeout or a dead instance; both instances are shut
down on return or error, and killed at interpreter exit at the latest):

- ``available() -> str | None``: why it cannot run here, or None.
- ``require() -> str``: the binary, or raises ``benchmarks.core.PeerMissing`` (so does every
  ``measure_*`` when Syncthing is not installed).
- ``measure_initial_sync(work, tree) -> dict[str, float]``: B (already running) starts empty;
  the clock runs from spawning A on ``tree`` until B's ``/rest/db/status`` is idle with every
  file of the tree, ``/rest/db/completion`` is 100 % and every file is on B's disk. Keys:
  ``files``, ``wall_s``, ``files_per_s``, ``cpu_s`` (A+B), ``sender_cpu_s``,
  ``receiver_cpu_s``. A is given a hard-linked view of ``tree`` (made before the clock starts)
  holding Syncthing's ``.stfolder`` marker; ``tree`` itself is never modified.
- ``measure_latency(work, writes, spacing_s) -> list[float]``: seconds from a writer's close()
  in A's folder to the file complete in B's folder, for ``writes`` single-file writes (1 KiB,
  new names, one at a time: each write waits for the previous one to arrive, then
  ``spacing_s``). One uncounted warm-up write first.
- ``measure_idle(work, tree, seconds) -> dict[str, float]``: after B holds all of ``tree``, CPU
  and RSS over ``seconds`` quiet seconds. ``cpu_s``, ``cpu_pct`` (of one core), ``rss_mb`` (MiB,
  peak) are the *sending* instance A, the one watching ``tree``; ``receiver_cpu_pct`` and
  ``receiver_rss_mb`` are B's; plus ``initial_sync_s`` and ``window_s``.

``SyncthingPair(work, source, dest)`` is the context manager underneath. Tests pass
``watcher_delay_s=1`` to ``measure_latency`` to be quick; the benchmark keeps the default.
"""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from benchmarks.core import PeerMissing
from benchmarks.peers.common import (
    PeerError,
    PeerProcess,
    cpu_seconds,
    free_port,
    fresh_dir,
    idle_sample,
    timed_write,
    wait_for_file,
    wait_until,
)

PEER = "syncthing"
INSTALL_HINT = (
    "syncthing not installed: run `bash benchmarks/setup_peers.sh` (apt-get install syncthing)"
)
FOLDER_ID = "bench"
MARKER = ".stfolder"
GENERATED = "config.generated.xml"  # the config as `syncthing generate` wrote it
START_ATTEMPTS = 3  # fresh ports each time: another process may take a port we picked
START_TIMEOUT_S = 60.0
SYNC_TIMEOUT_S = 3600.0  # 100,000 files on a loaded machine
STALL_S = 300.0  # B's folder state and counts unchanged this long: give up, say why
ARRIVAL_TIMEOUT_S = 120.0  # one write (the default watcher delay is 10 s)

# Everything that would reach out to the network, or change the run under us, is off.
_OFFLINE_OPTIONS = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "urAccepted": "-1",
    "autoUpgradeIntervalH": "0",
    "crashReportingEnabled": "false",
    "startBrowser": "false",
    "announceLANAddresses": "false",
    "restartOnWakeup": "false",
    "setLowPriority": "false",
}
# Events that can mean "something changed": they only wake the wait, status decides.
_WAKE_EVENTS = "StateChanged,FolderSummary,RemoteIndexUpdated"


def available() -> str | None:
    """Why the peer cannot run here, or None (what the latency and idle cases ask)."""
    try:
        require()
    except PeerMissing as missing:
        return missing.why
    return None


def require() -> str:
    """The syncthing binary, or PeerMissing (the runner reports the peer by name)."""
    found = shutil.which("syncthing")
    if found is None:
        raise PeerMissing(PEER, INSTALL_HINT)
    return found


def linked_view(tree: Path, dest: Path) -> Path:
    """A hard-linked view of ``tree`` at ``dest`` (a plain copy across filesystems), where
    Syncthing's marker can go: the caller's (cached, shared) tree is never touched. A
    send-only folder only reads its files."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    linked = subprocess.run(["cp", "-al", str(tree), str(dest)], capture_output=True)
    if linked.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(["cp", "-a", str(tree), str(dest)], check=True, capture_output=True)
    return dest


def count_files(root: Path) -> int:
    """Regular files under ``root``, Syncthing's marker directory left out."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root) and MARKER in dirnames:
            dirnames.remove(MARKER)
        total += len(filenames)
    return total


@dataclass
class Instance:
    """One Syncthing: its home (config, keys, database), ports, key and process."""

    name: str
    home: Path
    device_id: str = ""
    gui_port: int = 0
    listen_port: int = 0
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: PeerProcess | None = None
    spawned_at: float = 0.0  # time.monotonic() when the running process was spawned
    api_up: bool = False  # its REST API answered us
    _http: httpx.Client | None = None

    def generate(self) -> None:
        if self.home.exists():  # a fresh instance every time: no config, keys or index kept
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        subprocess.run(
            ["syncthing", "generate", f"--home={self.home}", "--no-default-folder"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        shutil.copyfile(self.home / "config.xml", self.home / GENERATED)
        self.device_id = _read_device_id(self.home / "config.xml")
        self.new_ports()

    def new_ports(self) -> None:
        self.gui_port, self.listen_port = free_port(), free_port()

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=f"http://127.0.0.1:{self.gui_port}",
                headers={"X-API-Key": self.api_key},
                timeout=httpx.Timeout(30.0, read=70.0),
            )
        return self._http

    def get(self, path: str, probe: bool = False, **params: Any) -> Any:
        """GET a REST endpoint; ``probe``: a 2 s timeout (during start-up, when whoever
        answers on the port may not be this Syncthing)."""
        timeout = 2.0 if probe else httpx.USE_CLIENT_DEFAULT
        response = self.http.get(path, params=params, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def start(self) -> None:
        # STMONITORED: run as the one process that does the work, without the monitor parent
        # that would restart it (its pid is then the one whose CPU and memory we read).
        env = dict(os.environ, STNODEFAULTFOLDER="1", STNOUPGRADE="1", STNORESTART="1")
        env["STMONITORED"] = "yes"
        argv = ["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart"]
        argv += ["--no-upgrade", "--logflags=3"]
        log = self.home / "syncthing.log"
        if log.exists():  # a failed attempt's log: kept aside, not read as this one's
            log.replace(log.with_suffix(".previous.log"))
        self.spawned_at = time.monotonic()
        self.process = PeerProcess(argv, log, env=env)
        listen = f"tcp://127.0.0.1:{self.listen_port}"

        def listening() -> bool:
            assert self.process is not None
            self.process.check_alive()
            if "Failed starting API" in self.process.log.read_text(errors="replace"):
                # The GUI port was taken meanwhile: it keeps running, without its API.
                raise PeerError(f"Syncthing {self.name} could not bind its GUI/API port")
            try:
                status = self.get("/rest/system/status", probe=True)["connectionServiceStatus"]
            except (httpx.HTTPError, KeyError):
                return False
            service = status.get(listen) or {}
            self.api_up = True
            if service.get("error"):  # the sync port was taken meanwhile
                raise PeerError(f"Syncthing {self.name} cannot listen: {service['error']}")
            return bool(service.get("lanAddresses"))

        wait_until(listening, START_TIMEOUT_S, f"Syncthing {self.name} to listen", poll=0.05)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise PeerError(f"Syncthing {self.name} is not running")
        return self.process.pid

    def folder_status(self) -> dict[str, Any]:
        return self.get("/rest/db/status", folder=FOLDER_ID)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.alive() and self.api_up:
                try:  # the clean way first: the REST shutdown, then the process group
                    self.http.post("/rest/system/shutdown", timeout=5).raise_for_status()
                    self.process.proc.wait(timeout=30)
                except (httpx.HTTPError, subprocess.TimeoutExpired):
                    pass
            self.process.stop()  # SIGTERM (Syncthing exits cleanly on it), SIGKILL after 10 s
            self.process = None
            self.api_up = False
        if self._http is not None:
            self._http.close()
            self._http = None


def _read_device_id(config: Path) -> str:
    device = ET.parse(config).getroot().find("device")
    if device is None:
        raise PeerError(f"no device in {config}")
    return device.attrib["id"]


def _write_config(
    me: Instance, peer: Instance, path: Path, folder_type: str, watcher_delay_s: int | None
) -> None:
    """Rewrite ``me``'s generated config: offline options, loopback ports, the peer device and
    the shared folder (copied from the generated defaults, so its settings are the defaults)."""
    config_path = me.home / "config.xml"
    tree = ET.parse(me.home / GENERATED)
    root = tree.getroot()

    gui = root.find("gui")
    assert gui is not None
    _set_child(gui, "address", f"127.0.0.1:{me.gui_port}")
    _set_child(gui, "apikey", me.api_key)

    options = root.find("options")
    assert options is not None
    for name, value in _OFFLINE_OPTIONS.items():
        _set_child(options, name, value)
    _set_child(options, "listenAddress", f"tcp://127.0.0.1:{me.listen_port}")

    own = root.find("device")
    assert own is not None
    own.set("name", me.name)
    defaults = root.find("defaults")
    assert defaults is not None
    device_defaults, folder_defaults = defaults.find("device"), defaults.find("folder")
    assert device_defaults is not None and folder_defaults is not None

    other = copy.deepcopy(device_defaults)
    other.set("id", peer.device_id)
    other.set("name", peer.name)
    _set_child(other, "address", f"tcp://127.0.0.1:{peer.listen_port}")
    root.insert(list(root).index(own) + 1, other)

    folder = copy.deepcopy(folder_defaults)
    folder.set("id", FOLDER_ID)
    folder.set("label", FOLDER_ID)
    folder.set("path", str(path))
    folder.set("type", folder_type)
    if watcher_delay_s is not None:  # tests only: the benchmark keeps the default
        folder.set("fsWatcherDelayS", str(watcher_delay_s))
    template = folder.find("device")
    assert template is not None
    for device_id in (me.device_id, peer.device_id):
        member = copy.deepcopy(template)
        member.set("id", device_id)
        folder.insert(list(folder).index(template), member)
    folder.remove(template)
    root.insert(list(root).index(own), folder)
    tree.write(config_path, encoding="unicode")


def _set_child(parent: ET.Element, tag: str, text: str) -> None:
    child = parent.find(tag)
    if child is None:
        child = ET.SubElement(parent, tag)
    child.text = text


class SyncthingPair:
    """A (send-only, on ``source``) and B (receive-only, on ``dest``), configured for each
    other. ``prepare()`` writes homes and configs; ``start_receiver()``, ``start_sender()``."""

    def __init__(
        self, work: Path, source: Path, dest: Path, *, watcher_delay_s: int | None = None
    ) -> None:
        self.work = work
        self.source = source
        self.dest = dest
        self.watcher_delay_s = watcher_delay_s
        self.a = Instance("A", work / "syncthing-a")
        self.b = Instance("B", work / "syncthing-b")

    def prepare(self) -> None:
        for instance in (self.a, self.b):
            instance.generate()
        self._configure(self.a)
        self._configure(self.b)
        fresh_dir(self.dest)
        (self.dest / MARKER).mkdir()
        # Syncthing refuses a folder without its marker (its guard against an unmounted disk).
        (self.source / MARKER).mkdir(exist_ok=True)

    def _configure(self, instance: Instance) -> None:
        if instance is self.a:
            _write_config(self.a, self.b, self.source, "sendonly", self.watcher_delay_s)
        else:
            _write_config(self.b, self.a, self.dest, "receiveonly", self.watcher_delay_s)

    def _start(self, instance: Instance) -> None:
        for attempt in range(START_ATTEMPTS):
            try:
                instance.start()
                return
            except PeerError:
                instance.stop()
                if attempt == START_ATTEMPTS - 1:
                    raise
            instance.new_ports()
            self._configure(instance)
            if instance is self.b:  # A dials B: A must know B's new port (A starts later)
                self._configure(self.a)

    def start_receiver(self) -> None:
        """Start B (before A, so that A's first dial finds it listening)."""
        self._start(self.b)

    def start_sender(self) -> None:
        self._start(self.a)

    def stop(self) -> None:
        try:
            self.a.stop()
        finally:
            self.b.stop()

    def __enter__(self) -> SyncthingPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_receiver_has(self, files: int, timeout: float = SYNC_TIMEOUT_S) -> float:
        """Block until B is idle holding ``files`` files at 100 % with all of them on disk;
        return the monotonic time the REST API first said so."""
        deadline = time.monotonic() + timeout
        since = 0
        progress: tuple[Any, ...] = ()
        progressed = time.monotonic()
        while True:
            for instance in (self.a, self.b):
                assert instance.process is not None
                instance.process.check_alive()
            status = self.b.folder_status()
            sender = self.a.folder_status()  # A scanning a big tree first counts as progress
            now_progress = tuple(status.get(k) for k in ("state", "localFiles", "globalFiles"))
            now_progress += (sender.get("state"), sender.get("localFiles"))
            if now_progress != progress:
                progress, progressed = now_progress, time.monotonic()
            elif time.monotonic() - progressed > STALL_S:
                errors = self.b.get("/rest/folder/errors", folder=FOLDER_ID)
                raise PeerError(f"Syncthing B stalled for {STALL_S:.0f} s at {status}: {errors}")
            if (
                status.get("state") == "idle"
                and status.get("needTotalItems") == 0
                and status.get("globalFiles") == files
                and status.get("localFiles") == files
            ):
                done = self.b.get("/rest/db/completion", folder=FOLDER_ID)
                if done.get("completion") == 100 and done.get("needItems") == 0:
                    reported = time.monotonic()
                    wait_until(
                        lambda: count_files(self.dest) == files,
                        max(1.0, deadline - time.monotonic()),
                        f"{files} files on B's disk",
                        poll=0.2,
                    )
                    return reported
            if time.monotonic() > deadline:
                raise PeerError(f"Syncthing B did not receive {files} files in {timeout:.0f} s")
            since = self._wait_event(since)

    def _wait_event(self, since: int) -> int:
        """Long-poll B's event stream (at most 1 s): wakes as soon as anything relevant
        happens; returns the id to continue from."""
        try:
            events = self.b.get("/rest/events", since=since, timeout=1, events=_WAKE_EVENTS)
        except httpx.HTTPError:
            return since
        return max((event["id"] for event in events), default=since)

    def wait_connected(self, timeout: float = START_TIMEOUT_S) -> None:
        def connected() -> bool:
            connections = self.a.get("/rest/system/connections")["connections"]
            return bool(connections.get(self.b.device_id, {}).get("connected"))

        wait_until(connected, timeout, "A and B to connect", poll=0.1)

    def wait_sender_scanned(self, timeout: float = SYNC_TIMEOUT_S) -> None:
        """Until A finished its first scan (its watcher starts right after)."""

        def scanned() -> bool:
            stats = self.a.get("/rest/stats/folder").get(FOLDER_ID, {})
            last = str(stats.get("lastScan", ""))
            return bool(last) and not last.startswith(("0001-", "1970-"))

        wait_until(scanned, timeout, "A's first scan", poll=0.1)
        wait_until(
            lambda: self.a.folder_status().get("state") == "idle", timeout, "A idle", poll=0.1
        )

    def wait_in_sync(self, timeout: float = SYNC_TIMEOUT_S) -> None:
        """Until A sees B at 100 % of the folder (A's view: nothing left to send)."""

        def complete() -> bool:
            done = self.a.get("/rest/db/completion", folder=FOLDER_ID, device=self.b.device_id)
            return done.get("completion") == 100 and done.get("needItems") == 0

        wait_until(complete, timeout, "A to see B complete", poll=0.2)

    def rescan(self) -> None:
        self.a.http.post("/rest/db/scan", params={"folder": FOLDER_ID}).raise_for_status()


def measure_initial_sync(work: Path, tree: Path) -> dict[str, float]:
    """Files/s of Syncthing's initial sync of ``tree`` from A to an empty B."""
    require()
    files = count_files(tree)
    source = linked_view(tree, work / "syncthing-source")
    with SyncthingPair(work, source, work / "syncthing-dest") as pair:
        pair.prepare()
        pair.start_receiver()
        pair.start_sender()
        pair.wait_connected()
        done = pair.wait_receiver_has(files)
        wall = done - pair.a.spawned_at
        sender_cpu, receiver_cpu = cpu_seconds(pair.a.pid), cpu_seconds(pair.b.pid)
    return {
        "files": float(files),
        "wall_s": round(wall, 3),
        "files_per_s": round(files / wall, 1),
        "cpu_s": round(sender_cpu + receiver_cpu, 2),
        "sender_cpu_s": round(sender_cpu, 2),
        "receiver_cpu_s": round(receiver_cpu, 2),
    }


def measure_latency(
    work: Path, writes: int, spacing_s: float, *, watcher_delay_s: int | None = None
) -> list[float]:
    """Seconds from close() in A's folder to the whole file in B's folder, one per write.
    ``watcher_delay_s`` overrides ``fsWatcherDelayS`` (default 10; tests use 1)."""
    require()
    source, dest = work / "syncthing-src", work / "syncthing-dst"
    fresh_dir(source)
    with SyncthingPair(work, source, dest, watcher_delay_s=watcher_delay_s) as pair:
        pair.prepare()
        pair.start_receiver()
        pair.start_sender()
        pair.wait_connected()
        pair.wait_sender_scanned()
        pair.wait_receiver_has(count_files(source))
        latencies: list[float] = []
        for index in range(-1, writes):  # write -1 warms up the path end to end, not counted
            name = f"latency-{index + 1:04d}.bin" if index >= 0 else "warm-up.bin"
            data = f"{name} {time.time_ns()}\n".encode().ljust(1024, b".")
            closed = timed_write(source / name, data)
            try:
                timeout = ARRIVAL_TIMEOUT_S if index >= 0 else 30.0
                arrived = wait_for_file(dest / name, len(data), closed + timeout)
            except PeerError:
                if index >= 0:
                    raise
                # A watcher that was not up yet for the warm-up: a scan delivers it.
                pair.rescan()
                arrived = wait_for_file(dest / name, len(data), closed + ARRIVAL_TIMEOUT_S)
            if (dest / name).read_bytes() != data:
                raise PeerError(f"Syncthing delivered {name} with other contents")
            if index >= 0:
                latencies.append(arrived - closed)
                if index < writes - 1:
                    time.sleep(spacing_s)  # the spacing between writes the case asks for
        return latencies


def measure_idle(work: Path, tree: Path, seconds: float) -> dict[str, float]:
    """CPU and RSS of A (watching ``tree``) and B over ``seconds`` once B holds all of it."""
    require()
    files = count_files(tree)
    source = linked_view(tree, work / "syncthing-idle-source")
    with SyncthingPair(work, source, work / "syncthing-idle-dest") as pair:
        pair.prepare()
        pair.start_receiver()
        pair.start_sender()
        pair.wait_connected()
        synced = pair.wait_receiver_has(files) - pair.a.spawned_at
        pair.wait_sender_scanned()
        pair.wait_in_sync()
        sample = idle_sample({"a": pair.a.pid, "b": pair.b.pid}, seconds)
        for instance in (pair.a, pair.b):
            assert instance.process is not None
            instance.process.check_alive()
    return {
        **sample["a"],
        "receiver_cpu_pct": sample["b"]["cpu_pct"],
        "receiver_rss_mb": sample["b"]["rss_mb"],
        "initial_sync_s": round(synced, 2),
    }
