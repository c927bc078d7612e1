"""Model weights in their own layer on the real engine (issue 5): examples/weights plus an 8 MB
random file. Build, edit Model.py, rebuild: the second build sends only the code (the context's
byte count from the build log), the weights layer is the very same layer, and the image answers
with a prediction computed from the weights file. Then a new weights file: a new helper image, the
superseded one removed, a new answer. On both backends."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import docker
import docker.errors
import pytest

from .conftest import EXAMPLES, CliResult, Images

pytestmark = pytest.mark.docker

BLOB = 8 * 1024 * 1024
_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "KiB": 1024, "MB": 1e6, "MiB": 1 << 20, "GB": 1e9}


def context_bytes(result: CliResult) -> int:
    """What the build sent as its context: the engine backend logs the tar's size; BuildKit logs
    `transferring context: 2.05kB` (the sum, should it transfer in several steps)."""
    engine = re.findall(r"sending (\d+) bytes of context", result.output)
    if engine:
        return int(engine[-1])
    sizes = re.findall(r"transferring context: ([\d.]+)([kKMG]?i?B)", result.output)
    assert sizes, result.explain()
    return int(sum(float(n) * _UNITS[u] for n, u in sizes))


def weights_layer(client: docker.DockerClient, tag: str) -> tuple[str, int]:
    """(diff id, size) of the layer that holds /mnt/models: history entries with a layer map onto
    RootFS.Layers in order."""
    image = client.images.get(tag)
    layers = image.attrs["RootFS"]["Layers"]
    with_layer = [h for h in reversed(client.api.history(tag))  # oldest first
                  if not h.get("EmptyLayer", h.get("Size", 0) == 0 and "#(nop)" in h["CreatedBy"])]
    found = [(layers[i], h["Size"]) for i, h in enumerate(with_layer) if "/mnt/models" in h["CreatedBy"]
             and "COPY" in h["CreatedBy"].upper()]
    assert len(found) == 1, [h["CreatedBy"][:120] for h in with_layer]
    return found[0]


def predict(running, rows: list[list[float]]) -> tuple[list, dict]:
    r = running.post("/api/v1.0/predictions", {"data": {"ndarray": rows}})
    assert r.status_code == 200, r.text
    return r.json()["data"]["ndarray"], r.json()["meta"].get("tags", {})


@pytest.mark.parametrize("backend", ["engine", "buildkit"])
def test_code_edit_never_resends_or_relayers_the_weights(backend: str, images: Images, run_container,
                                                         docker_client: docker.DockerClient, tmp_path: Path) -> None:
    src = tmp_path / "weights"
    shutil.copytree(EXAMPLES / "weights", src)
    (src / "model" / "blob.bin").write_bytes(os.urandom(BLOB))  # unique per run: a new helper image
    env = {"MODELPACK_BACKEND": backend}

    first_tag, first = images.build(src, f"weights-{backend}-1", env=env)
    assert first.returncode == 0, first.explain()
    helper = re.search(r"weights: building (modelpack-weights:[0-9a-f]{12})", first.output)
    assert helper, first.explain()
    helper_tag = next(t for t in (i.tags for i in docker_client.images.list("modelpack-weights")) for t in t
                      if t.startswith(helper.group(1)))
    images.tags.append(helper_tag)  # removed at the end of the session
    assert docker_client.images.get(helper_tag).labels["io.modelpack.weights"].startswith("sha256:")
    assert context_bytes(first) < 1024 * 1024  # the main context never carries the weights

    model = src / "Model.py"
    model.write_text(model.read_text().replace('return {"model_uri": self.model_uri}',
                                               'return {"model_uri": self.model_uri, "edited": 1}'))
    second_tag, second = images.build(src, f"weights-{backend}-2", env=env)
    assert second.returncode == 0, second.explain()
    assert f"weights: {helper.group(1)}" in second.output and "exists" in second.output  # not built, not sent
    sent = context_bytes(second)
    assert sent < 1024 * 1024, f"the rebuild sent {sent} bytes; the weights are {BLOB}"

    layer_1, size_1 = weights_layer(docker_client, first_tag)
    layer_2, size_2 = weights_layer(docker_client, second_tag)
    assert layer_1 == layer_2 and size_1 == size_2 >= BLOB  # the very same layer, with the weights in it
    assert docker_client.images.get(first_tag).id != docker_client.images.get(second_tag).id
    labels = docker_client.images.get(second_tag).labels
    assert labels["io.modelpack.weights-digest"] == docker_client.images.get(helper_tag).labels["io.modelpack.weights"]

    running = run_container(second_tag)
    rows, tags = predict(running, [[1, 2, 3], [0, 0, 0]])
    assert rows == [4.75, 0.25] and tags == {"model_uri": "/mnt/models", "edited": 1}  # 0.5 - 2 + 6 + 0.25
    show = "ls /mnt/models; echo --; ls /microservice; echo --; stat -c %u:%g /mnt/models/weights.json"
    code, out = running.container.exec_run(["sh", "-c", show])
    models, source, owner = (part.split() for part in out.decode().split("--"))
    assert code == 0 and models == ["blob.bin", "weights.json"] and owner == ["8888:0"], out
    assert "Model.py" in source and "model" not in source  # the weights are not part of the source copy

    # new weights: a new helper image (the old one of this folder is removed), a new answer
    (src / "model" / "weights.json").write_text(json.dumps({"coef": [1.0, 1.0, 1.0], "intercept": 0.0}))
    third_tag, third = images.build(src, f"weights-{backend}-3", env=env)
    assert third.returncode == 0, third.explain()
    new_helper = re.search(r"weights: building (modelpack-weights:[0-9a-f]{12})", third.output)
    assert new_helper and new_helper.group(1) != helper.group(1), third.explain()
    assert f"weights: removed the superseded {helper.group(1)}" in third.output
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(helper_tag)
    images.tags += [t for i in docker_client.images.list("modelpack-weights") for t in i.tags
                    if t.startswith(new_helper.group(1))]
    rows, _ = predict(run_container(third_tag), [[1, 2, 3]])
    assert rows == [6.0]
