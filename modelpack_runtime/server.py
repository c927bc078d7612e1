"""Composition root: the master process and its workers (docs/runtime-design.md, "Process model").

Master (single-threaded, so fork is safe): binds the HTTP socket, makes a fresh Prometheus
multiprocess directory, forks `workers` workers, serves the metrics endpoint on the metrics port from
its own select loop, restarts a dead worker with back-off, and on SIGTERM/SIGINT lets the workers
finish in-flight requests (graceful_timeout) before exiting 0.

Worker: see worker.py (DataPlane + uvicorn + the gRPC hook).
"""
from __future__ import annotations

import dataclasses
import errno
import logging
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any, Optional

from .settings import Settings
from .worker import worker_main

log = logging.getLogger("modelpack_runtime.server")

RESTART_MIN_DELAY = 0.5
RESTART_MAX_DELAY = 30.0
STABLE_AFTER = 10.0   # a worker that lived this long resets its back-off
RELOAD_POLL = 0.5


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket with SO_REUSEADDR, inheritable by forked workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "another process uses it; pick another port" if exc.errno == errno.EADDRINUSE else str(exc)
        raise SystemExit(f"modelpack-microservice: error: cannot listen on {host}:{port} ({hint})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# ------------------------------------------------------------------------------------------------
# master
# ------------------------------------------------------------------------------------------------
class Master:
    """Forks and supervises the workers; serves the metrics endpoint."""

    def __init__(self, settings: Settings, reload_dir: Optional[str] = None) -> None:
        self.settings = settings
        self.reload_dir = reload_dir
        self.stopping = False
        self.workers: dict[int, int] = {}        # pid -> slot
        self.started: dict[int, float] = {}      # slot -> start time
        self.failures: dict[int, int] = {}       # slot -> consecutive quick deaths
        self.pending: dict[int, float] = {}      # slot -> when to restart
        self.mtimes: dict[str, float] = {}

    def run(self) -> int:
        s = self.settings
        try:
            self.metrics_dir = tempfile.mkdtemp(prefix="modelpack-metrics-")
        except OSError as exc:
            raise SystemExit(f"modelpack-microservice: error: cannot create the metrics directory in "
                             f"{tempfile.gettempdir()} ({exc.strerror}); set TMPDIR to a writable directory "
                             "(e.g. an emptyDir volume)") from None
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir  # before prometheus_client is imported
        try:
            if s.pidfile:
                with open(s.pidfile, "w") as fh:
                    fh.write(f"{os.getpid()}\n")
            self.http = bind(s.host, s.http_port)
            self.metrics_sock = bind(s.host, s.metrics_port)
            self.metrics_sock.setblocking(False)
            self.grpc_reservation = self._reserve_grpc_port()
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            log.info("modelpack-microservice %s: HTTP on %s:%d, metrics on %s:%d%s, %d worker(s)",
                     s.interface_name, s.host, s.http_port, s.host, s.metrics_port, s.metrics_endpoint, s.workers)
            if self.reload_dir:
                self._changed()  # record the initial mtimes
            for slot in range(s.workers):
                self._spawn(slot)
            self._loop()
            return 0
        finally:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            if s.pidfile:
                try:
                    os.unlink(s.pidfile)
                except OSError:
                    pass

    def _reserve_grpc_port(self) -> Optional[socket.socket]:
        # Fail early if the gRPC port is taken; SO_REUSEPORT lets the workers' gRPC servers bind it too.
        s = self.settings
        if s.grpc_workers <= 0 or not hasattr(socket, "SO_REUSEPORT"):
            return None
        sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((s.host, s.grpc_port))
        except OSError as exc:
            sock.close()
            raise SystemExit(f"modelpack-microservice: error: cannot reserve the gRPC port {s.host}:{s.grpc_port} "
                             f"({exc.strerror}); pick another with --grpc-port, or --grpc-workers 0") from None
        return sock

    def _on_signal(self, signum: int, frame: Any) -> None:
        if not self.stopping:
            log.info("received %s: stopping workers (graceful timeout %g s)", signal.Signals(signum).name,
                     self.settings.graceful_timeout)
        self.stopping = True

    def _spawn(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # child
            self.metrics_sock.close()
            if self.grpc_reservation is not None:
                self.grpc_reservation.close()
            worker_main(self.settings, self.http, slot)
        self.workers[pid] = slot
        self.started[slot] = time.monotonic()

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.metrics_sock, selectors.EVENT_READ)
        next_reload_check = time.monotonic() + RELOAD_POLL
        while not self.stopping:
            for _ in sel.select(timeout=0.25):
                self._serve_metrics()
            self._reap()
            now = time.monotonic()
            for slot, when in list(self.pending.items()):
                if now >= when and not self.stopping:
                    del self.pending[slot]
                    self._spawn(slot)
            if self.reload_dir and now >= next_reload_check:
                next_reload_check = now + RELOAD_POLL
                if self._changed():
                    log.info("source changed: restarting workers")
                    self._signal_workers(signal.SIGTERM)
                    self._wait_workers(self.settings.graceful_timeout, restart=True)
        self._shutdown()

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._dead(pid, status, restart=not self.stopping)

    def _dead(self, pid: int, status: int, restart: bool, immediate: bool = False) -> None:
        slot = self.workers.pop(pid, None)
        if slot is None:
            return
        from .metrics import mark_worker_dead

        mark_worker_dead(pid, self.metrics_dir)
        code = os.waitstatus_to_exitcode(status)
        if not restart:
            return
        lived = time.monotonic() - self.started.get(slot, 0.0)
        if code == 0 or immediate:  # max-requests recycling or a reload: restart at once
            self.failures[slot] = 0
            self.pending[slot] = 0.0
            return
        self.failures[slot] = 0 if lived > STABLE_AFTER else self.failures.get(slot, 0) + 1
        delay = min(RESTART_MIN_DELAY * 2 ** self.failures[slot], RESTART_MAX_DELAY)
        log.error("worker %d (pid %d) exited with %s after %.1f s; restarting in %.1f s", slot, pid,
                  f"signal {-code}" if code < 0 else f"code {code}", lived, delay)
        self.pending[slot] = time.monotonic() + delay

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _wait_workers(self, timeout: float, restart: bool = False) -> None:
        deadline = time.monotonic() + timeout
        while self.workers and time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            self._dead(pid, status, restart=restart, immediate=True)
        if self.workers:
            log.error("workers %s did not stop within %g s: killing them", sorted(self.workers), timeout)
            self._signal_workers(signal.SIGKILL)
            for pid in list(self.workers):
                try:
                    _, status = os.waitpid(pid, 0)
                except ChildProcessError:
                    status = 0
                self._dead(pid, status, restart=restart, immediate=True)

    def _shutdown(self) -> None:
        self.pending.clear()
        self._signal_workers(signal.SIGTERM)
        # uvicorn's own graceful timeout runs in each worker; allow it plus a margin here.
        self._wait_workers(self.settings.graceful_timeout + 5.0)
        self.http.close()
        self.metrics_sock.close()
        if self.grpc_reservation is not None:
            self.grpc_reservation.close()
        log.info("all workers stopped")

    def _serve_metrics(self) -> None:
        try:
            conn, addr = self.metrics_sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        # A scrape is small and quick; a stalled client may hold the master for at most 2 s.
        conn.settimeout(2.0)
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
            method, path = (line[0], line[1].split("?", 1)[0]) if len(line) >= 2 else ("", "")
            if method == "GET" and path == self.settings.metrics_endpoint:
                from .metrics import render_scrape

                body, ctype = render_scrape(self.metrics_dir)
                status = "200 OK"
            else:
                body = f"not found: the metrics are at GET {self.settings.metrics_endpoint}\n".encode()
                status, ctype = "404 Not Found", "text/plain; charset=utf-8"
            conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            if self.settings.access_log and not self.settings.filter_metrics_access_logs:
                log.info('%s - "%s %s" %s', addr[0], method, path, status.split()[0])
        except OSError as exc:
            log.debug("metrics request failed: %s", exc)
        except Exception:  # noqa: BLE001 - a scrape must never take the master down
            log.exception("metrics scrape failed")
        finally:
            conn.close()

    def _changed(self) -> bool:
        changed = False
        seen: dict[str, float] = {}
        for root, dirs, files in os.walk(self.reload_dir or "."):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    try:
                        seen[path] = os.stat(path).st_mtime
                    except OSError:
                        continue
        if self.mtimes and seen != self.mtimes:
            changed = True
        self.mtimes = seen
        return changed


def run(settings: Settings) -> int:
    """Run the microservice in the foreground until SIGTERM/SIGINT; returns the exit code."""
    if settings.workdir not in sys.path:
        sys.path.append(settings.workdir)
    return Master(settings).run()


def serve_source(src_dir: str, settings: Settings, reload: bool = False) -> int:
    """`modelpack serve`: serve the model in `src_dir` in the foreground (workdir = src_dir). With
    `reload`, *.py files under src_dir are polled every 0.5 s and the workers restart on a change."""
    src = os.path.abspath(src_dir)
    os.chdir(src)
    settings = dataclasses.replace(settings, workdir=src, reload=reload)
    if src not in sys.path:
        sys.path.append(src)
    return Master(settings, reload_dir=src if reload else None).run()
