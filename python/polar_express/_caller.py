"""Where the package's warnings point: the first frame outside polar_express and
torch, the user's call, however many library frames (torch's operator dispatch,
optimizer hooks, the package's own layers) lie between."""

from __future__ import annotations

import os
import sys

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` made by the caller of this function."""
    torch = sys.modules.get("torch")
    libraries = (_PACKAGE,)
    if torch is not None:
        libraries += (os.path.dirname(os.path.abspath(torch.__file__)) + os.sep,)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(libraries):
        frame, level = frame.f_back, level + 1
    return level
