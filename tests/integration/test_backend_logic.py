"""Backend logic that needs no engine: build-stream parsing, push-error classification, progress
modes and redaction, and the CI rule of tests/conftest.py (run in a child pytest)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from packager.backend.buildlog import BuildLog, pip_failure
from packager.backend.progress import Progress, resolve_mode
from packager.backend.pushlog import _in_band, _Transient
from packager.errors import BuildFailed, PushFailed

REPO = Path(__file__).resolve().parents[2]


def feed_all(log: BuildLog, chunks: list[dict]) -> list[str]:
    out: list[str] = []
    for chunk in chunks:
        out += log.feed(chunk)
    return out + log.flush()


def test_lines_split_across_chunks_and_colours_are_joined_and_stripped() -> None:
    log = BuildLog()
    lines = feed_all(log, [{"stream": "Step 2/3 : RUN pip"}, {"stream": " install x\n"},
                           {"stream": "\x1b[91mERROR: No matching distribution"}, {"stream": " found for x\n\x1b[0m"},
                           {"stream": " ---> Using cache\n"}, {"aux": {"ID": "sha256:" + "a" * 64}}])
    assert lines == ["Step 2/3 : RUN pip install x", "ERROR: No matching distribution found for x",
                     " ---> Using cache"]
    assert log.step is not None and log.step.number == 2 and log.step.instruction == "RUN pip install x"
    assert log.cached_steps == 1 and log.image_id == "sha256:" + "a" * 64


def test_resolution_conflict_is_summarised() -> None:
    lines = ["ERROR: Cannot install a==1.0 and b==2.0 because these package versions have conflicting dependencies.",
             "", "The conflict is caused by:", "    a 1.0 depends on c<2", "    b 2.0 depends on c>=2",
             "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/..."]
    summary = pip_failure(lines)
    assert summary is not None
    assert summary.startswith("pip cannot install a==1.0 and b==2.0 together (conflicting dependencies): ")
    assert "a 1.0 depends on c<2 | b 2.0 depends on c>=2" in summary
    assert "ResolutionImpossible" in summary
    assert pip_failure(["Collecting numpy", "Successfully installed numpy"]) is None


def test_error_chunk_names_step_and_redacts() -> None:
    log = BuildLog(redact=lambda s: s.replace("hunter22", "****"))
    with pytest.raises(BuildFailed) as info:
        feed_all(log, [{"stream": "Step 4/9 : RUN curl http://u:hunter22@x/y\n"}, {"stream": "curl: (6) boom\n"},
                       {"error": "The command '/bin/sh -c curl http://u:hunter22@x/y' returned a non-zero code: 6"}])
    text = str(info.value)
    assert text.startswith("build step 4/9 (RUN curl http://u:****@x/y) failed: The command")
    assert "hunter22" not in text and "last output: curl: (6) boom" in text


@pytest.mark.parametrize("message, kind", [
    ("unauthorized: authentication required", PushFailed),
    ("denied: requested access to the resource is denied", PushFailed),
    ("Get \"https://r.example/v2/\": EOF", _Transient),
    ("received unexpected HTTP status: 503 Service Unavailable", _Transient),
    ("net/http: TLS handshake timeout", _Transient),
    ("manifest invalid: manifest invalid", PushFailed),
])
def test_push_errors_are_classified(message: str, kind: type) -> None:
    error = _in_band(message, "r.example", "r.example/m:1")
    assert isinstance(error, kind)
    if kind is PushFailed and ("denied" in message or "unauthorized" in message):
        assert "docker login r.example" in str(error)


def test_progress_modes_and_redaction() -> None:
    assert resolve_mode("auto", io.StringIO(), {}) == "plain"  # not a terminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_mode("auto", Tty(), {"TERM": "xterm"}) == "tty"
    assert resolve_mode("auto", Tty(), {"CI": "true", "TERM": "xterm"}) == "plain"
    with pytest.raises(ValueError):
        resolve_mode("loud", io.StringIO(), {})

    quiet = io.StringIO()
    p = Progress("quiet", stream=quiet, secrets=["s3cr3t-value"])
    p.phase("build", "start")
    p.line("Step 1/1 : FROM x")
    p.done("built")
    p.error("failed with s3cr3t-value")
    assert quiet.getvalue() == "error: failed with ****\n"

    tty = Tty()
    p = Progress("auto", stream=tty, env={"TERM": "xterm"}, secrets=["s3cr3t-value"])
    p.phase("build")
    for i in range(10):
        p.line(f"line {i} https://user:pw@host/simple s3cr3t-value")
    p.done("built it")
    out = tty.getvalue()
    assert "\x1b[" in out and out.endswith("built it\n")
    assert "s3cr3t-value" not in out and ":pw@" not in out and "https://user:****@host" in out


def test_ci_fails_loudly_without_infrastructure(tmp_path: Path) -> None:
    """With CI=true and no infra variables, a docker-marked test stops the session (never a skip)."""
    (tmp_path / "test_needs_docker.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.docker
        def test_x():
            pass
    """))
    conftest_text = (REPO / "tests" / "conftest.py").read_text()
    (tmp_path / "conftest.py").write_text(conftest_text)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    docker: engine\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPACK_TEST_")}
    for ci, expected_rc, expected_text in (("true", 4, "CI=true but the Docker test infrastructure is missing"),
                                           ("", 0, "Docker test infrastructure missing")):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                              capture_output=True, text=True, env={**env, "CI": ci}, cwd=tmp_path, check=False)
        assert proc.returncode == expected_rc, proc.stdout + proc.stderr
        assert expected_text in proc.stdout + proc.stderr


def test_tty_context_replaces_the_pane_with_the_failing_lines() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = Progress("auto", stream=out, env={"TERM": "xterm"}, secrets=["pw-123456"])
    p.phase("build")
    p.line("Collecting x")
    p.context(["ERROR: No matching distribution found for x", "token pw-123456"])
    text = out.getvalue()
    assert text.endswith("  | ERROR: No matching distribution found for x\n  | token ****\n")
    plain = io.StringIO()
    Progress("plain", stream=plain).context(["not repeated"])
    assert plain.getvalue() == ""


def test_layer_status_plain_prints_state_changes_only() -> None:
    out = io.StringIO()
    p = Progress("plain", stream=out)
    p.phase("push")
    for done in range(5):
        p.status("abc123", "Pushing", f"[{'=' * done}>   ] {done}MB/5MB")
    p.status("abc123", "Pushed")
    assert out.getvalue() == "[push] abc123: Pushing\n[push] abc123: Pushed\n"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    p = Progress("auto", stream=tty, env={"TERM": "xterm"})
    p.phase("push")
    p.status("abc123", "Pushing", "[=>  ] 1MB/5MB")
    p.status("def456", "Preparing")
    p.status("abc123", "Pushing", "[==> ] 2MB/5MB")
    assert list(p._pane) == ["abc123: Pushing [==> ] 2MB/5MB", "def456: Preparing"]  # updated in place
