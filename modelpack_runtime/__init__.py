"""modelpack's model microservice. Imports nothing from `packager`; installs without typer, docker or jinja2."""
from __future__ import annotations

__version__ = "0.1.0"
