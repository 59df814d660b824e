"""Probes from an adversarial review of check-template (issue 16): each one was a way to
make a broken key policy pass, a false error, or a crash, before its fix."""

from __future__ import annotations

import pytest

from policy_gen.actions import pattern_atoms, wildcard_match

from .test_check_template_resolve import FUNCTION, arn, codes, group, key_with, template


def like(*patterns: str) -> str:
    return key_with(*(arn(p) for p in patterns)).replace("ArnEquals", "ArnLike")


@pytest.mark.parametrize(
    "pattern",
    [
        "/aws/lambda/#*",  # only names that start with '#': no function name does
        "/aws/lambda/*#",
        "/aws/lambda/*.*",  # function names have no '.'
        "/aws/lambda/*-*",  # the stand-in's slug has '-' only when the expression does
        "/aws/lambda/" + "?" * len("#Ref-Fn.0123456789#"),  # the stand-in length only
    ],
)
def test_a_wildcard_that_matches_only_the_stand_in_spelling_is_denied(pattern: str) -> None:
    text = template(like(pattern), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    assert ("LOGS_DENIED", "error", "Key") in codes(text)


@pytest.mark.parametrize("pattern", ["/aws/lambda/*", "/aws/*/*", "*"])
def test_a_wildcard_that_matches_every_value_still_passes(pattern: str) -> None:
    text = template(like(pattern), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    assert ("LOGS_DENIED", "error", "Key") not in codes(text)


def test_token_like_text_that_was_never_issued_is_matched_as_characters() -> None:
    # validate/audit see real names; only tokens this process issued are opaque.
    name = "#Ref-X.0123456789#"
    assert wildcard_match(pattern_atoms("#*"), name)
    assert wildcard_match(pattern_atoms("?" * len(name)), name)
