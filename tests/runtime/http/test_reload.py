"""--reload (what `modelpack serve --reload` uses): a change to a *.py file restarts the workers."""
from __future__ import annotations

import shutil
import time

import requests

from .conftest import MODELS

ND = {"data": {"ndarray": [[1.0, 2.0]]}}


def test_reload_picks_up_a_source_change(start, tmp_path) -> None:
    shutil.copytree(MODELS / "rowsum", tmp_path / "src")
    s = start("src", "--reload", models_dir=tmp_path)
    assert requests.post(s.url + "/predict", json=ND).json()["data"]["ndarray"] == [[3.0]]
    model = tmp_path / "src" / "Model.py"
    model.write_text(model.read_text().replace("keepdims=True) + self.offset", "keepdims=True) + 100"))
    deadline = time.monotonic() + 15
    got = None
    while time.monotonic() < deadline:
        try:
            got = requests.post(s.url + "/predict", json=ND, timeout=2).json()["data"]["ndarray"]
            if got == [[103.0]]:
                break
        except (requests.ConnectionError, requests.ReadTimeout, ValueError, KeyError):
            pass
        time.sleep(0.2)
    assert got == [[103.0]], s.output()
    assert "source changed: restarting workers" in s.output()
