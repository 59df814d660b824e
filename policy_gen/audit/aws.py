"""The audit's only I/O with the account: sessions, options, and read-only AWS calls.

``AwsFacts`` lists log groups (``DescribeLogGroups``), looks up each *distinct* key
once (``DescribeKey`` and ``GetKeyPolicy``) with bounded concurrency, and records
every operation it makes. It calls nothing but Describe/Get/List operations: an audit
must never change the account it audits. ``check_options`` refuses bad input before
any call is made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
)

from policy_gen.audit.model import KeyFacts, LogGroup, kms_arn_parts, log_group_from_api
from policy_gen.partitions import LOG_GROUP_PATTERN, partition_for_region
from sam_project.documents import parse_json
from sam_project.errors import UserError

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
# botocore's adaptive mode: exponential backoff with jitter on throttling errors plus
# a client-side rate limiter that slows down after throttles, shared by the threads.
RETRY_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"})
# The identity check runs first and only once: fail fast on a wrong endpoint or
# rejected credentials instead of backing off for a minute.
IDENTITY_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30
)
# The only operations an audit may make (asserted by the tests).
READ_ONLY_PREFIXES = ("Describe", "Get", "List")


def error_line(operation: str, error: Exception) -> str:
    """A failed call as one line: ``Operation: Code: message``."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "Error"
        message = " ".join(str(details.get("Message") or "").split())
        return f"{operation}: {code}" + (f": {message}" if message else "")
    return f"{operation}: {type(error).__name__}: {' '.join(str(error).split())}"


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "")
    return ""


