"""The one exception type meaning "the user gave us something we cannot use", and the
argument parser that reports usage mistakes the same way.

Every CLI of the kit turns :class:`UserError` into one line on stderr and exit code 2,
never a traceback; anything else escaping is a bug. Subclasses say *which* kind of bad
input it was (a policy that does not parse, a missing interpreter) where callers need to
tell them apart, but all of them are caught as this one type.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class UserError(Exception):
    """Bad input: the message names the bad value and what was expected."""

    def __init__(self, message: str) -> None:
        # Keep messages on one line: scripts grep them, people read them.
        super().__init__(" ".join(str(message).split()))


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit code 2 (no usage
    dump): the same contract as :class:`UserError`, for every CLI of the project."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)
