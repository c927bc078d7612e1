"""The CLI through typer's CliRunner: output, `error: ...` lines and exit codes; `serve` for real."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from packager.cli import app

MODEL = "class Model:\n    def predict(self, X, names=None, meta=None):\n        return X\n"
runner = CliRunner()


def source(root: Path, env: str = "MODEL_NAME=Model\n", model: str | None = MODEL) -> Path:
    (root / ".s2i").mkdir(parents=True, exist_ok=True)
    (root / ".s2i" / "environment").write_text(env)
    if model is not None:
        (root / "Model.py").write_text(model)
    return root


def run(*args: str):
    return runner.invoke(app, list(args))


def assert_error(result, code: int, starts: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {starts}"), lines[0]


def test_help_lists_commands_and_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in (
        "build",
        "push",
        "usage",
        "builders",
        "dockerfile",
        "serve",
        "Exit codes:",
        "3  invalid source",
    ):
        assert word in result.stdout
    build_help = run("build", "--help").stdout
    for flag in (
        "-e",
        "--env-file",
        "--builder",
        "--python",
        "--base-image",
        "--wheels",
        "--ca-cert",
        "--label",
        "--no-cache",
        "--pull",
        "--platform",
        "--progress",
        "--output",
        "--push",
        "--context-dir",
        "Exit codes:",
    ):
        assert flag in build_help


def test_usage_prints_builder_text_and_builders() -> None:
    result = run("usage")
    assert result.exit_code == 0
    assert result.stdout.startswith('# Builder "python"')
    builders_line = next(line for line in result.stdout.splitlines() if line.startswith("Builders: "))
    assert "python" in builders_line.split(": ", 1)[1].split(" (")[0].split(", ")
    assert "Exit codes:" in result.stdout


def test_builders() -> None:
    result = run("builders")
    assert result.exit_code == 0
    assert any(line.startswith("python\tpython:3.11-slim\t") for line in result.stdout.splitlines())


def test_dockerfile_renders_context(tmp_path: Path) -> None:
    src = source(tmp_path / "src", "MODEL_NAME=Model\nEXTRA_INDEX_URL=https://u:pw-9876@h/simple\n")
    result = run("dockerfile", str(src), str(tmp_path / "out"), "-e", "GUNICORN_WORKERS=3")
    assert result.exit_code == 0, result.stderr
    dockerfile = (tmp_path / "out" / "Dockerfile").read_text()
    assert 'GUNICORN_WORKERS="3"' in dockerfile and "ARG EXTRA_INDEX_URL" in dockerfile
    assert "pw-9876" not in result.stdout + result.stderr + dockerfile
    assert "--build-arg EXTRA_INDEX_URL" in result.stdout
    assert result.stderr.startswith("warning: .s2i/environment line 2: EXTRA_INDEX_URL holds a credential")
    # rendering again into the same folder replaces the previous context
    assert run("dockerfile", str(src), str(tmp_path / "out")).exit_code == 0


def test_dockerfile_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("x")
    assert_error(
        run("dockerfile", str(source(tmp_path / "src")), str(tmp_path / "out")),
        2,
        f"{tmp_path / 'out'}: folder is not empty",
    )


@pytest.mark.parametrize(
    "case, code, starts",
    [
        ("no_model_file", 3, "MODEL_NAME=Model: no Model.py in"),
        ("no_class", 3, "Model.py has no class Model (classes: Other)"),
        ("bad_env_line", 3, '.s2i/environment line 2: expected KEY=VALUE, got "FOO"'),
        ("no_model_name", 3, "MODEL_NAME is not set"),
        ("bad_service_type", 3, '.s2i/environment line 2: SERVICE_TYPE "ROUTR" is not one of'),
        ("bad_requirement", 3, 'requirements.txt line 1: cannot parse requirement "numpy>=>1"'),
    ],
)
def test_bad_sources(tmp_path: Path, case: str, code: int, starts: str) -> None:
    src = {
        "no_model_file": lambda: source(tmp_path, model=None),
        "no_class": lambda: source(tmp_path, model="class Other: pass\n"),
        "bad_env_line": lambda: source(tmp_path, "MODEL_NAME=Model\nFOO\n"),
        "no_model_name": lambda: source(tmp_path, "SERVICE_TYPE=MODEL\n"),
        "bad_service_type": lambda: source(tmp_path, "MODEL_NAME=Model\nSERVICE_TYPE=ROUTR\n"),
        "bad_requirement": lambda: source(tmp_path),
    }[case]()
    if case == "bad_requirement":
        (src / "requirements.txt").write_text("numpy>=>1\n")
    for command in (["build", str(src), "img:1"], ["dockerfile", str(src), str(tmp_path / "out")]):
        assert_error(run(*command), code, starts)


def test_unknown_builder(tmp_path: Path) -> None:
    assert_error(
        run("build", str(source(tmp_path)), "img", "--builder", "rust"), 3, "--builder rust: unknown builder"
    )
    assert_error(run("usage", "rust"), 3, "--builder rust: unknown builder")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    src = str(source(tmp_path))
    assert_error(run("build", src, "img", "-e", "NOEQUALS"), 2, '-e "NOEQUALS": expected KEY=VALUE')
    assert_error(
        run("build", src, "img", "--progress", "loud"), 2, '--progress "loud": expected auto, plain or quiet'
    )
    assert_error(run("build", src, "Bad Name"), 2, 'image name "Bad Name": not a valid reference')
    assert run("build", src, "img", "--no-such-flag").exit_code == 2
    assert run("build").exit_code == 2


def test_internal_errors_are_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import packager.pipeline as pipeline

    def boom(options):
        raise KeyError("surprise")

    monkeypatch.setattr(pipeline, "plan", boom)
    monkeypatch.delenv("MODELPACK_DEBUG", raising=False)
    result = run("build", str(source(tmp_path)), "img")
    assert_error(result, 1, "internal error: KeyError: 'surprise' (this is a bug")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _usage_curls() -> list[list[str]]:
    """Every curl command of the python builder's usage text, as argv lists."""
    text = run("usage").stdout
    commands, buffer = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("curl") or buffer:
            buffer += stripped.rstrip("\\") + " "
            if not stripped.endswith("\\"):
                commands.append(shlex.split(buffer))
                buffer = ""
    return commands


