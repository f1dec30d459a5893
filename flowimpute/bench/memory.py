"""Peak resident memory of a call, read from Linux's ``/proc/self/status``."""

from __future__ import annotations

import ctypes
import ctypes.util
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


def _release_free_heap() -> None:
    """Hand memory the C allocator holds but no longer uses back to the
    system (glibc's ``malloc_trim``), so the resident size before a call is
    the memory in use; otherwise a call reusing freed heap shows no growth."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim(0)


def peak_memory(function: Callable[[], T]) -> tuple[T, float]:
    """Run ``function``; return its result and the peak growth of the
    process's resident memory during the call, in MiB.

    Freed heap is first returned to the system, then the kernel's high-water
    mark (``VmHWM``) is reset to the current resident size (writing 5 to
    ``/proc/self/clear_refs``) and read after the call, so the figure covers
    NumPy, torch and everything else the call allocated, not only Python
    objects. Where that interface is missing (not Linux, or not permitted)
    the peak is NaN.
    """
    _release_free_heap()
    try:
        _CLEAR_REFS.write_text("5")
        before = _status_kib("VmRSS")
    except (OSError, KeyError):
        return function(), math.nan
    result = function()
    return result, max(0, _status_kib("VmHWM") - before) / 1024
