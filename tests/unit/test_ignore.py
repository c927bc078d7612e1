"""Ignore rules: gitignore-style globs, `!` negation, `**`, anchoring, always-excluded names."""

from __future__ import annotations

from pathlib import Path

from packager.source.ignore import IgnoreRules, compile_rule
from packager.source.tree import walk_source


def rules(*lines: str) -> IgnoreRules:
    return IgnoreRules([r for r in (compile_rule(x) for x in lines) if r])


def test_unanchored_name_matches_any_depth() -> None:
    r = rules("*.bin")
    assert r.excluded("a.bin", False) and r.excluded("x/y/a.bin", False)
    assert not r.excluded("a.binx", False)


def test_anchored_pattern() -> None:
    r = rules("/data", "docs/*.md")
    assert r.excluded("data", True) and r.excluded("data/f.csv", False)
    assert not r.excluded("sub/data", True)
    assert r.excluded("docs/a.md", False) and not r.excluded("docs/x/a.md", False)


def test_double_star() -> None:
    r = rules("**/cache/**", "logs/**/*.log")
    assert r.excluded("a/b/cache/f", False) and r.excluded("cache/f", False)
    assert r.excluded("logs/x.log", False) and r.excluded("logs/a/b/x.log", False)


def test_negation_last_match_wins_even_inside_excluded_dir() -> None:
    r = rules("*.bin", "!keep.bin", "data/", "!data/important.csv")
    assert r.excluded("w.bin", False) and not r.excluded("keep.bin", False)
    assert r.excluded("data/x.csv", False) and not r.excluded("data/important.csv", False)


def test_dir_only_pattern_does_not_match_files() -> None:
    r = rules("build/")
    assert r.excluded("build", True) and r.excluded("build/x", False)
    assert not r.excluded("build", False)


def test_comments_and_blanks_are_ignored() -> None:
    assert compile_rule("# *.py") is None and compile_rule("   ") is None


def test_always_excluded(tmp_path: Path) -> None:
    for rel in (".git/config", "pkg/__pycache__/m.pyc", ".venv/bin/python", "a.pyc", "Model.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files = walk_source(tmp_path, IgnoreRules.from_source(tmp_path))
    assert [f.rel for f in files] == ["Model.py"]


def test_source_ignore_files_both_read(tmp_path: Path) -> None:
    for rel in ("Model.py", "a.csv", "b.tmp", "keep.csv", "data/x", "data/y.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".dockerignore").write_text("*.csv\n!keep.csv\ndata/\n!data/*.py\n")
    (tmp_path / ".s2iignore").write_text("*.tmp\n")
    files = [f.rel for f in walk_source(tmp_path, IgnoreRules.from_source(tmp_path))]
    assert files == [".dockerignore", ".s2iignore", "Model.py", "data/y.py", "keep.csv"]
