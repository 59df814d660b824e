"""The counts the README states are the ones the code has.

The README names how many post-deploy checks the rehearsal runs and how many templates
the check-template corpus holds; a check or fixture added without the README changing
(or the other way round) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from deployment.checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def stated(pattern: str) -> set[int]:
    found = {int(count) for count in re.findall(pattern, README)}
    assert found, f"the README no longer states {pattern!r}"
    return found


def test_the_rehearsal_check_count() -> None:
    assert stated(r"with (\d+) post-deploy checks") == {len(CHECKS)}
    assert stated(r"\| deploy rehearsal \| (\d+) checks PASS") == {len(CHECKS)}


def test_the_check_template_corpus_size() -> None:
    corpus = ROOT / "tests" / "fixtures" / "check_template_corpus"
    templates = list(corpus.glob("*.expected.json"))
    assert stated(r"check_template_corpus/` holds (\d+) templates") == {len(templates)}
