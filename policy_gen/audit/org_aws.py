"""The organization audit's I/O with AWS: Organizations, STS and each account's regions.

The caller's own credentials make only these calls: ``GetCallerIdentity``,
Organizations ``DescribeOrganization`` and ``ListAccounts`` (from the management
account or a delegated administrator), and ``sts:AssumeRole`` into each member
account. Everything else (``DescribeRegions``, ``DescribeLogGroups``,
``DescribeKey``, ``GetKeyPolicy``) is read with the member account's assumed role,
through the single-account edge (``AwsFacts``), one per account.

Credentials of a member account are botocore ``RefreshableCredentials`` whose
refresh is another ``AssumeRole``: botocore renews them before they expire (15
minutes ahead, blocking from 10 minutes ahead), so a run longer than the role's
session duration goes on without a failed call.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    RefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError

from policy_gen.audit.aws import AwsFacts, error_code, error_line
from policy_gen.audit.org_model import Account
from policy_gen.audit.org_scope import OrgOptions, account_from_api, role_arn, session_name
from policy_gen.partitions import Partition
from sam_project.errors import UserError

# Organizations error codes that mean "this caller cannot list the organization".
_NOT_IN_ORG = "AWSOrganizationsNotInUseException"
_ORG_HINT = (
    "run from the organization's management account or a delegated administrator, with "
    "organizations:ListAccounts and organizations:DescribeOrganization "
    "(audit-role/caller-policy.yaml)"
)


class AssumeRoleFailed(Exception):
    """The member account's role could not be assumed (the message is one line)."""


class _Fixed(CredentialProvider):
    """Hands botocore the refreshable credentials of one assumed role."""

    METHOD = "assume-role"
    CANONICAL_NAME = "policy-gen-audit"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def member_session(
    account: str, credentials: RefreshableCredentials, loader: Any, region: str
) -> boto3.session.Session:
    """A boto3 session for one member account (tests replace this to watch the calls).

    Its own botocore session, so its credentials are its own and refresh themselves,
    but the service models are loaded once for all accounts (the shared ``loader``):
    parsing them again per account would cost more than the account's API calls.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", loader)
    core.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
    return boto3.session.Session(botocore_session=core, region_name=region)


@functools.cache
def _shared_loader() -> Any:
    """botocore's loader of service models, one per process: it caches what it parsed,
    so every account (and every audit a process runs) parses each model once."""
    return botocore.session.Session().get_component("data_loader")


class Organization:
    """The caller's view of the organization: who is calling, and its accounts."""

    def __init__(self, facts: AwsFacts, region: str) -> None:
        self._facts = facts
        self._region = region

    def describe(self) -> tuple[str, str]:
        """The organization's id and management account (DescribeOrganization)."""
        try:
            data = self._facts.client("organizations", self._region).describe_organization()
        except (ClientError, BotoCoreError) as error:
            raise _org_error("DescribeOrganization", error) from None
        org = data["Organization"]
        return str(org["Id"]), str(org.get("MasterAccountId") or "")

    def accounts(self) -> list[Account]:
        """Every account of the organization (ListAccounts, all pages)."""
        client = self._facts.client("organizations", self._region)
        accounts: list[Account] = []
        try:
            for page in client.get_paginator("list_accounts").paginate():
                accounts.extend(account_from_api(item) for item in page.get("Accounts", []))
        except (ClientError, BotoCoreError) as error:
            raise _org_error("ListAccounts", error) from None
        return accounts


def _org_error(operation: str, error: Exception) -> UserError:
    if error_code(error) == _NOT_IN_ORG:
        return UserError(
            f"the caller's account is not in an AWS Organization ({error_line(operation, error)})"
        )
    return UserError(f"cannot list the organization ({error_line(operation, error)}): {_ORG_HINT}")


class MemberAccounts:
    """One assumed-role ``AwsFacts`` per member account, made on first use, shared by
    every thread; each account's role is assumed once (its refreshes aside), and a
    failure is remembered, not retried per region."""

    def __init__(
        self,
        caller: AwsFacts,
        region: str,
        partition: Partition,
        options: OrgOptions,
        caller_arn: str,
        endpoint_url: str | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._caller = caller
        self._region = region
        self._partition = partition
        self._options = options
        self._session_name = session_name(caller_arn)
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._loader = _shared_loader()
        self._lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._done: dict[str, AwsFacts | AssumeRoleFailed] = {}

    def facts(self, account: str) -> AwsFacts:
        """The account's reader; AssumeRoleFailed when its role cannot be assumed."""
        with self._lock:
            lock = self._account_locks.setdefault(account, threading.Lock())
        with lock:
            done = self._done.get(account)
            if done is None:
                try:
                    done = self._open(account)
                except AssumeRoleFailed as error:
                    done = error
                self._done[account] = done
        if isinstance(done, AssumeRoleFailed):
            raise done
        return done

    def _open(self, account: str) -> AwsFacts:
        arn = role_arn(self._partition, account, self._options.role_name)
        first = self._assume(arn)  # raises AssumeRoleFailed: reported, never retried

        def refresh() -> dict[str, str]:
            try:
                return self._assume(arn)
            except AssumeRoleFailed as error:
                # Raised into the call that needed fresh credentials, which reports it.
                raise ClientError(
                    {"Error": {"Code": "AssumeRoleFailed", "Message": str(error)}}, "AssumeRole"
                ) from None

        options: dict[str, Any] = {"time_fetcher": self._clock} if self._clock else {}
        credentials = RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.fromisoformat(first["expiry_time"]),
            refresh,
            _Fixed.METHOD,
            **options,
        )
        session = member_session(account, credentials, self._loader, self._region)
        return AwsFacts(session, self._endpoint_url)

    def _assume(self, arn: str) -> dict[str, str]:
        kwargs = {"RoleArn": arn, "RoleSessionName": self._session_name}
        if self._options.external_id is not None:
            kwargs["ExternalId"] = self._options.external_id
        try:
            answer = self._caller.client("sts", self._region).assume_role(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise AssumeRoleFailed(error_line("AssumeRole", error)) from None
        credentials = answer["Credentials"]
        expiration = credentials["Expiration"]
        return {
            "access_key": str(credentials["AccessKeyId"]),
            "secret_key": str(credentials["SecretAccessKey"]),
            "token": str(credentials["SessionToken"]),
            "expiry_time": expiration.isoformat()
            if isinstance(expiration, datetime)
            else str(expiration),
        }

    def release(self, account: str) -> None:
        """The account is done: drop its clients (its credentials stay, should a key it
        owns be read later)."""
        with self._lock:
            done = self._done.get(account)
        if isinstance(done, AwsFacts):
            done.release()

    def clients_held(self) -> int:
        """Clients the member accounts hold now (the accounts not yet done)."""
        with self._lock:
            done = list(self._done.values())
        return sum(facts.client_count for facts in done if isinstance(facts, AwsFacts))

    def calls(self) -> Counter[str]:
        """Every operation made with the member accounts' credentials."""
        total: Counter[str] = Counter()
        with self._lock:
            done = list(self._done.values())
        for facts in done:
            if isinstance(facts, AwsFacts):
                total.update(facts.calls)
        return total


def region_opt_in(facts: AwsFacts, region: str) -> dict[str, str]:
    """Every region the account knows and its OptInStatus (EC2 DescribeRegions with
    AllRegions, asked in ``region``); ClientError/BotoCoreError when it cannot say."""
    answer = facts.client("ec2", region).describe_regions(AllRegions=True)
    return {
        str(item["RegionName"]): str(item.get("OptInStatus") or "")
        for item in answer.get("Regions", [])
    }
