"""``python -m localapi``: serve and build live in ``localapi.cli``; ``demo``, ``rehearse`` and
``regions`` are handed over, untouched, to the ``deployment`` package."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from localapi import cli


def main(argv: Sequence[str] | None = None) -> int:
    """Hand ``demo``/``rehearse``/``regions`` to ``deployment``; the rest is ``localapi.cli``'s."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["demo"], ["rehearse"], ["regions"]):
        from deployment.__main__ import main as deployment_main  # noqa: PLC0415 -- only when asked

        return deployment_main(argv, prog="python -m localapi")
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
