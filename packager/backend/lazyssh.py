"""docker's ssh transport (and paramiko with it) imported on first use instead of with the SDK.

paramiko's import is a fifth of a rebuild after a Model.py edit, and only ``DOCKER_HOST=ssh://``
needs it. The SDK reaches ``docker.transport.sshconn`` in exactly two ways: ``from .sshconn import
SSHHTTPAdapter`` when ``docker`` is imported (answered by the stand-in below) and
``SSHHTTPAdapter(...)`` for an ssh:// host (which loads the real module). ``packager/backend/__init__``
installs the stand-in before anything imports ``docker``.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

NAME = "docker.transport.sshconn"


def install() -> None:
    if NAME in sys.modules:
        return
    stand_in = types.ModuleType(NAME)

    def real() -> types.ModuleType:
        if sys.modules.get(NAME) is stand_in:
            del sys.modules[NAME]
        return importlib.import_module(NAME)

    def ssh_adapter(*args: Any, **kwargs: Any) -> Any:
        return real().SSHHTTPAdapter(*args, **kwargs)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):  # the import system probes __path__ etc.: not a reason to load
            raise AttributeError(attr)
        return getattr(real(), attr)

    stand_in.SSHHTTPAdapter = ssh_adapter  # type: ignore[attr-defined]
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[NAME] = stand_in
