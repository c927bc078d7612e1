"""The bench is run as `python -m serve` from bench/ (PYTHONPATH=bench); the tests import it the same way."""
from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2]
for path in (BENCH, BENCH / "serve" / "models" / "raw"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
