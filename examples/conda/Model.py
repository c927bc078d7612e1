"""Multiplies the input by mp_conda_demo.ANSWER, a conda package from environment.yml, and reports
where the interpreter runs (the conda environment) and the pip package from the `pip:` list."""

from __future__ import annotations

import sys

import mp_conda_demo
import six


class Model:
    def predict(self, X, feature_names=None, meta=None):
        return [[v * mp_conda_demo.ANSWER for v in row] for row in X]

    def tags(self):
        return {"prefix": sys.prefix, "conda_package": mp_conda_demo.__file__, "six": six.__version__}
