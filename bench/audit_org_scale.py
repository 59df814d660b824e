"""Scale of ``policy_gen audit --organization``: up to 1,000 accounts x 4 regions x 10
log groups on the moto emulator.

Why: the organization audit must stay polite and linear however large the
organization: the same API calls per account-region at 10 accounts as at 1,000, each
key read once (GetKeyPolicy calls == distinct keys, also for a key that log groups of
every account use), and a wall time that grows with the number of account-regions,
not faster.

What it does: starts its own moto server (127.0.0.1, stopped by its PID), creates an
organization and grows it in steps (10 -> 100 -> 1,000 member accounts by default).
Every member gets the audit role (Organizations' CreateAccount RoleName) and, in each
of 4 regions, a key of its own and 10 encrypted log groups: 9 on its key, whose
policy grants Logs the ``/bench/ok/*`` family (7 of them; the 2 others are named
outside it: LOGS_DENIED), 1 on the region's key of a "shared" account whose policy
grants Logs ``/bench/shared`` in any account (read once for the whole organization,
with the shared account's role). One key per account-region, not more: moto takes
about 50 ms of CPU per CreateKey, the largest part of seeding. At each size it runs the real audit
(``policy_gen.audit.org_run.collect_org``) with the default concurrency and counts
every API call with botocore hooks. At the largest size it also runs with ``--state``
and then resumes the finished run (nothing left to audit).

    .venv/bin/python bench/audit_org_scale.py          # writes bench/results/audit_org_scale.md
    .venv/bin/python bench/audit_org_scale.py --quick  # smoke: 2 then 4 accounts, no file

Exit status 1 when GetKeyPolicy was called other than once per distinct key, or the
statuses are not the expected ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audit_scale import moto_server  # noqa: E402  (its own server, stopped by PID)
from policy_gen.audit import org_aws  # noqa: E402
from policy_gen.audit.aws import DEFAULT_CONCURRENCY, AuditOptions  # noqa: E402
from policy_gen.audit.org_model import OrgReport  # noqa: E402
from policy_gen.audit.org_run import collect_org  # noqa: E402
from policy_gen.audit.org_scope import OrgOptions  # noqa: E402
from policy_gen.partitions import get_partition  # noqa: E402
from policy_gen.render import render_policy  # noqa: E402
from sam_project.files import write_atomically  # noqa: E402

MANAGEMENT = "123456789012"  # moto's default account: the caller's
ROLE = "PolicyGenLogsKmsAudit"
REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2")
OK_GROUPS, DENIED_GROUPS = 7, 2  # + 1 on the shared key = 10 per account-region
RESULTS = ROOT / "bench" / "results" / "audit_org_scale.md"
SEED_WORKERS = 8
AWS = get_partition("aws")


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]  # member accounts (the shared account comes on top)


FULL = Plan(sizes=(10, 100, 1_000))
QUICK = Plan(sizes=(2, 4))


@dataclass(frozen=True)
class Row:
    accounts: int  # audited: the members plus the shared account
    units: int  # account-regions audited
    log_groups: int
    distinct_keys: int
    calls: dict[str, int]
    wall_s: float
    cpu_s: float
    main_cpu_s: float  # the main thread's: judging the log groups, the records
    memory_mb: float  # resident memory the audit added at its peak
    statuses: dict[str, int]

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def per_unit(self, value: float) -> float:
        return value / self.units


# --- the organization --------------------------------------------------------------


def _session(**credentials: str) -> boto3.session.Session:
    return boto3.session.Session(
        region_name=REGIONS[0],
        aws_access_key_id=credentials.get("AccessKeyId", "bench"),
        aws_secret_access_key=credentials.get("SecretAccessKey", "bench"),
        aws_session_token=credentials.get("SessionToken"),
    )


class Seeder:
    """Creates accounts and their keys and log groups through moto's HTTP API."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.caller = _session()
        self.organizations = self.caller.client("organizations", endpoint_url=endpoint)
        self.sts = self.caller.client("sts", endpoint_url=endpoint)
        self.organizations.create_organization(FeatureSet="ALL")
        self.shared = self._account("shared")
        self.shared_keys: dict[str, str] = {}
        clients = self._clients(self.shared)
        for region in REGIONS:
            policy = self._policy(region, self.shared, "/bench/shared", any_account=True)
            kms = clients[("kms", region)]
            self.shared_keys[region] = str(
                kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
            )
        self.members = 0

    def _account(self, name: str) -> str:
        status = self.organizations.create_account(
            AccountName=name, Email=f"{name}@example.com", RoleName=ROLE
        )
        return str(status["CreateAccountStatus"]["AccountId"])

    def _clients(self, account: str) -> dict[tuple[str, str], Any]:
        creds = self.sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed"
        )["Credentials"]
        session = _session(**creds)
        return {
            (service, region): session.client(  # type: ignore[call-overload]
                service, region_name=region, endpoint_url=self.endpoint
            )
            for service in ("kms", "logs")
            for region in REGIONS
        }

    @staticmethod
    def _policy(region: str, account: str, family: str, any_account: bool = False) -> Any:
        policy = render_policy(AWS, region, account, ["/placeholder"])
        owner = "*" if any_account else account
        policy["Statement"][1]["Condition"] = {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{owner}:log-group:{family}"
            }
        }
        return policy

    def add_member(self, index: int) -> None:
        account = self._account(f"m{index:04d}")
        clients = self._clients(account)
        for region in REGIONS:
            kms, logs = clients[("kms", region)], clients[("logs", region)]
            policy = self._policy(region, account, "/bench/ok/*")
            key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
            for n in range(OK_GROUPS):
                logs.create_log_group(logGroupName=f"/bench/ok/g{n}", kmsKeyId=key)
            for n in range(DENIED_GROUPS):
                logs.create_log_group(logGroupName=f"/bench/denied/g{n}", kmsKeyId=key)
            logs.create_log_group(logGroupName="/bench/shared", kmsKeyId=self.shared_keys[region])

    def grow(self, members: int) -> float:
        """Add members up to ``members``; seconds taken."""
        started = time.perf_counter()
        with ThreadPoolExecutor(SEED_WORKERS) as pool:
            list(pool.map(self.add_member, range(self.members, members)))
        self.members = members
        return time.perf_counter() - started


