"""Whether a Principal or NotPrincipal element names the caller.

* ``"*"`` and ``{"AWS": "*"}`` match everyone, anonymous callers and service
  principals included. An account (``"111122223333"`` or its ``:root`` ARN) matches
  every IAM and STS principal of that account; a 12-digit id stands for the root ARN
  *in the key's partition*, or in any partition while the key ARN is unknown (a
  12-digit *caller* is that account's root, in the key's partition or ``aws``).
* A role ARN also matches that role's assumed-role sessions (compared by role name,
  the only part of a role a session ARN keeps). ARNs compare case-sensitively ("the
  user name part of the ARN is case sensitive"); ``Service`` names compare
  case-insensitively because they are DNS names; ``Federated`` and ``CanonicalUser``
  compare exactly.
* ``NotPrincipal`` follows the NotPrincipal page's warning that AWS "might validate
  the account first": an IAM/STS caller is excluded only when its account, its role
  (for a session) and the caller itself are all named, as in the page's examples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from policy_gen.evaluate.model import ACCOUNT, PrincipalSpec, Statement
from policy_gen.evaluate.parse import parse_statement
from policy_gen.evaluate.values import Arn, parse_arn
from sam_project.errors import UserError

# What the command line accepts as a request principal (``parse_principal``).
SERVICE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
CLI_ARN = re.compile(
    r"arn:(?P<partition>aws(-[a-z]+)*):(iam::[0-9]{12}:[^\s*?]+"
    r"|sts::[0-9]{12}:(assumed-role/[^\s*?/]+/[^\s*?]+|federated-user/[^\s*?]+))"
)


@dataclass(frozen=True)
class Caller:
    """The request principal, normalised: an account id becomes its root ARN."""

    kind: Literal["anonymous", "arn", "name"]
    text: str
    arn: Arn | None = None


def caller_of(principal: str, partition: str | None) -> Caller:
    """Classify the request principal; a bare account id is its root user."""
    if principal == "*":
        return Caller("anonymous", "*")
    if ACCOUNT.fullmatch(principal):
        principal = f"arn:{partition or 'aws'}:iam::{principal}:root"
    arn = parse_arn(principal)
    if arn is not None:
        return Caller("arn", principal, arn)
    return Caller("name", principal)


def role_name(arn: Arn) -> str | None:
    """The role a principal ARN acts as: ``role/path/R`` or ``assumed-role/R/session``."""
    if arn.service == "iam" and arn.resource.startswith("role/"):
        return arn.resource.rsplit("/", 1)[-1]
    if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
        parts = arn.resource.split("/")
        return parts[1] if len(parts) >= 3 else None
    return None


def _account_entry_matches(account: str, partition: str | None, caller: Arn) -> bool:
    """An account principal contains every IAM and STS principal of that account."""
    return (
        caller.service in ("iam", "sts")
        and caller.account == account
        and (partition is None or caller.partition == partition)
    )


def _aws_entry_matches(entry: str, caller: Caller, key_partition: str | None) -> bool:
    """Account entries contain their principals; role entries their sessions."""
    target = parse_arn(entry)
    if caller.arn is None or (target is None and not ACCOUNT.fullmatch(entry)):
        return entry == caller.text  # e.g. a deleted role's unique id: only itself
    if target is None:
        return _account_entry_matches(entry, key_partition, caller.arn)
    if target.service == "iam" and target.resource == "root":
        return _account_entry_matches(target.account, target.partition, caller.arn)
    if entry == caller.text:
        return True
    role = role_name(target) if target.service == "iam" else None
    return (
        role is not None
        and caller.arn.service == "sts"
        and (caller.arn.partition, caller.arn.account) == (target.partition, target.account)
        and role_name(caller.arn) == role
    )


def _entry_matches(kind: str, entry: str, caller: Caller, key_partition: str | None) -> bool:
    """Only "*" covers an anonymous caller, so no typed entry ever does."""
    if caller.kind == "anonymous":
        return False
    if kind == "AWS":
        return _aws_entry_matches(entry, caller, key_partition)
    if kind == "Service":
        return caller.kind == "name" and entry.lower() == caller.text.lower()
    return entry == caller.text


def _not_principal_excludes(spec: PrincipalSpec, caller: Caller, key_partition: str | None) -> bool:
    """Whether NotPrincipal names every identity AWS checks for this caller.

    The NotPrincipal page: AWS "might validate the account first and then the user",
    and for an assumed-role user "the account first, then the role, and then the
    assumed-role user"; its examples exclude only Bob with [Bob, account] and only one
    session with [session, role, account]. So an IAM/STS caller escapes the statement
    only when its account, its role (for a session) and the caller itself are all
    named; an account entry alone excludes only the account's root. Other callers
    (service principals) are excluded by an entry naming them.
    """
    arn = caller.arn
    if caller.kind != "arn" or arn is None or arn.service not in ("iam", "sts"):
        return any(
            _entry_matches(kind, entry, caller, key_partition) for kind, entry in spec.entries
        )
    aws = [entry for kind, entry in spec.entries if kind == "AWS"]
    root = caller_of(f"arn:{arn.partition}:iam::{arn.account}:root", key_partition)
    if not any(_aws_entry_matches(entry, root, key_partition) for entry in aws):
        return False
    if arn.service == "iam" and arn.resource == "root":
        return True
    if caller.text in aws:
        role = role_name(arn)
        if arn.service != "sts" or role is None:
            return True
        role_arn = caller_of(f"arn:{arn.partition}:iam::{arn.account}:role/{role}", key_partition)
        return any(_names_role(entry, role_arn) for entry in aws)
    return arn.service == "iam" and any(_names_role(entry, caller) for entry in aws)


def _names_role(entry: str, role: Caller) -> bool:
    """A role entry names this role (a path in either ARN does not change the role)."""
    target = parse_arn(entry)
    return (
        role.arn is not None
        and target is not None
        and target.service == "iam"
        and target.resource.startswith("role/")
        and role.arn.resource.startswith("role/")
        and (target.partition, target.account) == (role.arn.partition, role.arn.account)
        and role_name(target) == role_name(role.arn)
    )


def principal_matches(spec: PrincipalSpec, caller: Caller, key_partition: str | None) -> bool:
    """Principal names the caller, or NotPrincipal does not name all of it."""
    if spec.negated:
        return not spec.everyone and not _not_principal_excludes(spec, caller, key_partition)
    return spec.everyone or any(
        _entry_matches(kind, entry, caller, key_partition) for kind, entry in spec.entries
    )


def statement_principal_matches(
    statement: Statement | Mapping[str, object], principal: str
) -> bool:
    """Whether the statement's Principal/NotPrincipal covers ``principal``.

    Only the principal is tested (not action, resource or conditions). A 12-digit
    policy entry matches its account in any partition here, since no key is given.
    """
    parsed = statement if isinstance(statement, Statement) else parse_statement(statement, 0)
    if parsed.principal is None:
        return False
    return principal_matches(parsed.principal, caller_of(principal, None), None)


def parse_principal(text: str) -> str:
    """Validate a principal given on the command line and return it.

    Accepted: a service principal name (``logs.eu-west-1.amazonaws.com``), an IAM ARN
    (``arn:aws:iam::111122223333:role/R``), an STS session ARN (assumed-role or
    federated-user), a 12-digit account id, or ``*`` for an anonymous caller.
    """
    if text == "*" or ACCOUNT.fullmatch(text) or CLI_ARN.fullmatch(text):
        return text
    if not text.startswith("arn:") and SERVICE_NAME.fullmatch(text):
        return text
    raise UserError(
        f"invalid principal {text!r}: expected a service name such as "
        "logs.us-east-1.amazonaws.com, an ARN such as arn:aws:iam::111122223333:role/Name "
        "or arn:aws:sts::111122223333:assumed-role/Name/session, a 12-digit account id, or '*'"
    )
