"""Whole rendered build contexts compared exactly with files in tests/golden/<case>/.

Each case is a source folder (`source/`) and the options (`case.json`); the expected Dockerfile is
`Dockerfile.expected` and the expected list of context files is `context.expected`.
Regenerate after an intended change with MODELPACK_REGEN_GOLDEN=1 and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from packager.redact import forget_secrets
from packager.render import render_context
from packager.spec import BuildOptions, load_spec

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())
REGEN = os.environ.get("MODELPACK_REGEN_GOLDEN") == "1"


def options_for(case: str) -> BuildOptions:
    folder = GOLDEN / case
    raw = json.loads((folder / "case.json").read_text())
    return BuildOptions(
        src=folder / "source",
        tags=("golden/test:1",),
        env=tuple(tuple(p) for p in raw.get("env", [])),
        labels=tuple(tuple(p) for p in raw.get("labels", [])),
        python=raw.get("python"),
        base_image=raw.get("base_image"),
        wheels=folder / raw["wheels"] if "wheels" in raw else None,
        ca_cert=folder / raw["ca_cert"] if "ca_cert" in raw else None,
    )


def render(case: str, tmp_path: Path, include_secrets: bool = False):
    forget_secrets()
    spec = load_spec(options_for(case))
    return spec, render_context(spec, tmp_path / "ctx", include_secrets=include_secrets)


def check(path: Path, actual: str) -> None:
    if REGEN:
        path.write_text(actual)
    assert path.is_file(), f"{path} missing: run with MODELPACK_REGEN_GOLDEN=1"
    assert actual == path.read_text(), (
        f"{path} differs; if intended, regenerate with MODELPACK_REGEN_GOLDEN=1"
    )


def test_there_are_golden_cases() -> None:
    assert {"requirements", "setup_py", "wheels", "secrets"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_dockerfile_matches_golden(case: str, tmp_path: Path) -> None:
    _, ctx = render(case, tmp_path)
    check(GOLDEN / case / "Dockerfile.expected", (ctx.directory / ctx.dockerfile).read_text())


@pytest.mark.parametrize("case", CASES)
def test_context_files_match_golden(case: str, tmp_path: Path) -> None:
    _, ctx = render(case, tmp_path)
    listing = sorted(
        f"{p.relative_to(ctx.directory).as_posix()} {oct(p.stat().st_mode & 0o777)}"
        for p in ctx.directory.rglob("*")
        if p.is_file()
    )
    check(GOLDEN / case / "context.expected", "\n".join(listing) + "\n")
    assert ctx.file_count == len(listing)
    assert ctx.size_bytes == sum(p.stat().st_size for p in ctx.directory.rglob("*") if p.is_file())


SECRETS = ("s3cr3t-Pa55", "ghp_tok3nVALUE99", "idx-pa55w0rd")


def test_secrets_case_leaks_nothing_into_the_context(tmp_path: Path) -> None:
    spec, ctx = render("secrets", tmp_path, include_secrets=True)
    for path in ctx.directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret} found in {path.relative_to(ctx.directory)}"
    # the values travel only as build args, for the deps stage
    assert ctx.secret_build_args == {
        "EXTRA_INDEX_URL": "https://ci-user:s3cr3t-Pa55@pypi.internal.example/simple",
        "PIP_TRUSTED_HOST": "pypi.internal.example",
        "GIT_TOKEN": "ghp_tok3nVALUE99",
        "PIP_INDEX_URL": "https://tok:idx-pa55w0rd@idx.example/simple",
    }
    assert ctx.build_args == {}
    dockerfile = (ctx.directory / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM modelpack-test-base:bookworm\n", 1)[1]
    for name in ("EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "GIT_TOKEN", "PIP_INDEX_URL", "PIP_CERT", "ca.crt"):
        assert name not in final_stage, f"{name} is mentioned in the final stage"
    assert any("credential committed" in w for w in spec.warnings)


def test_dockerfile_without_secrets_renders_no_build_arg_values(tmp_path: Path) -> None:
    _, ctx = render("secrets", tmp_path, include_secrets=False)
    assert ctx.secret_build_args == {}
    assert "ARG EXTRA_INDEX_URL\n" in (ctx.directory / "Dockerfile").read_text()
