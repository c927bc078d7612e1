"""DOCKER_HOST: a daemon on loopback TCP (socat in front of the unix socket), and an unreachable one."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def make_tls_material(folder: Path) -> None:
    """ca.pem, a server cert for 127.0.0.1 (server.pem + server-key.pem), and a client cert
    (cert.pem + key.pem): the DOCKER_CERT_PATH layout."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=modelpack-test-ca",
        "-keyout", "ca-key.pem", "-out", "ca.pem")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject, extra in (("server", "/CN=127.0.0.1", ["-extfile", "san.cnf"]), ("client", "/CN=client", [])):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem", *extra)
    (folder / "cert.pem").write_text((folder / "client.pem").read_text())
    (folder / "key.pem").write_text((folder / "client-key.pem").read_text())


def test_build_through_docker_host_tls(images: Images, tmp_path: Path) -> None:
    """DOCKER_TLS_VERIFY + DOCKER_CERT_PATH: a TLS endpoint that demands a client certificate,
    with REQUESTS_CA_BUNDLE set as well (which the SDK alone would let override ca.pem)."""
    images.example("minimal")
    make_tls_material(tmp_path)
    port = free_port()
    log = tmp_path / "socat.log"
    with open(log, "w") as fh:
        proxy = subprocess.Popen(
            ["socat", "-d", "-d",
             (f"OPENSSL-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,cert={tmp_path / 'server.pem'},"
              f"key={tmp_path / 'server-key.pem'},cafile={tmp_path / 'ca.pem'},verify=1"),
             "UNIX-CONNECT:/var/run/docker.sock"], stderr=fh)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        tls_env = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                   "DOCKER_CERT_PATH": str(tmp_path),
                   # set on purpose: the SDK alone lets it override ca.pem (docker-py#2433)
                   "REQUESTS_CA_BUNDLE": images.infra.ca_cert}
        _tag, result = images.build(EXAMPLES / "minimal", "via-tls", env=tls_env)
        # without a client certificate the same endpoint refuses: exit 4, one line
        no_cert = tmp_path / "no-client-cert"
        no_cert.mkdir()
        (no_cert / "ca.pem").write_text((tmp_path / "ca.pem").read_text())
        refused = run_cli("build", str(EXAMPLES / "minimal"), "modelpack-it/no-cert:x", "--base-image",
                          images.infra.base_image, env={**tls_env, "DOCKER_CERT_PATH": str(no_cert)})
        # a CA that did not sign the daemon's certificate: verification fails, exit 4
        other_ca = tmp_path / "other-ca"
        other_ca.mkdir()
        make_tls_material(other_ca)
        wrong_ca = run_cli("build", str(EXAMPLES / "minimal"), "modelpack-it/wrong-ca:x", "--base-image",
                           images.infra.base_image, env={**tls_env, "DOCKER_CERT_PATH": str(other_ca)})
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
    assert result.returncode == 0, result.explain()
    assert refused.returncode == 4, refused.explain()
    errors = refused.error_lines()
    assert len(errors) == 1 and f"{no_cert} lacks cert.pem, key.pem" in errors[0], refused.explain()
    assert wrong_ca.returncode == 4, wrong_ca.explain()
    errors = wrong_ca.error_lines()
    assert len(errors) == 1 and "certificate verify failed" in errors[0], wrong_ca.explain()


def test_build_through_docker_host_ssh(images: Images, tmp_path: Path) -> None:
    """DOCKER_HOST=ssh://root@127.0.0.1:PORT: an sshd of our own on loopback (key auth only); the SDK
    runs `docker system dial-stdio` over it. HOME (and an `ssh` wrapper on PATH, for the docker CLI)
    point at a folder holding the client's key, ssh config and known_hosts, so the real ~/.ssh is
    neither read nor written."""
    images.example("minimal")
    home, etc = tmp_path / "home", tmp_path / "sshd"
    (home / ".ssh").mkdir(parents=True)
    etc.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(etc / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / ".ssh" / "id_ed25519")],
                   check=True)
    (etc / "authorized_keys").write_text((home / ".ssh" / "id_ed25519.pub").read_text())
    port = free_port()
    (etc / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {etc / 'host_key'}\nPidFile none\nUsePAM no\n"
        f"AuthorizedKeysFile {etc / 'authorized_keys'}\nPasswordAuthentication no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nKbdInteractiveAuthentication no\n")
    host_key = (etc / "host_key.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {home / '.ssh' / 'id_ed25519'}\n"
                                          f"  UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n")
    # the ssh binary (used by the docker CLI) reads the passwd home, not $HOME: point it at ours
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {home / ".ssh" / "config"} "$@"\n')
    (bin_dir / "ssh").chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    log = tmp_path / "sshd.log"
    with open(log, "w") as fh:
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(etc / "sshd_config")], stderr=fh)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        ssh_env = {"DOCKER_HOST": f"ssh://root@127.0.0.1:{port}", "HOME": str(home),
                   "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        _tag, result = images.build(EXAMPLES / "minimal", "via-ssh", env=ssh_env)
        # the Engine API client itself (paramiko) over the same ssh endpoint
        probe = subprocess.run([sys.executable, "-c", ("from packager.backend.client import connect; "
                                                       "print(connect().version()['ApiVersion'])")],
                               capture_output=True, text=True, env={**os.environ, **ssh_env}, check=False)
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)
    assert result.returncode == 0, result.explain() + "\n" + log.read_text()[-2000:]
    assert probe.returncode == 0 and probe.stdout.strip(), probe.stderr
    assert "Accepted publickey for root" in log.read_text()
