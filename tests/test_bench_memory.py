from pathlib import Path

import numpy as np
import pytest

from flowimpute.bench.memory import peak_memory


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_sees_an_allocation_even_after_freed_heap():
    blocks = [np.ones(1000) for _ in range(20_000)]   # ~160 MB of small heap blocks
    del blocks                                         # freed, but kept by the allocator
    result, mib = peak_memory(lambda: float(np.ones((1_000_000, 10)).sum()))
    assert result == 1e7
    assert 60 < mib < 400                              # one 76 MiB array, not zero
