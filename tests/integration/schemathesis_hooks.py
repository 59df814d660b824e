"""schemathesis hooks for this API (loaded with ``SCHEMATHESIS_HOOKS=<this file>``).

One check of our own, on top of every built-in one: no answer may show a stack trace or a
path inside the function or the server (``-c all`` runs it with the others).
"""

from __future__ import annotations

from typing import Any

import schemathesis

# What a stack trace or a path inside the function, the server or a dependency looks like.
LEAK_MARKERS = ("Traceback", 'File "', "/work/", "/var/task", "site-packages")


def leaked_marker(text: str) -> str | None:
    """The first leak marker found in ``text``, if any."""
    return next((marker for marker in LEAK_MARKERS if marker in text), None)


@schemathesis.check
def no_internal_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Fail when a body reveals a stack trace or an internal path."""
    marker = leaked_marker(response.content.decode("utf-8", "replace"))
    if marker is not None:
        raise AssertionError(f"the answer reveals {marker!r}")
    return None
