"""modelpack's fallback for the parts of seldon-core that user models import.

Only found when the real seldon-core is not installed (this folder is last on sys.path).
"""
from __future__ import annotations

__version__ = "0.0.0+modelpack-shim"
MODELPACK_SHIM = True
