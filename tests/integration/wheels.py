"""Build tiny pure-Python wheels without any build tool, and serve them from a private PEP 503
index with HTTP basic auth on loopback."""
from __future__ import annotations

import base64
import hashlib
import html
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()) -> Path:
    """Write ``{dist}-{version}-py3-none-any.whl`` holding ``files`` (path -> text) into ``dest``."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    entries: dict[str, bytes] = {path: text.encode() for path, text in sorted(files.items())}
    requires_dist = "".join(f"Requires-Dist: {r}\n" for r in requires)
    entries[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires_dist}".encode()
    entries[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: modelpack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in entries.items())
    record += f"{info}/RECORD,,\n"
    entries[f"{info}/RECORD"] = record.encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel


def wheel_from_folder(src: Path, dest: Path, name: str, version: str, package: str) -> Path:
    """A wheel of the package folder ``src/package`` (every .py file in it)."""
    files = {p.relative_to(src).as_posix(): p.read_text() for p in sorted((src / package).rglob("*.py"))}
    return make_wheel(dest, name, version, files)


class PrivateIndex:
    """A PEP 503 simple index on 127.0.0.1 that answers 401 without the right basic-auth password."""

    def __init__(self, wheels: list[Path], user: str, password: str) -> None:
        self.wheels = {w.name: w for w in wheels}
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[tuple[str, int]] = []  # (path, status) of every request
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                status, body, ctype = index.answer(self.path, self.headers.get("Authorization", ""))
                index.requests.append((self.path, status))
                self.send_response(status)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, auth: str) -> tuple[int, bytes, str]:
        if auth != self.expected:
            return 401, b"authentication required", "text/plain"
        path = path.split("?", 1)[0]
        projects: dict[str, list[str]] = {}
        for name in self.wheels:
            projects.setdefault(name.split("-", 1)[0].replace("_", "-").lower(), []).append(name)
        if path.rstrip("/") == "/simple":
            links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in sorted(projects))
            return 200, f"<html><body>{links}</body></html>".encode(), "text/html"
        if path.startswith("/simple/"):
            project = path[len("/simple/"):].strip("/").lower().replace("_", "-")
            if project not in projects:
                return 404, b"not found", "text/plain"
            links = "".join(
                f'<a href="/files/{html.escape(n)}#sha256={hashlib.sha256(self.wheels[n].read_bytes()).hexdigest()}">'
                f"{html.escape(n)}</a>\n" for n in projects[project])
            return 200, f"<html><body>{links}</body></html>".encode(), "text/html"
        if path.startswith("/files/") and path[len("/files/"):] in self.wheels:
            return 200, self.wheels[path[len("/files/"):]].read_bytes(), "application/octet-stream"
        return 404, b"not found", "text/plain"

    def __enter__(self) -> PrivateIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
