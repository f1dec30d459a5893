"""Peak resident memory of a call, read from Linux's ``/proc/self/status``."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_memory(function: Callable[[], T]) -> tuple[T, float]:
    """Run ``function``; return its result and the peak growth of the
    process's resident memory during the call, in MiB.

    The kernel's high-water mark (``VmHWM``) is reset to the current resident
    size before the call (writing 5 to ``/proc/self/clear_refs``) and read
    after it, so the figure covers NumPy, torch and everything else the call
    allocated, not only Python objects. Where that interface is missing (not
    Linux, or not permitted) the peak is NaN.
    """
    try:
        _CLEAR_REFS.write_text("5")
        before = _status_kib("VmRSS")
    except (OSError, KeyError):
        return function(), math.nan
    result = function()
    return result, max(0, _status_kib("VmHWM") - before) / 1024
