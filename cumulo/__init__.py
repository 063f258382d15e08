"""Cumulo: a self-hosted, AWS-Lambda-compatible serverless platform.

``from cumulo import Cumulo`` is the Python API. This module stays import-light
(the zygote imports the package), so names are resolved on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Cumulo", "Settings", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Cumulo":
        from cumulo.app import Cumulo

        return Cumulo
    if name == "Settings":
        from cumulo.config import Settings

        return Settings
    raise AttributeError(name)
