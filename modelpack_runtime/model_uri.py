"""Resolve a model_uri (MODEL_URI or the `model_uri` parameter) to a local folder or file.

Schemes: a local path and file:// (returned as they are); http(s):// (downloaded once at start into a
cache folder, archives unpacked, optional sha256 check); s3:// and gs:// through optional packages
(boto3, google-cloud-storage: in the model's requirements.txt, or `pip install modelpack[s3]` / `[gs]`).

Every failure raises BadParameter with one line naming the URI (password redacted), what went wrong
and the fix; the data plane reports it in /health/status, readiness (503) and the log.
Standard library only (plus the optional cloud SDKs, imported lazily).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .errors import BadParameter

SHA256_ENV = "MODEL_URI_SHA256"
CACHE_ENV = "MODELPACK_MODEL_CACHE"
TIMEOUT_ENV = "MODEL_URI_TIMEOUT"
DEFAULT_CACHE = os.path.join(tempfile.gettempdir(), "modelpack-models")
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")
_DONE = ".modelpack-complete"


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by ***, for messages and logs."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def split_checksum(uri: str, sha256: str | None) -> tuple[str, str | None]:
    """(uri without a `#sha256=HEX` fragment, the expected digest). An explicit `sha256` wins."""
    base, sep, fragment = uri.partition("#")
    found = None
    if sep and fragment.startswith("sha256="):
        found = fragment[len("sha256="):]
        uri = base
    digest = (sha256 or found or "").strip().lower() or None
    if digest is not None and (len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest)):
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: sha256 {digest!r} is not 64 hex digits; "
            f"set {SHA256_ENV} (or #sha256=...) to the output of `sha256sum FILE`"
        )
    return uri, digest


def resolve(uri: str, *, sha256: str | None = None, cache_dir: str | None = None) -> str:
    """A local path for `uri`, downloading remote models once into `cache_dir`.

    `sha256` (else MODEL_URI_SHA256, else a `#sha256=` fragment) is checked against the downloaded
    file before it is unpacked. Raises BadParameter with a one-line reason.
    """
    uri = uri.strip()
    if "://" not in uri:
        return uri
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "file":
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    uri, digest = split_checksum(uri, sha256 or os.environ.get(SHA256_ENV))
    if scheme not in ("http", "https", "s3", "gs"):
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: unsupported scheme {scheme}://; use a local path, file://, "
            "http(s)://, s3:// or gs://"
        )
    root = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    key = hashlib.sha256(f"{uri}#{digest or ''}".encode()).hexdigest()[:24]
    target = root / key
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / f"{key}.lock", "w")  # noqa: SIM115 - held until the download is done
    except OSError as e:
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: cannot use the cache folder {root} ({e.strerror}); "
            f"set {CACHE_ENV} to a writable folder"
        ) from None
    with lock:
        # several workers start at once: one downloads, the others wait and reuse its result
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _DONE).is_file():
            return str(target)
        shutil.rmtree(target, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root))
        try:
            if scheme in ("http", "https"):
                _fetch_http(uri, digest, work)
            else:
                _fetch_cloud(scheme, uri, work, digest)
            (work / _DONE).write_text(uri if "@" not in uri else redact_uri(uri))
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return str(target)


def _file_name(uri: str) -> str:
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlsplit(uri).path)) or "model"
    return name


def _fetch_http(uri: str, digest: str | None, work: Path) -> None:
    shown = redact_uri(uri)
    parts = urllib.parse.urlsplit(uri)
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(
        netloc=parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else parts.netloc)))
    if parts.username is not None:
        import base64

        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    timeout = float(os.environ.get(TIMEOUT_ENV, "60"))
    name = _file_name(uri)
    download = work / f".download-{name}"
    hasher = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(download, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                hasher.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise BadParameter(
            f"model_uri {shown}: download failed with HTTP {e.code} {e.reason}; check the URL and its access rights"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise BadParameter(
            f"model_uri {shown}: cannot download ({reason}); check the host name, port and network"
        ) from None
    got = hasher.hexdigest()
    if digest is not None and got != digest:
        raise BadParameter(
            f"model_uri {shown}: sha256 mismatch: expected {digest}, downloaded file has {got}; "
            f"fix {SHA256_ENV} / the #sha256= fragment, or the file on the server"
        )
    lower = name.lower()
    if lower.endswith(_ARCHIVES):
        unpack(download, work, shown)
        download.unlink()
    else:
        download.rename(work / name)


def _check_tree_digest(uri: str, digest: str, work: Path) -> None:
    files = [p for p in work.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: a sha256 can only be checked for a single object, found {len(files)} files;"
            f" unset {SHA256_ENV} or point at one archive"
        )
    got = hashlib.sha256(files[0].read_bytes()).hexdigest()
    if got != digest:
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: sha256 mismatch: expected {digest}, downloaded file has {got}; "
            f"fix {SHA256_ENV} or the stored object"
        )


def _safe_target(dest: Path, member: str, shown: str) -> Path:
    target = (dest / member).resolve()
    if not str(target).startswith(str(dest.resolve()) + os.sep) and target != dest.resolve():
        raise BadParameter(f"model_uri {shown}: archive member {member!r} escapes the model folder; rebuild the archive")
    return target


def unpack(archive: Path, dest: Path, shown: str) -> None:
    """Unpack a .zip or tar archive into dest, refusing members (and links) that leave it."""
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _safe_target(dest, member, shown)
                zf.extractall(dest)
            return
        with tarfile.open(archive) as tf:
            members = []
            for member in tf.getmembers():
                _safe_target(dest, member.name, shown)
                if member.issym() or member.islnk() or member.isdev():
                    continue  # a model archive needs no links or devices
                members.append(member)
            tf.extractall(dest, members=members)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0].rstrip(":")  # tarfile's text spans lines
        raise BadParameter(
            f"model_uri {shown}: cannot unpack {archive.name.replace('.download-', '')} ({first}); "
            "check that the file is a valid archive"
        ) from None


def _fetch_cloud(scheme: str, uri: str, work: Path, digest: str | None) -> None:
    """Download s3://bucket/prefix or gs://bucket/prefix (one object or every object under it)."""
    bucket, _, prefix = uri.split("://", 1)[1].partition("/")
    extra = "s3" if scheme == "s3" else "gs"
    package = "boto3" if scheme == "s3" else "google-cloud-storage"
    try:
        if scheme == "s3":
            import boto3  # type: ignore[import-not-found]
        else:
            from google.cloud import storage  # type: ignore[import-not-found]
    except ImportError:
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: {scheme}:// needs {package}, which is not installed;"
            f" add {package} to the model's requirements.txt (on the host: pip install modelpack[{extra}])"
        ) from None
    try:
        if scheme == "s3":
            kwargs = {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]} if os.environ.get("AWS_ENDPOINT_URL") else {}
            objects = boto3.resource("s3", **kwargs).Bucket(bucket).objects.filter(Prefix=prefix)
            pairs = [(o.key, o) for o in objects if not o.key.endswith("/")]
            for key, obj in pairs:
                dest = _safe_target(work, os.path.relpath(key, prefix) if key != prefix else os.path.basename(key), uri)
                dest.parent.mkdir(parents=True, exist_ok=True)
                obj.Object().download_file(str(dest))
        else:
            blobs = [b for b in storage.Client().list_blobs(bucket, prefix=prefix) if not b.name.endswith("/")]
            pairs = [(b.name, b) for b in blobs]
            for name, blob in pairs:
                rel = os.path.relpath(name, prefix) if name != prefix else os.path.basename(name)
                dest = _safe_target(work, rel, uri)
                dest.parent.mkdir(parents=True, exist_ok=True)
                blob.download_to_filename(str(dest))
    except BadParameter:
        raise
    except Exception as e:  # noqa: BLE001 - the SDKs raise many types (auth, not found, network)
        raise BadParameter(
            f"model_uri {redact_uri(uri)}: download failed ({type(e).__name__}: {e}); check the bucket, "
            "the credentials and the network"
        ) from None
    if not pairs:
        raise BadParameter(f"model_uri {redact_uri(uri)}: no objects under that prefix; check the bucket and path")
    if digest is not None:
        _check_tree_digest(uri, digest, work)
    for path in list(work.iterdir()):
        if path.is_file() and path.name.lower().endswith(_ARCHIVES):
            unpack(path, work, redact_uri(uri))
            path.unlink()
