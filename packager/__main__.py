"""`python -m packager` runs the modelpack CLI."""

from __future__ import annotations

from .cli import main

main()