class AwsFacts:
    """Reads log groups and keys from AWS; the audit's only I/O with the account.

    Clients are created up front in the calling thread (a boto3 session is not
    thread-safe, its clients are) and share one retry policy: adaptive retries with
    backoff for throttling. Every operation made is counted in ``calls``.
    """

    def __init__(
        self,
        session: boto3.session.Session,
        endpoint_url: str | None = None,
        *,
        config: Config = RETRY_CONFIG,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._config = config
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def client(self, service: str, region: str) -> Any:
        """The one client for ``service`` in ``region``, made on first use. Any thread
        may ask (the organization audit looks keys up from several): creation is
        serialised, since a boto3 session is not thread-safe; the clients are."""
        client = self._clients.get((service, region))
        if client is None:
            with self._create_lock:
                client = self._clients.get((service, region))
                if client is None:
                    client = self._session.client(
                        service,  # type: ignore[call-overload]
                        region_name=region,
                        endpoint_url=self._endpoint_url,
                        config=IDENTITY_CONFIG if service == "sts" else self._config,
                    )
                    client.meta.events.register("before-parameter-build", self._count)
                    self._clients[(service, region)] = client
        return client

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def release(self) -> None:
        """Forget the clients (the next call makes new ones). A botocore client holds
        0.2-1 MB (its service model's methods, its own event hooks): an organization
        audit releases each account's once the account is done, or a thousand accounts
        would hold gigabytes. A call in flight keeps its client until it returns."""
        with self._create_lock:
            self._clients = {}

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[str(model.name)] += 1

    def account(self, region: str) -> str:
        """The caller's account (STS GetCallerIdentity); bad credentials are bad input."""
        return self.identity(region)[0]

    def identity(self, region: str) -> tuple[str, str]:
        """The caller's account and ARN (STS GetCallerIdentity); bad credentials are bad
        input."""
        try:
            identity = self.client("sts", region).get_caller_identity()
        except NoCredentialsError:
            raise UserError(_NO_CREDENTIALS) from None
        except ClientError as error:
            raise UserError(
                f"AWS rejected the credentials ({error_line('GetCallerIdentity', error)})"
            ) from None
        except BotoCoreError as error:
            raise UserError(f"cannot reach AWS STS in {region}: {error}") from None
        return str(identity["Account"]), str(identity.get("Arn") or "")

    def log_groups(
        self,
        region: str,
        account: str,
        prefix: str | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> tuple[list[LogGroup], int]:
        """Every log group with a KMS key in ``region`` (paginated), and how many without."""
        paginator = self.client("logs", region).get_paginator("describe_log_groups")
        kwargs = {"logGroupNamePrefix": prefix} if prefix else {}
        groups: list[LogGroup] = []
        unencrypted = seen = 0
        try:
            for page in paginator.paginate(**kwargs):
                for item in page.get("logGroups", []):
                    seen += 1
                    group = log_group_from_api(item, region, account)
                    if group is None:
                        unencrypted += 1
                    else:
                        groups.append(group)
                if on_page is not None:
                    on_page(seen)
        except (ClientError, BotoCoreError) as error:
            raise UserError(
                f"cannot list log groups in {region} ({error_line('DescribeLogGroups', error)})"
            ) from None
        return groups, unencrypted

    def key_facts(self, ref: str, default_region: str) -> KeyFacts:
        """DescribeKey then GetKeyPolicy (policy name "default") for one key, in the
        key's own region (KMS answers NotFound for another region's key ARN)."""
        region = _call_region(ref, default_region)
        try:
            kms = self.client("kms", region)
        except (BotoCoreError, ValueError) as error:  # e.g. a malformed region in the ARN
            return KeyFacts(ref, region=region, errors=(error_line("DescribeKey", error),))
        errors: list[str] = []
        facts: dict[str, Any] = {"region": region}
        try:
            meta = kms.describe_key(KeyId=ref)["KeyMetadata"]
        except (ClientError, BotoCoreError) as error:
            if error_code(error) == "NotFoundException":
                return KeyFacts(ref, region=region, not_found=error_line("DescribeKey", error))
            errors.append(error_line("DescribeKey", error))
        else:
            deletion = meta.get("DeletionDate")
            facts.update(
                arn=meta.get("Arn"),
                state=meta.get("KeyState"),
                spec=meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
                usage=meta.get("KeyUsage"),
                deletion_date=deletion.isoformat() if hasattr(deletion, "isoformat") else None,
            )
        try:
            # GetKeyPolicy takes a key id or key ARN, not an alias: use DescribeKey's ARN.
            text = kms.get_key_policy(KeyId=facts.get("arn") or ref, PolicyName="default")["Policy"]
            # The kit's one JSON parser: a key written twice is remembered, so the
            # judge reports it (DUPLICATE key) as it does for a rendered policy.
            facts["policy"] = parse_json(text, "the key policy") if isinstance(text, str) else None
            if facts["policy"] is None:
                errors.append("GetKeyPolicy: the answer has no policy text")
        except (ClientError, BotoCoreError) as error:
            errors.append(error_line("GetKeyPolicy", error))
        except UserError as error:
            errors.append(f"GetKeyPolicy: {error}")
        return KeyFacts(ref, errors=tuple(errors), **facts)

    def fetch_keys(
        self,
        refs: Mapping[str, str],
        concurrency: int = DEFAULT_CONCURRENCY,
        on_done: Callable[[int, int], None] | None = None,
    ) -> dict[str, KeyFacts]:
        """``key_facts`` for every key (ref -> the region to ask when ref is no ARN),
        ``concurrency`` at a time. Each key is looked up exactly once."""
        # Create the clients here, in one thread: a boto3 session is not thread-safe.
        for ref, default_region in refs.items():
            with contextlib.suppress(BotoCoreError, ValueError):  # key_facts reports it
                self.client("kms", _call_region(ref, default_region))
        results: dict[str, KeyFacts] = {}
        executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="audit-key")
        try:
            futures: dict[Future[KeyFacts], str] = {
                executor.submit(self.key_facts, ref, region): ref for ref, region in refs.items()
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_done is not None:
                    on_done(len(results), len(refs))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return results


def _call_region(ref: str, default_region: str) -> str:
    """Where to ask KMS about a key: its ARN's region, else the log group's."""
    parts = kms_arn_parts(ref)
    return parts[1] if parts and parts[1] else default_region


_NO_CREDENTIALS = (
    "no AWS credentials found: pass --profile, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
    "or AWS_PROFILE, or run where an instance/container role is available"
)


@dataclass(frozen=True)
class AuditOptions:
    """The command line, validated."""

    regions: tuple[str, ...] = ()
    profile: str | None = None
    prefix: str | None = None
    output_format: Literal["text", "json", "csv"] = "text"
    suggest_fix: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    endpoint_url: str | None = None


def new_session(profile: str | None) -> boto3.session.Session:
    """The boto3 session for ``--profile`` (tests replace this to watch the calls)."""
    try:
        return boto3.session.Session(profile_name=profile)
    except ProfileNotFound:
        raise UserError(f"unknown AWS profile {profile!r}: see ~/.aws/config") from None
    except BotoCoreError as error:
        raise UserError(f"cannot load AWS configuration: {error}") from None


def default_region(session: boto3.session.Session) -> str | None:
    """The caller's region when none is named. botocore reads AWS_DEFAULT_REGION and the
    profile; AWS_REGION is what the other SDKs (and the render command) read, so it
    comes first."""
    return os.environ.get("AWS_REGION") or session.region_name


def check_options(options: AuditOptions, session: boto3.session.Session) -> AuditOptions:
    """Fill in the default region and refuse bad input before any call is made."""
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise UserError(
            f"invalid --concurrency {options.concurrency}: expected 1 to {MAX_CONCURRENCY}"
        )
    if options.prefix is not None and not LOG_GROUP_PATTERN.fullmatch(options.prefix):
        raise UserError(
            f"invalid --log-group-prefix {options.prefix!r}: expected 1-512 characters of "
            "a-z A-Z 0-9 _ - / . #"
        )
    regions = tuple(dict.fromkeys(options.regions))
    if not regions:
        default = default_region(session)
        if not default:
            raise UserError(
                "no region: pass --region, or set AWS_REGION/AWS_DEFAULT_REGION or a region "
                "in the profile"
            )
        regions = (default,)
    for region in regions:
        partition_for_region(region)  # raises the one-line error
    endpoint = options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise UserError(f"invalid --endpoint-url {endpoint!r}: expected http(s)://host[:port]")
    if session.get_credentials() is None:
        raise UserError(_NO_CREDENTIALS)
    return dataclasses.replace(options, regions=regions, endpoint_url=endpoint)
