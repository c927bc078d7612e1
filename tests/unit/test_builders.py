"""Builder lookup and the builder's own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from packager.builders import builtin_builders, find_builder
from packager.errors import SourceError


def test_default_builder_is_python() -> None:
    b = find_builder(None)
    assert b.name == "python" and b.default_python == "3.11"
    assert b.base_image_for("3.12") == "python:3.12-slim"
    assert "3.11" in b.pythons
    assert (b.directory / b.dockerfile).is_file()


def test_builtin_list() -> None:
    names = [b.name for b in builtin_builders()]
    assert "python" in names and names == sorted(names)  # other builders may ship beside it


def test_unknown_builder_lists_available() -> None:
    with pytest.raises(SourceError) as info:
        find_builder("rust")
    available = [b.name for b in builtin_builders()]
    assert str(info.value).startswith(f"--builder rust: unknown builder (available: {', '.join(available)})")
    assert info.value.exit_code == 3


def test_builder_folder(tmp_path: Path) -> None:
    src = find_builder("python").directory
    mine = tmp_path / "mybuilder"
    mine.mkdir()
    for name in ("builder.yaml", "Dockerfile.j2", "usage.md"):
        (mine / name).write_text((src / name).read_text().replace("name: python", "name: custom"))
    b = find_builder(str(mine))
    assert b.name == "custom" and b.directory == mine.resolve()


def test_builder_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no builder.yaml in that folder"):
        find_builder(str(tmp_path))
    (tmp_path / "builder.yaml").write_text("name: x\n")
    with pytest.raises(SourceError, match="missing description, base_image, default_python, pythons"):
        find_builder(str(tmp_path))


def test_usage_text_is_correct_about_ports() -> None:
    text = find_builder("python").usage_text()
    assert "9000 REST" in text and "5000 gRPC" in text and "6000 Prometheus" in text
    assert "localhost:5000/predict" not in text  # Seldon's usage text has this wrong
    for key in (
        "MODEL_NAME",
        "SERVICE_TYPE",
        "PERSISTENCE",
        "EXTRA_INDEX_URL",
        "PIP_TRUSTED_HOST",
        "PAYLOAD_PASSTHROUGH",
        "MODELPACK_HEALTHCHECK",
    ):
        assert key in text
    for route in ("/predict", "/v1/models/Model:predict", "/v2/models/Model/infer"):
        assert route in text
