"""Editing only Model.py reuses every dependency layer: the rebuild's pip step is a cache hit and
the images share all layers but the source layer."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import docker
import pytest

from .conftest import EXAMPLES, CliResult, Images

pytestmark = pytest.mark.docker


def pip_step_cached(result: CliResult) -> list[bool]:
    """For each Dockerfile step that runs `pip install -r`, whether the build log says "Using cache"."""
    lines = [re.sub(r"^\[\w+\]\s?", "", line) for line in result.output.splitlines()]
    verdicts = []
    for i, line in enumerate(lines):
        if re.match(r"^Step \d+/\d+ : RUN .*pip install .*-r ", line):
            following = [l.strip() for l in lines[i + 1:i + 3]]
            verdicts.append("---> Using cache" in following)
    return verdicts


def first_rebuilt_step(result: CliResult) -> str:
    """The first Dockerfile step after FROM that the build ran instead of taking from the cache."""
    lines = [re.sub(r"^\[\w+\]\s?", "", line).strip() for line in result.output.splitlines()]
    for line, following in zip(lines, lines[1:]):
        if line.startswith("Step ") and " : FROM " not in line and following.startswith("---> Running in"):
            return line
    return "(none)"


def test_editing_model_py_reuses_dependency_layers(images: Images, docker_client: docker.DockerClient,
                                                   tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "requirements-params", src)
    first_tag, first = images.build(src, "layers-before")
    assert first.returncode == 0, first.explain()
    model = src / "Model.py"
    model.write_text(model.read_text().replace("out = np.clip(out, 0.0, 10.0)",
                                               "out = np.clip(out, 0.0, 10.0)  # edited"))
    second_tag, second = images.build(src, "layers-after")
    assert second.returncode == 0, second.explain()

    assert pip_step_cached(second) == [True], f"first rebuilt step: {first_rebuilt_step(second)}"
    before = docker_client.images.get(first_tag)
    after = docker_client.images.get(second_tag)
    assert before.id != after.id
    layers_before, layers_after = before.attrs["RootFS"]["Layers"], after.attrs["RootFS"]["Layers"]
    assert len(layers_before) == len(layers_after)
    # everything up to the source copy is shared; only the source layer differs
    assert layers_before[:-1] == layers_after[:-1]
    assert layers_before[-1] != layers_after[-1]
    # the virtualenv layer (copied out of the dependency stage) is the very same intermediate image
    venv = [{h["CreatedBy"]: h["Id"] for h in docker_client.api.history(t) if "/opt/venv" in h["CreatedBy"]
             and "COPY" in h["CreatedBy"]} for t in (first_tag, second_tag)]
    assert venv[0] and venv[0] == venv[1]
