"""Read a model source folder: fetch it (local or git), `.s2i/environment`, the ignore rules, the
files, the MODEL_NAME check and the dependency sources. Imports neither docker nor typer."""

from __future__ import annotations
