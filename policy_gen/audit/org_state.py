"""``--state FILE``: the record that lets an interrupted organization audit resume.

An audit of a thousand accounts takes a while, and a laptop lid, an expired SSO
session or a Ctrl-C should not cost the part already done. The state file records
each finished (account, region) with its verdicts, so a second run with the same
options audits only what is missing and still prints one complete report.

Format: JSON lines. The first line is a header naming the audit (caller account,
role, regions, accounts, prefix: see ``org_scope.fingerprint``); a run with other
options refuses the file instead of mixing two audits. Each further line is one
account's plan (its regions) or one finished account-region. A record counts only
once its line is complete: it is appended with a single write, flushed and fsynced
as soon as the account-region is finished, so the cost per record stays constant
however large the file grows (rewriting the whole file per record would make a
large organization quadratic). A line cut short by a crash is dropped on the next
start, and the file is then rewritten whole with ``sam_project.files.
write_atomically``, as is a new file: the file on disk is always the old whole or
the new whole, plus complete records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from policy_gen.audit.model import Fix, GroupResult, Issue, KeyFacts, LogGroup
from policy_gen.audit.org_model import AccountPlan, UnitResult
from policy_gen.validate import Finding
from sam_project.errors import UserError
from sam_project.files import write_atomically

HEADER = "policy_gen_audit_state"
VERSION = 1


# --- records <-> JSON ----------------------------------------------------------------


def _key_json(facts: KeyFacts) -> dict[str, Any]:
    # The policy itself is not kept: the verdicts and fixes made from it are.
    return {
        "ref": facts.ref,
        "arn": facts.arn,
        "region": facts.region,
        "state": facts.state,
        "spec": facts.spec,
        "usage": facts.usage,
        "deletion_date": facts.deletion_date,
        "not_found": facts.not_found,
        "errors": list(facts.errors),
    }


def _key_from(data: Mapping[str, Any]) -> KeyFacts:
    return KeyFacts(**{**data, "errors": tuple(data["errors"])})


def without_policy(facts: KeyFacts) -> KeyFacts:
    """The key as a finished account-region keeps it (and the state file stores it)."""
    return _key_from(_key_json(facts))


def unit_to_json(unit: UnitResult) -> dict[str, Any]:
    keys = {result.key.ref: _key_json(result.key) for result in unit.results}
    return {
        "account": unit.account,
        "region": unit.region,
        "status": unit.status,
        "message": unit.message,
        "unencrypted": unit.unencrypted,
        "keys": keys,
        "results": [
            {
                "group": [r.group.name, r.group.region, r.group.account, r.group.arn],
                "key": r.key.ref,
                "issues": [[i.code, i.message] for i in r.issues],
                "findings": [f.as_json() for f in r.findings],
                "denied": list(r.denied_actions),
            }
            for r in unit.results
        ],
        "fixes": [
            {
                "key": fix.key,
                "region": fix.region,
                "log_groups": list(fix.log_groups),
                "statement": fix.statement,
                "advice": list(fix.advice),
            }
            for fix in unit.fixes
        ],
    }


def unit_from_json(data: Mapping[str, Any]) -> UnitResult:
    keys = {ref: _key_from(value) for ref, value in data["keys"].items()}
    results = []
    for item in data["results"]:
        name, region, account, arn = item["group"]
        key = keys[item["key"]]
        results.append(
            GroupResult(
                LogGroup(name, region, account, arn, key.ref),
                key,
                tuple(Issue(code, message) for code, message in item["issues"]),
                tuple(Finding(**finding) for finding in item["findings"]),
                tuple(item["denied"]),
            )
        )
    fixes = tuple(
        Fix(
            fix["key"],
            fix["region"],
            tuple(fix["log_groups"]),
            fix["statement"],
            tuple(fix["advice"]),
        )
        for fix in data["fixes"]
    )
    return UnitResult(
        str(data["account"]),
        str(data["region"]),
        str(data["status"]),
        str(data["message"]),
        tuple(results),
        int(data["unencrypted"]),
        fixes,
    )


def plan_to_json(plan: AccountPlan) -> dict[str, Any]:
    return {
        "account": plan.account,
        "status": plan.status,
        "message": plan.message,
        "regions": list(plan.regions),
        "not_enabled": [list(pair) for pair in plan.not_enabled],
    }


def plan_from_json(data: Mapping[str, Any]) -> AccountPlan:
    return AccountPlan(
        str(data["account"]),
        str(data["status"]),
        str(data["message"]),
        tuple(str(region) for region in data["regions"]),
        tuple((str(region), str(why)) for region, why in data["not_enabled"]),
    )


# --- the file --------------------------------------------------------------------------


class StateFile:
    """The finished account plans and account-regions of one audit, and the file
    that keeps them. Written from one thread only (the run's main thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.plans: dict[str, AccountPlan] = {}
        self.units: dict[tuple[str, str], UnitResult] = {}
        self._stream: IO[str] | None = None

    @classmethod
    def open(cls, path: Path, audit: Mapping[str, Any]) -> StateFile:
        """Load ``path`` (refusing one written for another audit) or start it."""
        state = cls(path)
        header = json.dumps({HEADER: VERSION, "audit": dict(audit)}, sort_keys=True)
        if path.is_dir():
            raise UserError(f"invalid --state {path}: it is a directory, expected a file")
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read --state {path}: {error}") from None
        if text is None:
            state._rewrite([header])
        else:
            complete = state._load(text, audit)
            if complete is not None:  # a record cut short by a crash was dropped
                state._rewrite(complete)
        state._stream = path.open("a", encoding="utf-8")
        return state

    def _load(self, text: str, audit: Mapping[str, Any]) -> list[str] | None:
        """Read the records; the complete lines when a torn last line was dropped."""
        lines = text.split("\n")
        torn = lines.pop()  # "" when the file ends with a complete line
        if not lines:
            raise UserError(
                f"invalid --state {self.path}: not an audit state file (no header line); "
                "give a new file name"
            )
        try:
            header = _parse(lines[0])
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get(HEADER) != VERSION:
            raise UserError(
                f"invalid --state {self.path}: not a policy_gen audit state file (version "
                f"{VERSION}); give a new file name"
            )
        recorded = header.get("audit")
        if recorded != dict(audit):
            differ = sorted(
                name
                for name in set(audit) | set(recorded if isinstance(recorded, dict) else {})
                if not isinstance(recorded, dict) or recorded.get(name) != audit.get(name)
            )
            raise UserError(
                f"invalid --state {self.path}: it records an audit with other options "
                f"({', '.join(differ)} differ); resume with the same options or use a new file"
            )
        for number, line in enumerate(lines[1:], start=2):
            try:
                self._add(_parse(line))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise UserError(
                    f"invalid --state {self.path}: line {number} is not an audit record "
                    f"({type(error).__name__}); delete the file to start over"
                ) from None
        return lines if torn else None

    def _add(self, record: Any) -> None:
        if "plan" in record:
            plan = plan_from_json(record["plan"])
            self.plans[plan.account] = plan
        else:
            unit = unit_from_json(record["unit"])
            self.units[(unit.account, unit.region)] = unit

    def _rewrite(self, lines: list[str]) -> None:
        try:
            write_atomically(self.path, "".join(line + "\n" for line in lines))
        except OSError as error:
            raise UserError(f"cannot write --state {self.path}: {error}") from None

    def record_plan(self, plan: AccountPlan) -> None:
        self.plans[plan.account] = plan
        self._append({"plan": plan_to_json(plan)})

    def record_unit(self, unit: UnitResult) -> None:
        self.units[(unit.account, unit.region)] = unit
        self._append({"unit": unit_to_json(unit)})

    def _append(self, record: dict[str, Any]) -> None:
        assert self._stream is not None, "StateFile.open() first"
        # One write of one line, then flush and fsync: the record is on disk before
        # the run goes on, and a crash can only cut the last line (dropped on load).
        self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
