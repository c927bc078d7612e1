"""Hide credentials before anything is printed or logged: passwords and tokens in URLs
(`https://user:****@host`) and every value registered as secret."""

from __future__ import annotations

import re
import threading

MASK = "****"
# scheme://user:password@host  or  scheme://token@host
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s:]+(?::[^/@\s]*)?)@")

_lock = threading.Lock()
_known: set[str] = set()


def register_secret(value: str) -> None:
    """Remember `value` so that every later `redact()` call masks it. Short values are skipped:
    masking every "1" in a log would hide more than it protects."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def forget_secrets() -> None:
    """Tests use this to start from a clean registry."""
    with _lock:
        _known.clear()


def has_url_credentials(value: str) -> bool:
    """True when `value` contains a URL with a user or password part."""
    return _URL_CREDENTIALS.search(value) is not None


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    if ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        return f"{match.group('scheme')}{user}:{MASK}@"
    # A lone token (https://TOKEN@host) is the secret itself.
    return f"{match.group('scheme')}{MASK}@"


def redact(text: str) -> str:
    """Return `text` with URL credentials and every registered secret value masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    return _URL_CREDENTIALS.sub(_mask_userinfo, text)
