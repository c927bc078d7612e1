"""`.dockerignore` / `.s2iignore` rules: gitignore-style globs with `!` negation and `**`.

A pattern with no slash (other than a trailing one) matches a name at any depth; a pattern with a
slash is anchored at the source root. A trailing `/` matches directories only. A pattern that matches
a directory matches everything under it. The last matching pattern wins, so `!keep.bin` after `*.bin`
brings one file back (as docker does, even inside an excluded directory)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..constants import ALWAYS_EXCLUDED, IGNORE_FILES


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _glob_to_regex(glob: str, anchored: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return prefix + "".join(out) + r"\Z"


def compile_rule(line: str) -> Rule | None:
    """One ignore-file line -> Rule; None for blanks and comments."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    if negated:
        text = text[1:].strip()
    dir_only = text.endswith("/")
    text = text.rstrip("/")
    if text.startswith("./"):
        text = text[2:]
    anchored = "/" in text
    text = text.lstrip("/")
    if not text:
        return None
    return Rule(line.strip(), re.compile(_glob_to_regex(text, anchored)), negated, dir_only)


class IgnoreRules:
    """The always-excluded names, then the source's ignore files, in order."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = [r for r in (compile_rule(p) for p in ALWAYS_EXCLUDED) if r] + rules

    @classmethod
    def from_source(cls, root: Path) -> "IgnoreRules":
        rules: list[Rule] = []
        for name in IGNORE_FILES:
            path = root / name
            if path.is_file():
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                    rule = compile_rule(line)
                    if rule:
                        rules.append(rule)
        return cls(rules)

    def excluded(self, rel: str, is_dir: bool) -> bool:
        """True when the relative POSIX path `rel` is left out of the context."""
        parts = rel.split("/")
        # (path, is_dir) for every ancestor directory, then the path itself.
        candidates = [("/".join(parts[:n]), True) for n in range(1, len(parts))] + [(rel, is_dir)]
        result = False
        for rule in self.rules:
            for path, path_is_dir in candidates:
                if rule.dir_only and not path_is_dir:
                    continue
                if rule.regex.match(path):
                    result = not rule.negated
                    break
        return result

    def may_reinclude_under(self, rel_dir: str) -> bool:
        """Whether a negation could bring back something inside an excluded directory: only then
        must the walk descend into it."""
        return any(r.negated for r in self.rules[len(ALWAYS_EXCLUDED) :])
