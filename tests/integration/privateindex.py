"""The private-index setup that the secret tests share: a password-protected PEP 503 index on
loopback serving one private wheel, a CA bundle with a generated CA appended, the needles to look
for, and the scan of a saved image (every layer, the config, the history) for them."""
from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from .conftest import Infra
from .wheels import PrivateIndex, make_wheel

# what the private wheel holds: a scan that finds it proves it reads the layers' file contents
PRIVATE_FILE = b"SECRET_SAUCE = 7"


class HeadIndex(PrivateIndex):
    """The private index, also answering HEAD: uv probes a wheel's URL with HEAD (range-request
    support) before it downloads, as every real index (PyPI, devpi, Artifactory, Nexus) allows."""

    def __init__(self, wheels: list[Path], user: str, password: str) -> None:
        super().__init__(wheels, user, password)
        index = self

        def do_HEAD(handler) -> None:
            status, body, ctype = index.answer(handler.path, handler.headers.get("Authorization", ""))
            index.requests.append((f"HEAD {handler.path}", status))
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()

        self.server.RequestHandlerClass.do_HEAD = do_HEAD  # type: ignore[attr-defined]


def ca_bundle_with_marker(infra: Infra, dest: Path, marker: str) -> list[bytes]:
    """The real bundle plus a generated self-signed CA; returns byte strings unique to the addition."""
    key, cert = dest / "ca.key", dest / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={marker}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    pem = cert.read_text()
    bundle = dest / "bundle.pem"
    bundle.write_text(Path(infra.ca_cert).read_text() + f"\n# {marker}\n" + pem)
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [marker.encode(), body[1].encode(), body[len(body) // 2].encode()]


def scan_stream(chunks, needles: dict[str, bytes]) -> set[str]:
    """Names of the needles found anywhere in a byte stream (chunk boundaries handled)."""
    found: set[str] = set()
    keep = max(len(n) for n in needles.values())
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        for name, needle in needles.items():
            if needle in window:
                found.add(name)
        tail = window[-keep:]
    return found


def assert_image_clean(docker_client: docker.DockerClient, image: str, needles: dict[str, bytes],
                       control: bytes = PRIVATE_FILE) -> None:
    """No needle in any byte of `docker save` of the image, nor in its inspect data and history;
    `control` must be found (a positive control: the scan reads the layers' files)."""
    found = scan_stream(docker_client.api.get_image(image, chunk_size=1 << 20), {**needles, "control": control})
    assert found == {"control"}, f"found in the saved image {image}: {sorted(found - {'control'})}"
    meta = json.dumps(docker_client.api.inspect_image(image)) + json.dumps(docker_client.api.history(image))
    assert not scan_stream([meta.encode()], needles), f"found in the config or history of {image}"


@dataclass
class PrivateSetup:
    """A running private index with its secrets. `flags` are the build/lock options that use it."""

    index: PrivateIndex
    wheel: Path
    password: str
    url: str
    trusted: str
    bundle: Path
    ca_needles: list[bytes]

    @property
    def flags(self) -> list[str]:
        return ["--ca-cert", str(self.bundle), "-e", f"EXTRA_INDEX_URL={self.url}",
                "-e", f"PIP_TRUSTED_HOST={self.trusted}"]

    @property
    def needles(self) -> dict[str, bytes]:
        return {"password": self.password.encode(), "index url": self.url.encode(),
                "trusted host": self.trusted.encode(),
                **{f"ca bundle bytes {i}": n for i, n in enumerate(self.ca_needles)}}


@contextlib.contextmanager
def private_index(infra: Infra, work: Path, index_class: type[PrivateIndex] = HeadIndex) -> Iterator[PrivateSetup]:
    """A fresh password, a wheel `mp-private-demo==0.1.0` (holding PRIVATE_FILE) served by it, and
    `work/bundle.pem`: the host's CA bundle plus a generated CA with a unique marker."""
    token = uuid.uuid4().hex
    password = f"idxpw-{token[:16]}"
    wheel = make_wheel(work / "dist", "mp-private-demo", "0.1.0",
                       {"mp_private_demo/__init__.py": PRIVATE_FILE.decode() + "\n"})
    ca_needles = ca_bundle_with_marker(infra, work, f"modelpack-test-ca-{token[16:]}")
    with index_class([wheel], "reader", password) as index:
        yield PrivateSetup(index, wheel, password, f"http://reader:{password}@127.0.0.1:{index.port}/simple",
                           f"127.0.0.1:{index.port}", work / "bundle.pem", ca_needles)