# --- auditing ----------------------------------------------------------------------------


def _rss_mb() -> float:
    """This process's resident memory now (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@contextmanager
def peak_memory() -> Iterator[list[float]]:
    """The most resident memory the block added over what the process held before
    (sampled every 0.2 s): what the audit itself holds at its peak."""
    before = _rss_mb()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _rss_mb() - before)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], _rss_mb() - before)


def audit(
    endpoint: str, state: Path | None = None
) -> tuple[OrgReport, Counter[str], float, float, float, float]:
    """One organization audit; every API call counted by operation (the caller's and
    every member account's), its wall time, its CPU time (the whole process, and the
    main thread's: judging and records; the pool's threads make the AWS clients and
    calls), the memory it added at its peak."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:
        with lock:
            calls[model.name] += 1

    real_member_session = org_aws.member_session

    def member_session(account: str, *args: Any) -> boto3.session.Session:
        session = real_member_session(account, *args)
        session.events.register("before-parameter-build", count)
        return session

    session = _session()
    session.events.register("before-parameter-build", count)
    options = AuditOptions(regions=REGIONS, endpoint_url=endpoint)
    org = OrgOptions(role_name=ROLE, exclude_accounts=(MANAGEMENT,), state=state)
    org_aws.member_session = member_session  # type: ignore[assignment]
    try:
        with peak_memory() as peak:
            wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
            report = collect_org(options, org, session)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            main = time.thread_time() - main
    finally:
        org_aws.member_session = real_member_session  # type: ignore[assignment]
    return report, calls, wall, cpu, main, peak[0]


