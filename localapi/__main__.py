"""``python -m localapi``: serve and build live in ``localapi.cli``; ``demo``, ``rehearse`` and
``regions`` are handed over, untouched, to the ``deployment`` package."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from localapi import cli


def main(argv: Sequence[str] | None = None) -> int:
    """Hand ``demo``/``rehearse``/``regions`` to ``deployment``; the rest is ``localapi.cli``'s."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["regions"]:  # multi-region rehearse/deploy (deployment.regions)
        from deployment import regions  # noqa: PLC0415

        return regions.main(argv[1:])
    if argv[:1] == ["demo"]:  # the README's main command (deployment.demo)
        from deployment import demo  # noqa: PLC0415

        return demo.main(argv[1:])
    if argv[:1] == ["rehearse"]:  # its own CLI, owned by deployment.rehearsal_cli
        from deployment import rehearsal_cli  # noqa: PLC0415 -- boto3/moto imports only when asked

        return rehearsal_cli.main(argv[1:])
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
