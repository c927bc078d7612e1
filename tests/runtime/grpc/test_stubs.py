"""The committed stubs are exactly what scripts/gen-protos produces from the .proto files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GEN = REPO / "modelpack_runtime" / "grpc" / "gen"


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is in the test extra: pip install -e '.[test]'")
    out = tmp_path / "gen"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-protos"), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    committed = {p.name: p.read_text() for p in GEN.iterdir() if p.is_file()}
    fresh = {p.name: p.read_text() for p in out.iterdir() if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"{stale} differ from scripts/gen-protos output: run scripts/gen-protos and commit"


def test_stubs_import_package_relative() -> None:
    text = (GEN / "prediction_pb2_grpc.py").read_text()
    assert "from . import prediction_pb2" in text
    assert "from seldon.protos" not in text
    from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2, prediction_pb2

    assert prediction_pb2.DESCRIPTOR.package == "seldon.protos"
    assert grpc_predict_v2_pb2.DESCRIPTOR.package == "inference"
    # tftensor keeps field number 4 (a serialized tensorflow.TensorProto on the wire)
    assert prediction_pb2.DefaultData.DESCRIPTOR.fields_by_name["tftensor"].number == 4
