"""DOCKER_HOST: a daemon on loopback TCP (socat in front of the unix socket), and an unreachable one."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Images, run_cli

pytestmark = pytest.mark.docker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_through_docker_host_tcp(images: Images, tmp_path: Path) -> None:
    images.example("minimal")  # warm the layer cache through the default socket first
    port = free_port()
    log = tmp_path / "socat.log"
    with open(log, "w") as fh:
        proxy = subprocess.Popen(["socat", "-d", "-d", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                                  "UNIX-CONNECT:/var/run/docker.sock"], stderr=fh)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        _tag, result = images.build(EXAMPLES / "minimal", "via-tcp", env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
    assert result.returncode == 0, result.explain()
    assert log.read_text().count("accepting connection") >= 2  # the probe above, then the CLI's calls


def test_unreachable_daemon_is_exit_4_with_one_line(tmp_path: Path) -> None:
    result = run_cli("build", str(EXAMPLES / "minimal"), "modelpack-it/unreachable:x", "--base-image",
                     "modelpack-test-base:bookworm", env={"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert result.returncode == 4, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1, result.explain()
    assert "DOCKER_HOST=tcp://127.0.0.1:1" in errors[0] and "Connection refused" in errors[0]
    assert "start dockerd" in errors[0]
