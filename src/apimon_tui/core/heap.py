"""Keep freed memory blocks of a few MB in the process instead of returning them to the system.

Reading a batch as columns (`formats.nginx_columns`) allocates numpy arrays
of a few MB and frees them again, batch after batch. glibc by default hands
blocks of that size back to the kernel when they are freed, so every batch
faults its pages in anew: for a million nginx JSON lines that was 2.0-2.3 s of
system time and 680,000 page faults, against 0.2 s and 25,000 with the
thresholds below (`bench/report_throughput.py`). Peak memory is unchanged:
only blocks already freed are kept, up to `TRIM_BYTES`.
"""

from __future__ import annotations

import ctypes
import functools

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 8 * 1024 * 1024    # blocks below this come from the heap, not a fresh mapping
TRIM_BYTES = 16 * 1024 * 1024   # free memory kept at the top of the heap before it is returned


@functools.cache
def keep_freed_blocks() -> bool:
    """Apply the thresholds once; False where the C library has no `mallopt` (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))

