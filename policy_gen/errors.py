"""The one exception type that means "the user gave us something we cannot use",
and the argument parser that reports usage mistakes the same way.

The CLI turns it into a one-line message on stderr and exit code 2, never a
traceback. Anything else escaping is a bug in policy_gen.
"""

import argparse
import sys
from typing import NoReturn


class InputError(Exception):
    """Bad input: the message names the bad value and what was expected."""

    def __init__(self, message: str) -> None:
        # Keep messages on one line: scripts grep them, people read them.
        super().__init__(" ".join(message.split()))


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2 (no usage
    dump): the same contract as InputError, for every CLI of the project."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)