def row_of(
    report: OrgReport, calls: Counter[str], wall: float, cpu: float, main: float, memory: float
) -> Row:
    audited = [a for a in report.accounts if report.account_status(a) == "AUDITED"]
    return Row(
        accounts=len(audited),
        units=sum(1 for u in report.units if u.status == "AUDITED"),
        log_groups=len(report.results()),
        distinct_keys=report.key_count(),
        calls=dict(sorted(calls.items())),
        wall_s=wall,
        cpu_s=cpu,
        main_cpu_s=main,
        memory_mb=memory,
        statuses={status: n for status, n in report.counts().items() if n},
    )


# --- report ------------------------------------------------------------------------------


def markdown(
    rows: Sequence[Row],
    seeding: Sequence[tuple[int, float]],
    state_run: tuple[Row, Row, int] | None,
) -> str:
    ops = sorted({op for row in rows for op in row.calls})
    lines = [
        "# `policy_gen audit --organization` at scale",
        "",
        f"Generated by `bench/audit_org_scale.py` on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), moto server on "
        f"127.0.0.1 (HTTP, one process, load average {os.getloadavg()[0]:.1f} when written). "
        f"Default concurrency ({DEFAULT_CONCURRENCY} tasks in flight across all accounts and "
        f"regions). Regions: {', '.join(REGIONS)}. One warm-up audit (not counted) first: "
        "botocore loads its service models once per process.",
        "",
        f"Each member account: in each region {OK_GROUPS + DENIED_GROUPS} log groups on its own "
        f"key, whose policy grants Logs the family of {OK_GROUPS} of them ({DENIED_GROUPS} "
        "LOGS_DENIED), 1 on the region's key of a shared account (a key of another account: read once for the whole "
        "organization, with its owner's role). The shared account is audited too (no log "
        "groups); the management account is excluded (`--exclude-accounts`).",
        "",
        "## API calls and wall time",
        "",
        "| accounts | account-regions | log groups | distinct keys | "
        + " | ".join(ops)
        + " | calls per account-region | wall s | ms per account-region | CPU s (auditor) "
        "| of which main thread | peak memory added, MB |",
        "|" + "---:|" * (10 + len(ops)),
    ]
    for row in rows:
        lines.append(
            f"| {row.accounts:,} | {row.units:,} | {row.log_groups:,} | {row.distinct_keys:,} | "
            + " | ".join(f"{row.calls.get(op, 0):,}" for op in ops)
            + f" | {row.per_unit(row.total_calls):.2f} | {row.wall_s:.1f} "
            f"| {row.per_unit(row.wall_s) * 1000:.1f} | {row.cpu_s:.1f} | {row.main_cpu_s:.1f} "
            f"| {row.memory_mb:.0f} |"
        )
    first, last = rows[0], rows[-1]
    lines += [
        "",
        f"Statuses at {last.accounts:,} accounts: "
        + ", ".join(f"{n:,} {status}" for status, n in last.statuses.items())
        + ".",
        "",
        f"Growth from {first.accounts:,} to {last.accounts:,} accounts "
        f"(x{last.units / first.units:.0f} account-regions): API calls x"
        f"{last.total_calls / first.total_calls:.1f}, calls per account-region "
        f"{first.per_unit(first.total_calls):.2f} -> {last.per_unit(last.total_calls):.2f}; "
        f"wall time x{last.wall_s / first.wall_s:.1f}, per account-region "
        f"{first.per_unit(first.wall_s) * 1000:.1f} -> {last.per_unit(last.wall_s) * 1000:.1f} ms "
        "(1.0x per account-region = linear). GetKeyPolicy = distinct keys at every size.",
        "",
        f"Where the auditor's CPU goes at {last.accounts:,} accounts: {last.cpu_s:.0f} s in all, "
        f"{last.main_cpu_s:.0f} s in the main thread (judging {last.log_groups:,} log groups "
        f"and {last.distinct_keys:,} key policies, the records), "
        f"{last.cpu_s - last.main_cpu_s:.0f} s in the pool's threads "
        f"({(last.cpu_s - last.main_cpu_s) * 1000 / last.accounts:.0f} ms per account: "
        "botocore makes each account's clients (its own credentials: STS, EC2 for the "
        "regions, Logs and KMS per region) and signs and parses each call). The wall time "
        f"is {last.cpu_s / last.wall_s:.0%} CPU of one core: the auditor's own CPU "
        "(one Python process) and moto's bound it here, not the number of calls.",
        "",
        "Seeding (moto's HTTP API, "
        f"{SEED_WORKERS} accounts in parallel): "
        + ", ".join(
            f"up to {n:,} accounts (+{n - previous:,}) in {s:.0f} s"
            for (n, s), previous in zip(seeding, [0, *(n for n, _ in seeding)], strict=False)
        )
        + ".",
    ]
    if state_run is not None:
        with_state, resumed, size = state_run
        lines += [
            "",
            "## `--state` at the largest size",
            "",
            f"The same audit with `--state`: {with_state.wall_s:.1f} s wall "
            f"({with_state.wall_s / last.wall_s:.2f}x without), a {size / 1e6:.1f} MB state "
            f"file (one fsynced line per account-region). Run again, every account-region "
            f"is taken from the state: {resumed.wall_s:.1f} s, API calls "
            + ", ".join(f"{op} {n}" for op, n in resumed.calls.items())
            + f", the same {resumed.log_groups:,} log groups in the report.",
        ]
    return "\n".join(lines) + "\n"


