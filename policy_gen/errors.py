"""The one exception type that means "the user gave us something we cannot use".

The CLI turns it into a one-line message on stderr and exit code 2, never a
traceback. Anything else escaping is a bug in policy_gen.
"""


class InputError(Exception):
    """Bad input: the message names the bad value and what was expected."""

    def __init__(self, message: str) -> None:
        # Keep messages on one line: scripts grep them, people read them.
        super().__init__(" ".join(message.split()))
