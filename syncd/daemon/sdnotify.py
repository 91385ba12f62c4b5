"""systemd's sd_notify protocol: one datagram per message to ``$NOTIFY_SOCKET``.

A few lines by hand instead of a dependency: the protocol is newline-separated ``KEY=VALUE``
assignments sent to a unix datagram socket; a leading ``@`` names an abstract socket.
Without ``NOTIFY_SOCKET`` (not run by systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self.watchdog_interval = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines; returns False (and logs once) if the socket is unusable."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode()
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                # Never block the caller (the daemon's main loop) on a reader that is slow.
                self._socket.sendto(payload, socket.MSG_DONTWAIT, self._address)
                return True
            except BlockingIOError:
                log.debug("sd_notify: socket full, message dropped")
                return False
            except OSError as exc:
                log.warning("sd_notify to NOTIFY_SOCKET failed: %s", exc)
                return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def _watchdog_interval(env: dict[str, str] | os._Environ[str]) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None if not asked for.

    systemd sets WATCHDOG_PID too; when it names another process the watchdog is not ours.
    """
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None