def check(row: Row) -> list[str]:
    problems = []
    if row.calls.get("GetKeyPolicy") != row.distinct_keys:
        problems.append(f"GetKeyPolicy {row.calls.get('GetKeyPolicy')} != keys {row.distinct_keys}")
    members = row.accounts - 1
    expected = {
        "OK": members * len(REGIONS) * (OK_GROUPS + 1),
        "LOGS_DENIED": members * len(REGIONS) * DENIED_GROUPS,
    }
    if row.statuses != expected:
        problems.append(f"statuses {row.statuses} != {expected}")
    if row.distinct_keys != members * len(REGIONS) + len(REGIONS):
        problems.append(f"{row.distinct_keys} distinct keys")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 then 4 accounts; no file")
    parser.add_argument("--out", type=Path, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out = args.out if args.out else (None if args.quick else RESULTS)
    rows: list[Row] = []
    seeding: list[tuple[int, float]] = []
    problems: list[str] = []
    state_run = None
    os.environ.pop("AWS_PROFILE", None)
    with moto_server() as endpoint:
        seeder = Seeder(endpoint)
        for size in plan.sizes:
            seconds = seeder.grow(size)
            seeding.append((size, seconds))
            if not rows:
                audit(endpoint)  # warm-up: botocore loads its service models once
            row = row_of(*audit(endpoint))
            rows.append(row)
            problems += [f"{size} accounts: {p}" for p in check(row)]
            print(
                f"{row.accounts:>5} accounts, {row.units:>5} account-regions, {row.log_groups:>6} "
                f"log groups, {row.distinct_keys:>5} keys: {row.total_calls:,} calls "
                f"({row.per_unit(row.total_calls):.2f} per account-region), wall {row.wall_s:.1f} s "
                f"({row.per_unit(row.wall_s) * 1000:.1f} ms per account-region), CPU "
                f"{row.cpu_s:.1f} s, +{row.memory_mb:.0f} MB; GetKeyPolicy "
                f"{row.calls.get('GetKeyPolicy')} "
                f"(seeded in {seconds:.0f} s)",
                flush=True,
            )
        with tempfile.TemporaryDirectory(prefix="audit-org-state-") as work:
            state = Path(work) / "audit.state"
            with_state = row_of(*audit(endpoint, state))
            size = state.stat().st_size
            resumed = row_of(*audit(endpoint, state))
        state_run = (with_state, resumed, size)
        if resumed.log_groups != rows[-1].log_groups or "DescribeLogGroups" in resumed.calls:
            problems.append(f"resume from a finished state: {resumed.calls}")
        print(
            f"with --state: {with_state.wall_s:.1f} s, {size:,} bytes; resumed: "
            f"{resumed.wall_s:.1f} s, calls {resumed.calls}",
            flush=True,
        )
    text = markdown(rows, seeding, state_run)
    if out is not None:
        write_atomically(out, text)
        print(f"written to {out}")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print("OK: GetKeyPolicy called once per distinct key at every size; statuses as seeded")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
