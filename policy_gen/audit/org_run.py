"""``audit --organization``: every member account and region, bounded, resumable.

The work is small tasks on one pool of ``--concurrency`` threads, shared by all
accounts and regions, so the number of AWS calls in flight is bounded however large
the organization:

* account (priority 2): assume the role, ask the account for its regions;
* list (priority 1): the encrypted log groups of one account-region;
* key (priority 0): one key, read once for the whole run, however many log groups of
  however many account-regions use it.

Lower numbers go first, so started account-regions finish (and are recorded in
``--state``) before new accounts are opened: the open work stays small and an
interrupt loses little. Only the main thread changes the run's records; the workers
just call AWS and hand back what they found.

A key is read with its owner's role when the owner is an account being audited
(only the owner's role may read it: ``audit-role/member-role.yaml`` grants its own
keys), otherwise with the role of the account whose log group uses it.

Ctrl-C (or SIGTERM) stops opening new work, finishes the account-regions already
started and records them, then exits 130; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from policy_gen.audit.aws import (
    AuditOptions,
    AwsFacts,
    check_options,
    default_region,
    error_line,
)
from policy_gen.audit.fixes import suggest_fixes
from policy_gen.audit.judge import audit
from policy_gen.audit.model import KeyFacts, LogGroup, kms_arn_parts
from policy_gen.audit.org_aws import AssumeRoleFailed, MemberAccounts, Organization, region_opt_in
from policy_gen.audit.org_model import (
    AUDITED,
    INCOMPLETE,
    REGION_FAILED,
    REGION_NOT_ENABLED,
    ROLE_NOT_ASSUMABLE,
    AccountPlan,
    KeyId,
    OrgReport,
    UnitResult,
    key_id,
)
from policy_gen.audit.org_scope import (
    OrgOptions,
    check_org_options,
    fingerprint,
    plan_regions,
    select_accounts,
)
from policy_gen.audit.org_state import StateFile, without_policy
from policy_gen.audit.progress import Progress
from policy_gen.partitions import partition_for_region
from sam_project.errors import UserError

ACCOUNT, LIST, KEY = 2, 1, 0  # task priorities: lower first
POLL_S = 0.5  # the main thread wakes this often (progress lines, Ctrl-C)
SHOW_INTERVAL_S = 0.1

Unit = tuple[str, str]  # (account, region)


class _Pool:
    """``workers`` daemon threads taking the lowest-priority task first.

    Daemon threads: a second Ctrl-C must end the process without waiting for calls
    in flight. ``outstanding`` is the main thread's count of tasks not yet reported.
    """

    def __init__(self, workers: int) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, Any, Callable[[], Any]]] = []
        self._order = itertools.count()
        self._closed = False
        self._results: queue.Queue[tuple[Any, bool, Any]] = queue.Queue()
        self.outstanding = 0
        for n in range(workers):
            threading.Thread(target=self._work, name=f"audit-{n}", daemon=True).start()

    def submit(self, priority: int, tag: Any, task: Callable[[], Any]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (priority, next(self._order), tag, task))
            self._cond.notify()
        self.outstanding += 1

    def drop(self, priorities: set[int]) -> int:
        """Forget queued (not started) tasks of these priorities; how many."""
        with self._cond:
            kept = [item for item in self._heap if item[0] not in priorities]
            dropped = len(self._heap) - len(kept)
            heapq.heapify(kept)
            self._heap = kept
        self.outstanding -= dropped
        return dropped

    def results(self) -> Iterator[tuple[Any, bool, Any] | None]:
        """Each finished task as (tag, ok, value or exception); None every POLL_S."""
        while self.outstanding:
            try:
                item = self._results.get(timeout=POLL_S)
            except queue.Empty:
                yield None
                continue
            self.outstanding -= 1
            yield item

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                _, _, tag, task = heapq.heappop(self._heap)
            try:
                self._results.put((tag, True, task()))
            except BaseException as error:  # handed to the main thread, which decides
                self._results.put((tag, False, error))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class _Listed:
    """An account-region whose log groups are listed, waiting for their keys."""

    groups: list[LogGroup]
    unencrypted: int
    waiting: set[KeyId] = field(default_factory=set)


@dataclass
class _Setup:
    plan: AccountPlan


@dataclass
class _Failed:
    message: str


class OrgAudit:
    """One organization audit: its options, its AWS edges, its records, its pool."""

    def __init__(
        self,
        audit_options: AuditOptions,
        options: OrgOptions,
        session: boto3.session.Session,
        progress: Progress,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.options = check_org_options(options)
        single = audit_options
        if options.all_regions:
            single = dataclasses.replace(audit_options, regions=())
        # With no region named, check_options takes the caller's default region.
        self.audit_options = check_options(single, session)
        regions = self.audit_options.regions
        # Organizations, STS and DescribeRegions are asked in the caller's default
        # region when it has one (it is enabled there), else in the first region named.
        self.home = regions[0] if options.all_regions else (default_region(session) or regions[0])
        self.partition = partition_for_region(self.home)
        for region in regions:
            if partition_for_region(region) is not self.partition:
                raise UserError(
                    f"invalid --region {region}: not in partition {self.partition.name} of "
                    f"{self.home}; one audit covers one partition"
                )
        self.requested: tuple[str, ...] | None = None if options.all_regions else regions
        self.progress = progress
        self.caller = AwsFacts(session, self.audit_options.endpoint_url)
        self.clock = clock
        self.units: dict[Unit, UnitResult] = {}
        self.plans: dict[str, AccountPlan] = {}
        self.keys: dict[KeyId, KeyFacts] = {}
        self.key_waiters: dict[KeyId, list[Unit]] = {}
        self.listed: dict[Unit, _Listed] = {}
        self.state: StateFile | None = None
        self.stop_requested = False
        self.draining = False
        self._shown = 0.0

    # --- the run ----------------------------------------------------------------------

    def run(self) -> OrgReport:
        caller_account, caller_arn = self.caller.identity(self.home)
        organization = Organization(self.caller, self.home)
        org_id, _ = organization.describe()
        accounts = select_accounts(organization.accounts(), self.options)
        self.members = MemberAccounts(
            self.caller,
            self.home,
            self.partition,
            self.options,
            caller_arn,
            self.audit_options.endpoint_url,
            self.clock,
        )
        self.accounts = accounts
        self.in_scope = {account.id for account in accounts if account.active}
        from_state = self._load_state(caller_account)
        self.pool = _Pool(self.audit_options.concurrency)
        try:
            with _stop_requests(self._request_stop):
                self._start()
                self._loop()
            if self.draining:
                raise KeyboardInterrupt  # the CLI says "interrupted" and exits 130
        finally:
            self.pool.close()
            self.progress.finish()
            if self.state is not None:
                self.state.close()
        calls = self.caller.calls + self.members.calls()
        return OrgReport(
            organization=org_id,
            caller=caller_arn,
            role_name=self.options.role_name,
            regions=("all",) if self.requested is None else self.requested,
            accounts=accounts,
            plans={a: p for a, p in self.plans.items() if a in self.in_scope},
            units=sorted(
                (unit for unit in self.units.values() if unit.account in self.in_scope),
                key=lambda unit: (unit.account, unit.region),
            ),
            calls=calls,
            from_state=from_state,
            suggest_fix=self.audit_options.suggest_fix,
        )

    def _load_state(self, caller_account: str) -> int:
        """Take the finished work recorded in ``--state``; how many account-regions.
        Failures are not taken: they are tried again (an expired session, a role
        deployed since, a throttled region)."""
        if self.options.state is None:
            return 0
        audit_fingerprint = fingerprint(
            self.options, self.audit_options.regions, self.audit_options.prefix, caller_account
        )
        self.state = StateFile.open(self.options.state, audit_fingerprint)
        self.plans = {a: p for a, p in self.state.plans.items() if p.status not in INCOMPLETE}
        self.units = {
            unit_id: unit
            for unit_id, unit in self.state.units.items()
            if unit.status not in INCOMPLETE and unit.account in self.plans
        }
        return sum(1 for unit in self.units.values() if unit.account in self.in_scope)

    def _start(self) -> None:
        for account in self.accounts:
            if not account.active:
                continue
            plan = self.plans.get(account.id)
            if plan is None:
                self.pool.submit(ACCOUNT, ("account", account.id), self._task_account(account.id))
            else:
                self._open(plan)
        self._show()

    def _loop(self) -> None:
        # What each kind of task hands back, and who records it.
        handlers: dict[str, Callable[[Any, Any], None]] = {
            "account": lambda _, setup: self._on_plan(setup),
            "list": self._on_listed,
            "key": self._on_key,
        }
        for item in self.pool.results():
            if self.stop_requested and not self.draining:
                self._drain()
            if item is not None:
                (kind, subject), ok, value = item
                if not ok:
                    raise value  # a bug, not an AWS answer: those are values
                handlers[kind](subject, value)
            self._show()
        self._show(final=True)

    def _request_stop(self) -> None:
        """First Ctrl-C/SIGTERM: only a flag, read between two records by the main
        loop, so no record is ever half made. Second: stop at once."""
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True

    def _drain(self) -> None:
        """Finish what is started, open nothing new."""
        self.draining = True
        dropped = self.pool.drop({ACCOUNT, LIST})
        self.progress.note(
            f"interrupted: finishing the account-regions already started, {dropped} "
            "queued task(s) dropped (Ctrl-C again to stop at once)"
        )

    # --- tasks (run in the pool's threads: AWS calls only, no shared records) ----------

    def _task_account(self, account: str) -> Callable[[], _Setup]:
        def task() -> _Setup:
            try:
                facts = self.members.facts(account)
            except AssumeRoleFailed as error:
                return _Setup(AccountPlan(account, ROLE_NOT_ASSUMABLE, str(error)))
            try:
                answer = region_opt_in(facts, self.home)
            except (ClientError, BotoCoreError) as error:
                line = error_line("DescribeRegions", error)
                return _Setup(plan_regions(account, self.partition, self.requested, None, line))
            return _Setup(plan_regions(account, self.partition, self.requested, answer))

        return task

    def _task_list(self, unit: Unit) -> Callable[[], _Listed | _Failed]:
        account, region = unit

        def task() -> _Listed | _Failed:
            try:
                facts = self.members.facts(account)
                groups, unencrypted = facts.log_groups(region, account, self.audit_options.prefix)
            except (AssumeRoleFailed, UserError) as error:
                return _Failed(str(error))
            return _Listed(groups, unencrypted)

        return task

    def _task_key(self, group: LogGroup) -> Callable[[], KeyFacts]:
        parts = kms_arn_parts(group.kms_key_id)
        owner = parts[2] if parts else group.account
        readers = [owner] if owner in self.in_scope else []
        readers += [group.account] if group.account not in readers else []

        def task() -> KeyFacts:
            failures = []
            for account in readers:
                try:
                    facts = self.members.facts(account)
                except AssumeRoleFailed as error:
                    failures.append(f"{account}: {error}")
                    continue
                return facts.key_facts(group.kms_key_id, group.region)
            return KeyFacts(
                group.kms_key_id,
                errors=(f"DescribeKey: no role to read the key with ({'; '.join(failures)})",),
            )

        return task

    # --- records (main thread only) ---------------------------------------------------

    def _on_plan(self, setup: _Setup) -> None:
        self.plans[setup.plan.account] = setup.plan
        if self.state is not None:
            self.state.record_plan(setup.plan)
        self._open(setup.plan)
        self._release_if_done(setup.plan.account)

    def _open(self, plan: AccountPlan) -> None:
        """Record the regions the account has not enabled, queue the others."""
        for region, why in plan.not_enabled:
            if (plan.account, region) not in self.units:
                self._finish(UnitResult(plan.account, region, REGION_NOT_ENABLED, why))
        if self.draining:
            return
        for region in plan.regions:
            unit = (plan.account, region)
            if unit not in self.units:
                self.pool.submit(LIST, ("list", unit), self._task_list(unit))

    def _on_listed(self, unit: Unit, listed: _Listed | _Failed) -> None:
        if isinstance(listed, _Failed):
            self._finish(UnitResult(unit[0], unit[1], REGION_FAILED, listed.message))
            return
        self.listed[unit] = listed
        for group in listed.groups:
            wanted = key_id(group)
            if wanted in self.keys or wanted in listed.waiting:
                continue
            listed.waiting.add(wanted)
            if wanted not in self.key_waiters:
                self.key_waiters[wanted] = []
                self.pool.submit(KEY, ("key", wanted), self._task_key(group))
            self.key_waiters[wanted].append(unit)
        if not listed.waiting:
            self._judge(unit)

    def _on_key(self, wanted: KeyId, facts: KeyFacts) -> None:
        self.keys[wanted] = facts
        for unit in self.key_waiters.pop(wanted, []):
            listed = self.listed[unit]
            listed.waiting.discard(wanted)
            if not listed.waiting:
                self._judge(unit)
        parts = kms_arn_parts(wanted) if isinstance(wanted, str) else None
        if parts:  # read with its owner's role, maybe after the owner was done
            self._release_if_done(parts[2])

    def _judge(self, unit: Unit) -> None:
        listed = self.listed.pop(unit)
        keys = {group.kms_key_id: self.keys[key_id(group)] for group in listed.groups}
        results = audit(listed.groups, keys)
        fixes = suggest_fixes(results)  # needs the policies, which are not kept after
        kept = tuple(dataclasses.replace(r, key=without_policy(r.key)) for r in results)
        self._finish(
            UnitResult(unit[0], unit[1], AUDITED, "", kept, listed.unencrypted, tuple(fixes))
        )

    def _finish(self, unit: UnitResult) -> None:
        if self.state is not None:
            self.state.record_unit(unit)
        self.units[(unit.account, unit.region)] = unit
        self._release_if_done(unit.account)

    def _release_if_done(self, account: str) -> None:
        """Every region of the account finished: its clients can go (memory stays
        bounded by the accounts open at a time, not the organization's size)."""
        plan = self.plans.get(account)
        if plan is None or account not in self.in_scope:
            return
        if all((account, r) in self.units for r in plan.regions):
            self.members.release(account)

    def _show(self, final: bool = False) -> None:
        """Progress, at most every SHOW_INTERVAL_S: counting is O(accounts x regions)."""
        now = time.monotonic()
        if self.progress.mode == "off" or (not final and now - self._shown < SHOW_INTERVAL_S):
            return
        self._shown = now
        done_accounts = 0
        units_total = 0
        unknown = False
        for account in self.accounts:
            plan = self.plans.get(account.id)
            if not account.active or (plan is not None and plan.status != AUDITED):
                done_accounts += 1
                continue
            if plan is None:
                unknown = unknown or self.requested is None
                units_total += len(self.requested or ())
                continue
            regions = [*plan.regions, *(region for region, _ in plan.not_enabled)]
            units_total += len(regions)
            if all((account.id, region) in self.units for region in regions):
                done_accounts += 1
        units_done = sum(1 for unit in self.units if unit[0] in self.in_scope)
        self.progress.accounts(
            (done_accounts, len(self.accounts)), (units_done, units_total), unknown
        )


@contextlib.contextmanager
def _stop_requests(request_stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM (a CI timeout, a container stop) call ``request_stop``
    while the run lasts. Only the main thread can install handlers: elsewhere (a
    library caller's thread) the run simply cannot be interrupted this way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        request_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def collect_org(
    audit_options: AuditOptions,
    options: OrgOptions,
    session: boto3.session.Session,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
) -> OrgReport:
    """The whole organization audit, returned as data (the bench uses it)."""
    progress = progress or Progress(sys.stderr, "off")
    return OrgAudit(audit_options, options, session, progress, clock).run()
