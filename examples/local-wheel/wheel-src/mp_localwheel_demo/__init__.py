"""A tiny library that is not on any index: it reaches the image as a local wheel."""
__version__ = "0.1.0"


def greet(name: str) -> str:
    return f"hello {name} from a local wheel"
