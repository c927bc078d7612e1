"""Credentials of private conda channels.

A credential written into a channel URL (`https://user:pass@host/channel`, or anaconda.org's
`https://conda.anaconda.org/t/<token>/channel`) would be copied into the image with the source
folder, recorded in every package URL of `conda-lock.yml` and in the environment's `conda-meta`,
so such a URL is refused. Credentials come instead from a rattler authentication file, the format
that pixi, rattler-build and py-rattler read from `RATTLER_AUTH_FILE`:

    {"conda.example.com": {"BasicHTTP": {"username": "me", "password": "..."}},
     "*.prefix.dev": {"BearerToken": "..."},
     "conda.anaconda.org": {"CondaToken": "..."}}

keyed by host name (no port; `*.` matches subdomains). `--conda-auth FILE` (or `RATTLER_AUTH_FILE`)
names it; the host's solve reads it, the build stage gets it as a secret mount on BuildKit (copied
into the conda stage only on the Engine API), and no image layer of the result holds it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import SourceError

AUTH_FILE_ENV = "RATTLER_AUTH_FILE"  # what pixi, rattler-build and py-rattler read
AUTH_KINDS = ("BasicHTTP", "BearerToken", "CondaToken", "S3Credentials", "OAuth")  # py-rattler 0.28
_TOKEN_SEGMENT = re.compile(r"/t/([^/]+)/")


def channel_credential(channel: str) -> str | None:
    """The channel with its credential masked, when it holds one; else None."""
    parts = urlsplit(channel)
    if parts.scheme and "@" in parts.netloc:
        return channel.replace(parts.netloc.rsplit("@", 1)[0] + "@", "****@", 1)
    if parts.scheme and _TOKEN_SEGMENT.search(parts.path + "/"):
        return _TOKEN_SEGMENT.sub("/t/****/", channel + "/", count=1).rstrip("/")
    return None


def check_channels(rel: str, channels: tuple[str, ...]) -> None:
    """Refuse a channel URL that carries a credential (named masked, never printed)."""
    for channel in channels:
        masked = channel_credential(channel)
        if masked is not None:
            raise SourceError(
                f"{rel}: channels: {masked} holds a credential, which would be copied into the image "
                "and written into every package URL of conda-lock.yml",
                "remove it from the URL and give it in a rattler auth file: --conda-auth FILE "
                "(or RATTLER_AUTH_FILE; docs/locking-and-conda.md)")


def secret_values(path: Path) -> list[str]:
    """Every string in the auth file (user names, passwords, tokens): masked in build logs."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str) and len(node) >= 4:
            found.append(node)

    walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def check_auth_file(given: Path) -> Path:
    """The resolved path of a valid rattler auth file; a one-line SourceError otherwise. The file's
    values are never printed."""
    path = given.expanduser().resolve()
    flag = f"--conda-auth {given}"
    if not path.is_file():
        raise SourceError(f"{flag}: no such file", "pass a rattler auth file (JSON: host -> credential)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{flag}: not valid JSON ({type(exc).__name__} at "
                         f"{getattr(exc, 'lineno', '?')}:{getattr(exc, 'colno', '?')})",
                         'write {"host": {"BasicHTTP": {"username": ..., "password": ...}}}') from None
    if not isinstance(data, dict) or not data:
        raise SourceError(f"{flag}: expected a JSON object of host names",
                         'write {"host": {"BasicHTTP": {"username": ..., "password": ...}}}')
    for host, entry in data.items():
        if "/" in host or ":" in host.split("]")[-1]:
            raise SourceError(f"{flag}: key {host!r} is not a host name",
                             "key each credential by the channel's host name only (no scheme, port or path)")
        kinds = list(entry) if isinstance(entry, dict) else []
        if len(kinds) != 1 or kinds[0] not in AUTH_KINDS:
            raise SourceError(f"{flag}: {host}: expected one credential: {', '.join(AUTH_KINDS)}",
                             "see docs/locking-and-conda.md (private channels)")
    return path
