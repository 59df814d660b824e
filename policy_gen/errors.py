"""policy_gen's name for the kit's one user-error type (see :mod:`sam_project.errors`)."""

from sam_project.errors import OneLineArgumentParser, UserError

InputError = UserError

__all__ = ["InputError", "OneLineArgumentParser", "UserError"]
