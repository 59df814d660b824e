"""A function's ``Arn`` is built from its name, so names derived from it are recognised.

CDK and hand-written templates name a function's log group from its ARN:
``!Select [6, !Split [":", !GetAtt Fn.Arn]]`` is the function's name (the unqualified ARN
is ``arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME``). check-template must see that
group as the function's own, and prove its key with the same stand-in as ``${Fn}``.
"""

from __future__ import annotations

from policy_gen.template import Resolver, parse_template_text

from .test_check_template_resolve import FUNCTION, arn, codes, group, key_with, template

FROM_ARN = group('!Join ["", ["/aws/lambda/", !Select [6, !Split [":", !GetAtt Fn.Arn]]]]')
OTHER = FUNCTION.replace("Fn:", "Other:")


def test_a_group_named_from_the_function_arn_is_the_functions_own() -> None:
    text = template(key_with(arn("/aws/lambda/${Fn}")), FUNCTION, FROM_ARN)
    assert codes(text) == [("LOGGROUP_NAME_UNKNOWN", "note", "Group")]


def test_a_policy_naming_another_functions_group_still_fails() -> None:
    text = template(key_with(arn("/aws/lambda/${Other}")), FUNCTION, OTHER, FROM_ARN)
    assert ("LOGS_DENIED", "error", "Key") in codes(text)


def test_a_literal_function_name_gives_the_literal_arn() -> None:
    named = FUNCTION.replace("CodeUri: .}", "CodeUri: ., FunctionName: orders}")
    parsed = parse_template_text(template(named, OTHER))
    resolver = Resolver.for_template(
        parsed, {}, region="eu-west-1", account="111122223333", partition="aws"
    )
    arn_of_fn = resolver.resolve({"Fn::GetAtt": ["Fn", "Arn"]})
    assert arn_of_fn == "arn:aws:lambda:eu-west-1:111122223333:function:orders"
    assert resolver.resolve({"Fn::GetAtt": ["Other", "Arn"]}).expression == "GetAtt Other.Arn"
