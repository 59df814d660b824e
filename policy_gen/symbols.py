"""Values only a deployment knows, and the stand-ins that let a proof go on without them.

Why: a template names its log groups and writes its key policy's ARNs with values that
CloudFormation alone resolves (``!Sub /aws/lambda/${Fn}`` where ``Fn`` has a generated
name, a parameter without a default, ``{{resolve:ssm:...}}``). Such templates deploy and
work. The name and the policy ARN are built from the *same* value, so the key policy can
still be proven: each unknown value becomes one stand-in token, the same token wherever
the same expression appears, and the simulation runs on the tokens.

Why it stays sound: a token equals only itself, and a template cannot spell it in advance
(each run salts its tokens with a random value; output shows ``<expression>`` instead). A policy that names a *different*
unknown value (another function's name, another parameter) or a literal group gets a
different string and is still denied. A pattern must hold for *every* deployed value, so
the matcher reads an issued token as one opaque unit (:func:`opaque_units`): only a ``*``
matches it, never a literal character of the token's spelling nor ``?`` (one character of
a value of unknown length); ``/aws/lambda/#*`` therefore matches no stand-in. Tokens use only characters valid in a log-group name (CloudWatch
Logs API reference, CreateLogGroup: ``[\\.\\-_/#A-Za-z0-9]+``) and no ARN separator, so
they survive name checks and ARN matching unchanged.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

# A CloudFormation dynamic reference (CloudFormation user guide, "Get values stored in
# other services using dynamic references"): resolved when the stack is deployed.
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:[^{}]*\}\}")
TOKEN = re.compile(r"#[A-Za-z0-9-]*\.[0-9a-f]{10}#")
# Every token this process has issued: only these are opaque to the matcher, so a policy
# or request that happens to contain token-like text is matched as ordinary characters.
_ISSUED: set[str] = set()


@dataclass(frozen=True)
class Opaque:
    """One issued stand-in token, read as a single unit by the wildcard matcher."""

    token: str


def opaque_units(units: Sequence[object]) -> list[object] | None:
    """``units`` (characters and wildcard atoms) with each issued token's characters
    grouped into one :class:`Opaque`; None when there is none (the common case)."""
    if not _ISSUED:
        return None
    text = "".join(u if isinstance(u, str) and len(u) == 1 else "\x00" for u in units)
    spans = [m.span() for m in TOKEN.finditer(text) if m.group(0) in _ISSUED]
    if not spans:
        return None
    out: list[object] = []
    position = 0
    for start, end in spans:
        out.extend(units[position:start])
        out.append(Opaque(text[start:end]))
        position = end
    out.extend(units[position:])
    return out


@dataclass(frozen=True)
class Unresolved:
    """A value only CloudFormation knows (a resource attribute, an import...).

    ``parameter`` names a template parameter that has no value here (no default, no
    override): passing it with ``--parameter-overrides`` makes the value known.
    ``at_deploy`` marks values CloudFormation fetches at deploy time (dynamic references,
    SSM parameter types), which no override can supply to this check.
    """

    expression: str
    parameter: str | None = None
    at_deploy: bool = False

    def __str__(self) -> str:
        return f"<{self.expression}>"


@dataclass
class Symbols:
    """The stand-in token of each unknown value met while resolving one template."""

    _by_token: dict[str, Unresolved] = field(default_factory=dict)
    _salt: str = field(default_factory=lambda: secrets.token_hex(8))

    def stand_in(self, value: Unresolved) -> str:
        """The token for ``value``: one per distinct expression, stable across runs."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", value.expression).strip("-")[:40]
        salted = f"{self._salt}\x00{value.expression}".encode()
        digest = hashlib.sha256(salted).hexdigest()[:10]
        token = f"#{slug}.{digest}#"
        self._by_token.setdefault(token, value)
        _ISSUED.add(token)
        return token

    def dynamic_references(self, text: str) -> str:
        """``text`` with each ``{{resolve:...}}`` replaced by its token."""
        return DYNAMIC_REFERENCE.sub(
            lambda match: self.stand_in(Unresolved(match.group(0), at_deploy=True)), text
        )

    def unknowns_in(self, text: object) -> list[Unresolved]:
        """The unknown values a resolved string was built from, in order, once each."""
        if not isinstance(text, str):
            return []
        found = [self._by_token[t] for t in TOKEN.findall(text) if t in self._by_token]
        return list(dict.fromkeys(found))

    def display(self, text: str) -> str:
        """``text`` as people read it: each token shown as ``<expression>``."""
        return TOKEN.sub(
            lambda m: (
                str(self._by_token[m.group(0)]) if m.group(0) in self._by_token else m.group(0)
            ),
            text,
        )
