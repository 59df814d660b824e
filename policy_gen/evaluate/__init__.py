"""How AWS KMS decides one request against a key policy alone, as a pure function.

The validator proves a rendered policy by asking this package questions, so anything
that is not faithful here becomes a false proof there. Where the documents leave a
choice open, the choice is written down next to the code that makes it, and each
module's docstring lists the rules it implements.

The rules are the IAM user guide's (https://docs.aws.amazon.com/IAM/latest/UserGuide/):
"Policy evaluation logic" (reference_policies_evaluation-logic.html), the policy
elements "Principal" (reference_policies_elements_principal.html), "NotPrincipal"
(reference_policies_elements_notprincipal.html), "Resource"
(reference_policies_elements_resource.html), "Condition"
(reference_policies_elements_condition.html) and "Sid"
(reference_policies_elements_sid.html), "Condition operators"
(reference_policies_elements_condition_operators.html), "Conditions with multiple
context keys or values"
(reference_policies_condition-logic-multiple-context-keys-or-values.html),
"Single-valued vs. multivalued context keys"
(reference_policies_condition-single-vs-multi-valued-context-keys.html) and "IAM
policy elements: Variables and tags" (reference_policies_variables.html).

* ``model``: the parsed policy and the request (frozen data).
* ``values``: JSON scalars as text, policy variables, ARNs part by part.
* ``operators``: the condition operators and how their names are read.
* ``parse``: a JSON document into the model, with every problem recorded.
* ``principals``: whether Principal/NotPrincipal names a caller.
* ``context``: the request context KMS evaluates conditions against.
* ``engine``: ``evaluate()``, the decision.

The names below are the package's API.
"""

from policy_gen.evaluate.context import ENCRYPTION_CONTEXT_KEYS, ENCRYPTION_CONTEXT_PREFIX
from policy_gen.evaluate.engine import UNKNOWN_KEY_ARN, UNKNOWN_PART, evaluate
from policy_gen.evaluate.model import (
    ACCOUNT,
    DOCUMENT_ELEMENTS,
    KNOWN_VERSIONS,
    PRINCIPAL_TYPES,
    STATEMENT_ELEMENTS,
    UNIQUE_ID,
    VARIABLES_VERSION,
    Components,
    Condition,
    Context,
    Decision,
    Named,
    Operator,
    Pattern,
    Policy,
    PolicyError,
    PrincipalSpec,
    Problem,
    Request,
    Result,
    Statement,
)
from policy_gen.evaluate.operators import IF_EXISTS, NULL, OPERATORS, QUALIFIERS, Compare
from policy_gen.evaluate.parse import (
    condition_candidate_values,
    parse_policy,
    policy_problems,
    statement_id,
)
from policy_gen.evaluate.principals import (
    CLI_ARN,
    SERVICE_NAME,
    parse_principal,
    statement_principal_matches,
)
from policy_gen.evaluate.values import Resolver

__all__ = [
    "ACCOUNT",
    "CLI_ARN",
    "DOCUMENT_ELEMENTS",
    "ENCRYPTION_CONTEXT_KEYS",
    "ENCRYPTION_CONTEXT_PREFIX",
    "IF_EXISTS",
    "KNOWN_VERSIONS",
    "NULL",
    "OPERATORS",
    "PRINCIPAL_TYPES",
    "QUALIFIERS",
    "SERVICE_NAME",
    "STATEMENT_ELEMENTS",
    "UNIQUE_ID",
    "UNKNOWN_KEY_ARN",
    "UNKNOWN_PART",
    "VARIABLES_VERSION",
    "Compare",
    "Components",
    "Condition",
    "Context",
    "Decision",
    "Named",
    "Operator",
    "Pattern",
    "Policy",
    "PolicyError",
    "PrincipalSpec",
    "Problem",
    "Request",
    "Resolver",
    "Result",
    "Statement",
    "condition_candidate_values",
    "evaluate",
    "parse_policy",
    "parse_principal",
    "policy_problems",
    "statement_id",
    "statement_principal_matches",
]
