"""What counts as a template, and what a quoted pattern matches (the pure parts of
:mod:`policy_gen.template_paths`; the walks themselves run through the CLI in
test_check_many.py)."""

from __future__ import annotations

from typing import Any

import pytest

from policy_gen.template_paths import _matches, looks_like_template, mentions_template_keys


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"AWSTemplateFormatVersion": "2010-09-09"}, True),
        ({"Transform": "AWS::Serverless-2016-10-31", "Resources": {}}, True),
        ({"Resources": {"Fn": {"Type": "AWS::Lambda::Function"}}}, True),
        ({"Resources": {"Fn": {"Properties": {}}, "B": {"Type": "AWS::S3::Bucket"}}}, True),
        ({"Resources": {"limits": {"cpu": "1"}}}, False),  # a Kubernetes-like block
        ({"Resources": ["a"]}, False),
        ({"resources": {"Resources": {"A": {"Type": "X"}}}}, False),  # Serverless Framework
        ({"name": "app", "version": "1.0.0"}, False),
        (["Resources"], False),
        ("Resources", False),
        (None, False),
    ],
)
def test_a_template_is_recognised_by_its_anatomy(document: Any, expected: bool) -> None:
    assert looks_like_template(document) is expected


def test_the_cheap_first_look_only_needs_a_top_level_key_name() -> None:
    assert mentions_template_keys('{"AWSTemplateFormatVersion": "2010-09-09"}')
    assert mentions_template_keys("Transform: AWS::Serverless-2016-10-31\n")
    assert not mentions_template_keys('{"name": "app", "dependencies": {}}')


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("a.yaml", "*.yaml", True),
        ("sub/a.yaml", "*.yaml", False),  # * stays within one directory
        ("sub/a.yaml", "**/*.yaml", True),
        ("a.yaml", "**/*.yaml", True),  # ** is zero or more directories
        ("x/y/z/a.yml", "x/**/a.y*ml", True),
        ("x/y/z/a.yml", "x/**/?.yml", True),
        ("x/y/z/a.yml", "x/**/z/*.yaml", False),
        (".hidden/a.yaml", "**/*.yaml", False),  # as the shell: * skips hidden names
        (".hidden/a.yaml", ".hidden/*.yaml", True),
        ("a/.b.yaml", "a/*.yaml", False),
        ("stacks/Api.template.json", "stacks/[A-Z]*.template.json", True),
        ("stacks/api.template.json", "stacks/[A-Z]*.template.json", False),  # case matters
    ],
)
def test_pattern_components_match_as_in_the_shell(path: str, pattern: str, expected: bool) -> None:
    assert _matches(tuple(path.split("/")), tuple(pattern.split("/"))) is expected
