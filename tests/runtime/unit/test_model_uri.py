"""model_uri.resolve against a real HTTP server on loopback: downloads, archives, checksums, errors."""
from __future__ import annotations

import hashlib
import http.server
import io
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from modelpack_runtime.errors import BadParameter
from modelpack_runtime.model_uri import redact_uri, resolve


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []
    auth: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.auth.append(self.headers.get("Authorization"))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.files = {
        "/model.joblib": b"weights-v1",
        "/bundle.tar.gz": _tgz({"model.joblib": b"from-tar", "sub/extra.txt": b"x"}),
        "/bundle.zip": _zip({"model.onnx": b"from-zip"}),
        "/evil.tar.gz": _tgz({"../escape.txt": b"nope"}),
        "/broken.tar.gz": b"not a tarball at all",
    }
    _Handler.hits = []
    _Handler.auth = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_local_path_and_file_scheme_are_returned_as_paths(tmp_path: Path) -> None:
    assert resolve(str(tmp_path)) == str(tmp_path)
    assert resolve(f"file://{tmp_path}") == str(tmp_path)
    assert resolve("file:///mnt/my%20models") == "/mnt/my models"


def test_http_file_downloaded_once_into_cache(server: str, tmp_path: Path) -> None:
    got = resolve(f"{server}/model.joblib", cache_dir=str(tmp_path))
    assert (Path(got) / "model.joblib").read_bytes() == b"weights-v1"
    again = resolve(f"{server}/model.joblib", cache_dir=str(tmp_path))
    assert again == got and _Handler.hits == ["/model.joblib"]  # second start reuses the cache


def test_archives_are_unpacked(server: str, tmp_path: Path) -> None:
    tar_dir = Path(resolve(f"{server}/bundle.tar.gz", cache_dir=str(tmp_path)))
    assert (tar_dir / "model.joblib").read_bytes() == b"from-tar"
    assert (tar_dir / "sub" / "extra.txt").read_bytes() == b"x"
    assert not list(tar_dir.glob("*.tar.gz"))
    zip_dir = Path(resolve(f"{server}/bundle.zip", cache_dir=str(tmp_path)))
    assert (zip_dir / "model.onnx").read_bytes() == b"from-zip"


def test_checksum_ok_from_argument_fragment_and_env(server: str, tmp_path: Path, monkeypatch) -> None:
    digest = hashlib.sha256(b"weights-v1").hexdigest()
    assert Path(resolve(f"{server}/model.joblib", sha256=digest, cache_dir=str(tmp_path / "a"))).is_dir()
    assert Path(resolve(f"{server}/model.joblib#sha256={digest}", cache_dir=str(tmp_path / "b"))).is_dir()
    monkeypatch.setenv("MODEL_URI_SHA256", digest.upper())
    assert Path(resolve(f"{server}/model.joblib", cache_dir=str(tmp_path / "c"))).is_dir()


def test_checksum_mismatch_is_clear_and_leaves_no_cache(server: str, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(BadParameter) as info:
        resolve(f"{server}/model.joblib#sha256={wrong}", cache_dir=str(tmp_path))
    msg = str(info.value)
    assert f"model_uri {server}/model.joblib: sha256 mismatch: expected {wrong}" in msg
    assert hashlib.sha256(b"weights-v1").hexdigest() in msg and "MODEL_URI_SHA256" in msg
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_bad_checksum_format(server: str, tmp_path: Path) -> None:
    with pytest.raises(BadParameter, match="sha256 'abc' is not 64 hex digits"):
        resolve(f"{server}/model.joblib", sha256="abc", cache_dir=str(tmp_path))


def test_http_404_names_status_and_redacts_password(server: str, tmp_path: Path) -> None:
    uri = server.replace("http://", "http://alice:s3cret@") + "/missing.bin"
    with pytest.raises(BadParameter) as info:
        resolve(uri, cache_dir=str(tmp_path))
    msg = str(info.value)
    assert "HTTP 404 Not Found" in msg and "alice:***@127.0.0.1" in msg and "s3cret" not in msg
    assert _Handler.auth[-1] is not None and _Handler.auth[-1].startswith("Basic ")  # credentials sent as a header


def test_unreachable_host(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BadParameter, match=rf"model_uri http://127.0.0.1:{port}/m.joblib: cannot download \("):
        resolve(f"http://127.0.0.1:{port}/m.joblib", cache_dir=str(tmp_path))


def test_archive_escaping_the_folder_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(BadParameter, match="archive member '../escape.txt' escapes the model folder"):
        resolve(f"{server}/evil.tar.gz", cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "escape.txt").exists()


def test_broken_archive(server: str, tmp_path: Path) -> None:
    with pytest.raises(BadParameter, match=r"cannot unpack broken.tar.gz .*valid archive"):
        resolve(f"{server}/broken.tar.gz", cache_dir=str(tmp_path))


def test_cloud_schemes_without_sdk_name_the_extra(tmp_path: Path) -> None:
    with pytest.raises(BadParameter, match=r"gs:// needs google-cloud-storage, which is not installed; add google-cloud-storage to the model's requirements.txt"):
        resolve("gs://bucket/model", cache_dir=str(tmp_path))
    with pytest.raises(BadParameter, match="unsupported scheme ftp://"):
        resolve("ftp://host/model", cache_dir=str(tmp_path))


def test_redact_uri() -> None:
    assert redact_uri("https://u:p@h:8443/x?y=1") == "https://u:***@h:8443/x?y=1"
    assert redact_uri("https://h/x") == "https://h/x"
