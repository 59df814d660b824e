"""Child Python processes with bounded memory, for probes that could exhaust it.

A probe that feeds a tool something endless or explosive (``/dev/zero``, a 64 GiB
sparse file, an alias bomb) runs in a child whose address space is limited first: if
the guard it tests regresses, the child fails with a MemoryError and the test fails,
instead of the machine running out of memory. The limit is set in the child itself
(``preexec_fn`` is unsafe when the test process runs threads).
"""

from __future__ import annotations

import sys

MEMORY_LIMIT = 1 << 30  # a normal policy_gen run needs well under half of this


def python_command(code: str, memory: int = MEMORY_LIMIT) -> list[str]:
    """``python -c`` running ``code`` once the address space is limited to ``memory``."""
    limit = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
    return [sys.executable, "-c", limit + code]
