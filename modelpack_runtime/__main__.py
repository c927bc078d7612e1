"""`python -m modelpack_runtime ...` is the same as `modelpack-microservice ...`."""
from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
