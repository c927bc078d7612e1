"""A registry connection that drops once (a TCP proxy in front of the test registry closes the
daemon's first plain-HTTP connection unanswered): the push is retried after a back-off and
succeeds, and the retry is reported.

(A 503 on the daemon's first request is not a usable fault here: dockerd then skips the auth
challenge and the push fails as "unauthorized", which is rightly not retried.)"""
from __future__ import annotations

import socket
import threading

import docker
import pytest

from .conftest import RUN_ID, Images, Infra, run_cli

pytestmark = pytest.mark.docker


class FlakyProxy:
    """Forwards TCP to the registry; the first `failures` plain-HTTP connections are closed unanswered."""

    def __init__(self, upstream: str, failures: int) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.failures = failures
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        first = client.recv(65536)
        with self.lock:
            # TLS attempts (the daemon tries HTTPS first) pass through untouched
            fail = bool(first) and first[:1] != b"\x16" and self.dropped < self.failures
            if fail:
                self.dropped += 1
        if fail:
            client.close()  # connection reset with no answer
            return
        upstream = socket.create_connection(self.upstream)
        upstream.sendall(first)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def test_transient_registry_failure_is_retried(images: Images, infra: Infra,
                                               docker_client: docker.DockerClient) -> None:
    proxy = FlakyProxy(infra.registry, failures=1)
    remote = f"127.0.0.1:{proxy.port}/modelpack-it/retry:{RUN_ID}"
    docker_client.images.get(images.example("minimal")).tag(remote)
    images.tags.append(remote)
    try:
        result = run_cli("push", remote, "--username", infra.user, "--password-stdin", stdin=infra.password)
    finally:
        proxy.close()
    assert proxy.dropped == 1
    assert result.returncode == 0, result.explain()
    assert "push attempt 1/3 failed" in result.output and "retrying in 2s" in result.output, result.explain()
    assert "sha256:" in result.output
