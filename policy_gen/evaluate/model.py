"""The parsed key policy and the request: the data every other module shares.

A policy is parsed once into these frozen types (``parse``), then evaluated any
number of times (``engine``); nothing here decides anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from policy_gen.actions import Atom
from sam_project.errors import UserError

Decision = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]

VARIABLES_VERSION = "2012-10-17"
KNOWN_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
DOCUMENT_ELEMENTS = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
ACCOUNT = re.compile(r"[0-9]{12}")
# Unique ids IAM leaves in a policy when the named user or role was deleted.
UNIQUE_ID = re.compile(r"A(IDA|ROA)[A-Z0-9]{12,}")


class PolicyError(UserError):
    """The policy document cannot be read at all (not an object, no statement list)."""


@dataclass(frozen=True)
class Request:
    """One KMS call: who, which action, with which context, on which key."""

    principal: str  # service principal name, an AWS ARN, a 12-digit account id, or "*"
    action: str  # e.g. "kms:GenerateDataKey"
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    resource: str | None = None  # the key ARN when known


@dataclass(frozen=True)
class Result:
    """The decision and the statements (Sid or index) that made it."""

    decision: Decision
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """Something KMS would reject or silently ignore; ``statement`` is None for the document.

    Most problems are errors the validator reports as ``MALFORMED``; a few are legal but
    risky or ambiguous, and carry their own code with severity ``warning``.
    """

    statement: str | None
    message: str
    severity: Literal["error", "warning"] = "error"
    code: str = "MALFORMED"


@dataclass(frozen=True)
class PrincipalSpec:
    """A parsed Principal or NotPrincipal: the entries that can match, by type."""

    negated: bool
    everyone: bool
    entries: tuple[tuple[str, str], ...]  # (type as in PRINCIPAL_TYPES, value)


@dataclass(frozen=True)
class Operator:
    """One base condition operator: how a request value compares with a policy value.

    ``compare`` gets the policy value already resolved (variables substituted when
    allowed) as pattern components: six for ARN operators, one for the others.
    """

    name: str
    compare: Callable[[tuple[tuple[Atom, ...], ...], str], bool]
    negated: bool = False
    variables: bool = False
    arn: bool = False


@dataclass(frozen=True)
class Condition:
    """One (operator, key) pair of a Condition block with its policy values."""

    operator: str  # as written
    qualifier: Literal["ForAnyValue", "ForAllValues"] | None
    base: Operator | None  # None: unknown operator, or Null
    is_null: bool
    if_exists: bool
    key: str  # as written; compared case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True)
class Named:
    """What a statement names, as written, whether or not it parses.

    Evaluation ignores a broken statement, but the validator still reports what one
    names (an action that is no KMS action, another region's Logs principal) and tries
    the requests its entries suggest, so the parser keeps the string entries of these
    elements, in the document's order, duplicates included.
    """

    actions: tuple[str, ...] | None = None  # the Action strings; None: no Action element
    not_actions: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # the Service entries of Principal, then of NotPrincipal
    condition_keys: tuple[str, ...] = ()  # the keys of every operator block


@dataclass(frozen=True)
class Statement:
    """One statement as parsed; ``valid`` is False when its structure is broken."""

    index: int
    sid: str | None
    effect: str | None
    principal: PrincipalSpec | None
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    valid: bool
    problems: tuple[Problem, ...]
    named: Named = Named()

    @property
    def id(self) -> str:
        """The Sid, or the 0-based index when there is none."""
        return self.sid or str(self.index)


@dataclass(frozen=True)
class Policy:
    """A parsed key policy: every statement kept, every problem recorded."""

    version: str | None
    statements: tuple[Statement, ...]
    problems: tuple[Problem, ...]
    # Every run of 12 or more digits in the document's names and values, broken parts
    # included: the account ids it mentions, wherever it mentions them.
    digit_runs: frozenset[str] = frozenset()

    @property
    def variables_enabled(self) -> bool:
        """Policy variables exist only in the 2012-10-17 policy language."""
        return self.version == VARIABLES_VERSION

    def mentions(self, account: str) -> bool:
        """Whether the 12-digit ``account`` appears anywhere in the document."""
        return any(account in run for run in self.digit_runs)


# A policy value as wildcard atoms; an ARN value as its six parts; a request context
# by lower-cased key.
Pattern = tuple[Atom, ...]
Components = tuple[Pattern, ...]
Context = dict[str, tuple[str, ...]]
