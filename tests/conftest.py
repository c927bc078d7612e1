"""Suite-wide pytest setup: the `docker` marker's infrastructure check.

Tests marked `docker` need what scripts/test-infra provides (a Docker engine, the local base
image, the authenticated registry on loopback). Outside CI they are skipped with the reason when
that infrastructure is missing; in CI (CI=true) they never skip: the session stops with an error
naming what is missing, so a green CI run always includes them.
"""
from __future__ import annotations

import os

import pytest

INFRA_VARS = ("MODELPACK_TEST_BASE_IMAGE", "MODELPACK_TEST_REGISTRY", "MODELPACK_TEST_REGISTRY_USER",
              "MODELPACK_TEST_REGISTRY_PASSWORD")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _docker_answers() -> str | None:
    """None when a daemon answers, else the reason (modelpack's own one-line diagnosis)."""
    from packager.backend.client import connect
    from packager.errors import ModelpackError

    try:
        connect().close()
    except ModelpackError as exc:
        return str(exc)
    return None


def infra_problem() -> str | None:
    missing = [name for name in INFRA_VARS if not os.environ.get(name)]
    if missing:
        return f"{', '.join(missing)} not set: run the suite through scripts/test (it sources scripts/test-infra)"
    return _docker_answers()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_items = [item for item in items if item.get_closest_marker("docker")]
    if not docker_items:
        return
    problem = infra_problem()
    if problem is None:
        return
    if in_ci():
        raise pytest.UsageError(f"CI=true but the Docker test infrastructure is missing: {problem}")
    skip = pytest.mark.skip(reason=f"Docker test infrastructure missing: {problem}")
    for item in docker_items:
        item.add_marker(skip)
