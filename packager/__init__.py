"""modelpack's packager: reads a model source folder, renders a build context, builds and pushes images."""
from __future__ import annotations

__version__ = "0.1.0"
