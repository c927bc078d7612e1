"""Which environment keys are build-only secrets. They reach the dependency-install step as build
arguments and never become an ENV of the image."""

from __future__ import annotations

from ..constants import BUILD_ONLY_KEYS, SECRET_NAME_PARTS
from ..redact import has_url_credentials


def is_secret_name(key: str) -> bool:
    """Keys named like *TOKEN*, *PASSWORD*, *SECRET* (any case)."""
    upper = key.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


def is_build_only(key: str, value: str) -> bool:
    """True for pip's index settings, secret-looking names and any value holding URL credentials."""
    return key.upper() in BUILD_ONLY_KEYS or is_secret_name(key) or has_url_credentials(value)


def is_sensitive(key: str, value: str) -> bool:
    """True when committing this value to the source leaks a credential (a warning, not an error).
    PIP_TRUSTED_HOST or an index URL without a password are build-only but not secret."""
    return bool(value) and (is_secret_name(key) or has_url_credentials(value))
