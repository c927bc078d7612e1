"""Build-only key classification and redaction."""

from __future__ import annotations

import pytest

from packager.redact import forget_secrets, has_url_credentials, redact, register_secret
from packager.source.secrets import is_build_only, is_sensitive


@pytest.mark.parametrize(
    "key, value",
    [
        ("EXTRA_INDEX_URL", "https://h/simple"),
        ("PIP_TRUSTED_HOST", "h"),
        ("PIP_INDEX_URL", "https://h"),
        ("PIP_EXTRA_INDEX_URL", "https://h"),
        ("HF_TOKEN", "x"),
        ("DB_PASSWORD", "x"),
        ("my_secret_key", "x"),
        ("DOWNLOAD_URL", "https://user:pw@host/x"),
        ("REPO", "https://ghp_abc@github.com/o/r"),
    ],
)
def test_build_only(key: str, value: str) -> None:
    assert is_build_only(key, value)


@pytest.mark.parametrize(
    "key, value",
    [
        ("MODEL_NAME", "Model"),
        ("GUNICORN_WORKERS", "2"),
        ("MODEL_URI", "https://host/model.joblib"),
        ("PREDICTIVE_UNIT_PARAMETERS", '[{"name":"a","value":"1","type":"INT"}]'),
    ],
)
def test_runtime_keys(key: str, value: str) -> None:
    assert not is_build_only(key, value)


def test_sensitive_is_narrower_than_build_only() -> None:
    assert not is_sensitive("PIP_TRUSTED_HOST", "h")
    assert not is_sensitive("EXTRA_INDEX_URL", "https://h/simple")
    assert is_sensitive("EXTRA_INDEX_URL", "https://u:p@h/simple")
    assert is_sensitive("API_TOKEN", "abc")
    assert not is_sensitive("API_TOKEN", "")


def test_url_credentials_are_masked() -> None:
    assert (
        redact("pip: https://user:s3cret@host/simple failed") == "pip: https://user:****@host/simple failed"
    )
    assert redact("git clone https://ghp_abc123@github.com/o/r") == "git clone https://****@github.com/o/r"
    assert redact("no url here") == "no url here"
    assert has_url_credentials("x https://a:b@c") and not has_url_credentials("https://c/a@b")


def test_registered_values_are_masked() -> None:
    forget_secrets()
    register_secret("tok-1234567")
    register_secret("ab")  # too short to mask safely
    try:
        assert redact("value tok-1234567 and ab") == "value **** and ab"
    finally:
        forget_secrets()
    assert redact("value tok-1234567") == "value tok-1234567"