def _call_grpc_methods_named_in_usage(port: int) -> None:
    import grpc

    from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2
    from modelpack_runtime.grpc.gen import prediction_pb2 as seldon

    text = run("usage").stdout
    assert "seldon.protos.Model/Predict" in text and "inference.GRPCInferenceService/ModelInfer" in text
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=20)
        predict = channel.unary_unary(
            "/seldon.protos.Model/Predict",
            request_serializer=seldon.SeldonMessage.SerializeToString,
            response_deserializer=seldon.SeldonMessage.FromString,
        )
        request = seldon.SeldonMessage()
        request.data.tensor.shape.extend([1, 2])
        request.data.tensor.values.extend([1.0, 2.0])
        assert list(predict(request, timeout=10).data.tensor.values) == [1.0, 2.0]
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=v2.ModelInferRequest.SerializeToString,
            response_deserializer=v2.ModelInferResponse.FromString,
        )
        tensor = v2.ModelInferRequest.InferInputTensor(name="x", datatype="FP64", shape=[1, 2])
        tensor.contents.fp64_contents.extend([1.0, 2.0])
        reply = infer(v2.ModelInferRequest(model_name="Model", inputs=[tensor]), timeout=10)
        assert reply.model_name == "Model" and len(reply.outputs) == 1


def test_serve_answers_every_usage_example(tmp_path: Path) -> None:
    """`modelpack serve` on a real loopback port, called with each curl line of `modelpack usage`:
    the usage text must be correct."""
    src = source(
        tmp_path / "src",
        "MODEL_NAME=Model\nEXTRA_INDEX_URL=https://h/simple\nGREETING=from-s2i\n",
    )
    (src / "Model.py").write_text(
        "import os\n\nclass Model:\n    def predict(self, X, names=None, meta=None):\n"
        "        assert os.environ['GREETING'] == 'from-s2i'\n"
        "        assert 'EXTRA_INDEX_URL' not in os.environ\n        return X\n"
    )
    port, metrics, grpc_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "EXTRA_INDEX_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packager",
            "serve",
            str(src),
            "--http-port",
            str(port),
            "--metrics-port",
            str(metrics),
            "--grpc-port",
            str(grpc_port),
            "-e",
            "SELDON_LOG_LEVEL=WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/health/ping", timeout=1).text == "pong":
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "modelpack serve did not answer within 30 s"
            time.sleep(0.2)
        curls = _usage_curls()
        assert len(curls) >= 6
        for argv in curls:
            argv = [a.replace("http://localhost:9000", base) for a in argv]
            # the exact command a user would paste, with curl itself; only the port differs
            done = subprocess.run(
                [*argv, "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, text=True, timeout=30
            )
            assert done.stdout == "200", (" ".join(argv), done.stdout, done.stderr)
        _call_grpc_methods_named_in_usage(grpc_port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_push_password_stdin_must_not_be_empty() -> None:
    result = runner.invoke(
        app, ["push", "localhost:5055/x:1", "--username", "u", "--password-stdin"], input=""
    )
    assert_error(result, 2, "--password-stdin: nothing on standard input")


def test_build_dry_run_prints_the_plan_without_docker(tmp_path: Path) -> None:
    result = run(
        "build",
        str(source(tmp_path, "MODEL_NAME=Model\nPIP_INDEX_URL=https://u:idx-pw-1@h/simple\n")),
        "img:1",
        "--dry-run",
        "--env",
        "EXTRA=1",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Generated by modelpack") and 'EXTRA="1"' in result.stdout
    assert "MODEL_NAME=Model (Model.py)" in result.stderr
    assert "idx-pw-1" not in result.stdout + result.stderr
