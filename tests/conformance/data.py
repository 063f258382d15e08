"""Where the AWS-recorded conformance vectors live (``shared/conformance`` beside the checkout).

``CUMULO_CONFORMANCE`` names the folder explicitly; otherwise the first of the checkout's
sibling ``../shared/conformance`` and ``/work/shared/conformance`` that exists.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFORMANCE"]


def _find() -> Path:
    given = os.environ.get("CUMULO_CONFORMANCE")
    if given:
        return Path(given)
    candidates = [Path(__file__).resolve().parents[2].parent / "shared" / "conformance",
                  Path("/work/shared/conformance")]
    return next((p for p in candidates if p.is_dir()), candidates[-1])


CONFORMANCE = _find()
