"""The model's own library, installed from setup.py together with its dependency (toolz)."""
from toolz import pipe


def scale(row, factor):
    return pipe(row, lambda r: [float(v) * factor for v in r], lambda r: [round(v, 3) for v in r])
