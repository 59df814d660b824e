"""``python -m deployment demo|rehearse|regions`` (``python -m localapi`` hands these over).

Each command owns its flags (``python -m deployment rehearse --help``); its
usage lines and one-line errors name the command it was reached as.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sam_project.errors import OneLineArgumentParser

PROG = "python -m deployment"
COMMANDS = {
    "demo": "the main job: render + validate the key policy, build, rehearse, serve",
    "rehearse": "deploy rehearsal on the embedded AWS emulator, then the post-deploy checks",
    "regions": "rehearse or deploy one stack per region",
}


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Dispatch to the command's own CLI; its modules load only when it runs."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "demo":
        from deployment import demo  # noqa: PLC0415 -- --help stays fast

        return demo.main(rest, prog=f"{prog} demo")
    if command == "rehearse":
        from deployment import rehearsal_cli  # noqa: PLC0415 -- boto3/moto only when asked

        return rehearsal_cli.main(rest, prog=f"{prog} rehearse")
    if command == "regions":
        from deployment import regions  # noqa: PLC0415

        return regions.main(rest, prog=f"{prog} regions")
    parser = OneLineArgumentParser(
        prog=prog, description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    for name, text in COMMANDS.items():
        sub.add_parser(name, help=f"{text} (see `{name} --help`)", add_help=False)
    parser.parse_args(argv)  # --help, or a one-line error for an unknown command
    return 2


if __name__ == "__main__":
    sys.exit(main())
