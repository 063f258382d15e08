"""The composition root and Cumulo's Python API.

``Cumulo`` builds every part once (store, code blobs, concurrency limiter,
environment pool, log sink, invoker) and exposes Lambda's operations with
boto3's names in snake case. The CLI, and later the HTTP control plane, the
gateway and the pollers, all call this one implementation.

The runtime side (zygote, memory cgroups, housekeeping thread) starts on the
first call that needs it, so read-only commands stay cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
import zlib
from concurrent.futures import Executor
import logging
from pathlib import Path
from secrets import token_bytes
from typing import Any, Callable, Mapping

from cumulo import iam
from cumulo.api import authz            # pure: what an API call asks IAM (state machines' service calls)
from cumulo.config import Settings
from cumulo.errors import (
    CumuloError, InvalidParameterValueException, ProvisionedConcurrencyConfigNotFoundException,
    ResourceNotFoundException, ServiceError,
)
from cumulo.identity.service import Identity
from cumulo.functions.control import CodeSource, FunctionService
from cumulo.functions.layers import LayerService, LayerSource
from cumulo.functions.permissions import FunctionPolicies
from cumulo.functions.urls import FunctionUrls
from cumulo.gateway.service import ApiService
from cumulo.gateway.usage import UsagePlanService
from cumulo.invoke.concurrency import ConcurrencyLimiter, allocate, even_share, minimum_share
from cumulo.functions.asynchronous import AsyncDispatcher, AsyncEvents, EventInvokeConfigs
from cumulo.invoke.invoker import InvocationRequest, InvocationResult, InvocationType, Invoker
from cumulo.invoke.pool import EnvironmentPool, PoolKey
from cumulo.model import function as fn
from cumulo.model import limits
from cumulo.model.alias import Alias
from cumulo.model.function import LATEST, Arns, FunctionConfiguration
from cumulo.logs.service import LogsService
from cumulo.observe.logs import LogSink
from cumulo.observe.metrics import MetricRecorder
from cumulo.functions.deployments import Deployments, DeploymentTicker
from cumulo.metrics.alarms import Alarms
from cumulo.metrics.service import MetricsFlusher, MetricsService
from cumulo.store.sqlite_messages.metrics import SQLiteMetricData
from cumulo.store.sqlite_messages.traces import SQLiteTraceSegments
from cumulo.observe.traces import TraceRecorder
from cumulo.traces.otlp import OtlpExporter
from cumulo.traces.service import TraceFlusher, TraceService
from cumulo.workers import Periodic
from cumulo.ports import SYSTEM_CLOCK, Clock, Kind, Send, Target, Worker
from cumulo.runtime.interfaces import ExecutionEnvironment, LogLine
from cumulo.runtime import catalog
from cumulo.runtime.sandbox import MemoryCgroups, SandboxLevel, SandboxPolicy
from cumulo.runtime.inside.scratch import ScratchDisks
from cumulo.store import health
from cumulo.store.base import LogRecord
from cumulo.store.blobs import CodeBlobs
from cumulo.store.ports import MetricData, ObjectBodies, TraceSegments
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.store.sqlite import SQLiteStore
from cumulo.events.permissions import BusPolicies
from cumulo.events.bus import DeliveryWorker, EventBusService, EventRouter
from cumulo.events.destinations import CONNECTION_DOCUMENT, ApiDestinations
from cumulo.stepfunctions.service import StateMachines
from cumulo.sources.housekeeping import Housekeeper
from cumulo.functions.mappings import EventSourceMappings
from cumulo.functions.pollers import MappingPollers
from cumulo.objects.files import BodyFiles
from cumulo.objects.service import ObjectService
from cumulo.outbox import OutboxWorker
from cumulo.topics.http import HttpDeliveries
from cumulo.topics.service import TopicService
from cumulo.topics.signing import Signer
from cumulo.secrets.rotation import RotationWorker
from cumulo.secrets.service import SECRET_DOCUMENT, SecretService
from cumulo.parameters.service import PARAMETER_DOCUMENT, ParameterService
from cumulo.kms.service import KEY_DOCUMENT, KeyService
from cumulo.keyring import CHECK_KIND, Keyring, Resealer, reseal_check
from cumulo.events.pattern import compile_pattern
from cumulo.sources.queues import QueueService
from cumulo.sources.schedules import Scheduler, Schedules
from cumulo.sources.streams import StreamService
from cumulo.model.table_stream import is_table_stream
from cumulo.tables.service import TableService
from cumulo.targets import (
    TargetRouter, api_destination_delivery, bus_delivery, function_delivery, queue_delivery, state_machine_delivery,
    topic_delivery,
)

__all__ = ["Cumulo"]



@functools.lru_cache(maxsize=256)
def _resource_policy(text: str) -> iam.Policy | None:
    """A resource's policy as stored (checked when it was set), parsed once per text."""
    try:
        return iam.parse_policy(text, "resource")
    except iam.MalformedPolicyDocument:
        return None


class Cumulo:
    """One Cumulo installation, opened on its home folder (``./.cumulo`` by default)."""

    def __init__(self, settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK, **overrides: Any) -> None:
        self.settings = settings or Settings.from_env(**overrides)
        self.clock = clock      # the time every service and worker reads (a test may give its own)
        s = self.settings
        _private_folder(s.home)
        self.arns = Arns(s.region, s.account_id)
        self._database: Any = None      # the PostgreSQL pool both stores share (None: SQLite)
        if s.store:
            self.store, self.messages = self._open_postgres(s.store)
        else:
            self.store = SQLiteStore(s.db_path, self.arns)
        remote = self.store if self._database is not None else None   # code packages shared through the store
        self.blobs = CodeBlobs(s.code_dir, remote=remote)
        self.layers = LayerService(self.store, CodeBlobs(s.home / "layers", remote=remote), s.home / "opt", self.arns,
                                   in_use=self._layer_in_use, clock=clock)
        self.functions = FunctionService(self.store, self.blobs, self.arns, on_change=self._function_changed,
                                         resolve_layers=self.layers.resolve, clock=clock)
        self.function_policies = FunctionPolicies(self.store, self.functions, self.arns)
        self.function_urls = FunctionUrls(self.store, self.functions, self.arns, clock)   # function URLs
        # IAM roles, policies, STS sessions (their key: the home's file, or the one a cluster's nodes share)
        sts_key = None if self._database is None else lambda: self._shared_key("sts")(lambda: token_bytes(32))
        self.identity = Identity(self.store, s.home, s.account_id, clock.now, sts_key=sts_key)
        self.apis = ApiService(self.store, clock)
        self.usage_plans = UsagePlanService(self.store, clock)
        self.gateway_url = ""    # where HTTP APIs are served, once a server listens
        self.endpoint_url = ""   # where functions reach the server's API (from inside the sandbox), once it listens
        if s.durability not in ("normal", "full"):
            raise ValueError(f"durability must be normal or full, not {s.durability!r}")
        if self._database is None:
            self.messages = SQLiteMessageStore(s.messages_path, s.durability)    # store/ports.py's MessageStore
        _private_files(s.home)
        m = self.messages
        self.metric_recorder = MetricRecorder(clock.now, enabled=s.metrics)   # CloudWatch's metrics (docs/metrics.md)
        self.trace_recorder = TraceRecorder(clock.now)     # X-Ray segments, written by TraceService
        self.queues = QueueService(m.queues, m.wakeups, s.region, s.account_id, clock, self.metric_recorder)
        self.streams = StreamService(m.streams, s.region, s.account_id, clock)
        self.tables = TableService(m.tables, m.streams, s.region, s.account_id, clock)     # DynamoDB's API
        self.targets = TargetRouter(self._delivery_refusal)     # push deliveries asked of resource policies
        self.async_events = AsyncEvents(self.functions, m.queues, s.async_payload_max, clock, self.metric_recorder)
        self.event_invoke_configs = EventInvokeConfigs(self.store, self.functions, self.arns, clock)
        self.all_streams = _Streams(self.streams, self.tables)     # Kinesis' and tables' streams, for mappings
        self.mappings = EventSourceMappings(self.store, m.streams, self.queues, self.all_streams, self.functions,
                                            self.arns, clock, compile_pattern, self._role_refusal)
        self.schedules_service = Schedules(self.store, self.functions, self.arns, clock)
        self.api_destinations = ApiDestinations(self.store, self.arns, clock, lambda: self.keyring)
        self.event_bus = EventBusService(self.store, m.queues, self.arns, self.schedules_service,
                                         self.api_destinations.describe_api_destination, clock,
                                         self.metric_recorder)
        self.bus_policies = BusPolicies(self.store, lambda ref: self.event_bus.describe_event_bus(ref)["Name"],
                                        self.event_bus.bus_arn)   # PutPermission / RemovePermission
        self.service_calls = _ServiceCalls(self)     # services' APIs called by state machines' tasks
        self.state_machines = StateMachines(self.store, m.queues, m.executions, m.leases, self.arns, s.home,
                                            self.targets, clock, self.service_calls, self.metric_recorder,
                                            self.trace_recorder)
        # S3: buckets and objects (their bodies: files of the home, or rows of the cluster's database)
        bodies: ObjectBodies = BodyFiles(s.home / "objects", fsync=s.durability == "full") \
            if self._database is None else self.messages.bodies
        self.objects = ObjectService(m.objects, bodies, s.region, s.account_id, clock)
        self.topics = TopicService(self.store, m.queues, s.region, s.account_id, compile_pattern, clock, self.queues,
                                   Signer(s.home / "sns-signing.pem",
                                          None if self._database is None else self._shared_key("sns-signing")))  # SNS
        # the master key, checked against the store before anything is served (docs/secrets.md)
        try:
            self.keyring = Keyring.open(self.store, Path(s.master_key_file) if s.master_key_file else
                                        s.home / "master.key", os.environ.get("CUMULO_MASTER_KEY", ""))
        except BaseException:       # refused: nothing of the database's pool (its wake-up listener) stays
            if self._database is not None:
                self.messages.close()
                self._database.close()
            raise
        self.store.seal_environments(self.keyring)    # functions' environment variables, sealed at rest
        self.secrets = SecretService(self.store, lambda: self.keyring, s.region, s.account_id, clock,  # Secrets Manager
                                     self.invoke, self._service_may_invoke)     # rotation functions
        self.parameters = ParameterService(self.store, lambda: self.keyring, s.region, s.account_id, clock)  # SSM
        self.kms = KeyService(self.store, lambda: self.keyring, s.region, s.account_id, clock)   # KMS (a subset)
        # CloudWatch: metrics recorded in memory, flushed to their own file; alarms (docs/metrics.md)
        self.metric_data: MetricData = SQLiteMetricData(s.home / "metrics.db", s.durability) \
            if self._database is None else self.messages.metric_data
        _private_files(s.home)      # metrics.db and its journals 0600 too
        self.metrics = MetricsService(self.metric_data, self.metric_recorder, clock, samplers=[self._sample_queues])
        self.alarms = Alarms(self.store, self.metrics, self.targets, s.region, s.account_id, clock)
        # X-Ray: segments of traced invocations, and what functions send (docs/traces.md)
        self.trace_data: TraceSegments = SQLiteTraceSegments(s.home / "traces.db", s.durability) \
            if self._database is None else self.messages.trace_data
        _private_files(s.home)
        # … also exported to an OpenTelemetry collector when one is configured (--otlp-endpoint)
        self.otlp = OtlpExporter(s.otlp_endpoint) if s.otlp_endpoint else None
        self.traces = TraceService(self.trace_data, self.trace_recorder, clock,
                                   export=self.otlp.submit if self.otlp is not None else None)
        self.xray_daemon_address = ""   # where functions send segments (AWS_XRAY_DAEMON_ADDRESS), once served
        # CodeDeploy's gradual deployments of aliases (SAM's DeploymentPreference; docs/deployments.md)
        self.deployments = Deployments(
            self.store, lambda f, a, version, weights: self.functions.update_alias(
                f, a, function_version=version, weights=weights),
            lambda hook, payload: self.invoke(hook, payload, invocation_type="Event"),
            self.alarms.state, clock)
        self._route_targets()
        self._workers: list[Worker] = []
        self._workers_lock = threading.Lock()
        self.limiter = ConcurrencyLimiter(s.account_concurrency, s.unreserved_min)
        self._limits_generation = -1
        self._placement = (0, 1)        # this node's rank among the cluster's live nodes, and their number
        self._placing = threading.Lock()
        self._heartbeat: Any = None
        with health.opening(s.db_path):    # the first read of the functions' table
            self._sync_limits()
        self.logs = LogSink(self.store)
        # CloudWatch Logs over the log store (docs/logs.md): reads flush what the sink holds first
        self.log_groups = LogsService(self.store, self.store, s.region, s.account_id, clock, self.logs.flush,
                                      s.log_retention_days or None)
        self._runtime_lock = threading.Lock()
        self._pool: EnvironmentPool | None = None
        self._env_cpus: set[int] | None = None     # see place_cpus
        self._cgroups: MemoryCgroups | None = None
        self._sandbox: SandboxPolicy | None = None
        self._scratch: ScratchDisks | None = None   # environments' /tmp disks (namespace level)
        self._scratch_missing = ""                  # … or why there are none
        self._invoker: Invoker | None = None
        self._snapstart_ok = False   # decided once the sandbox is known (_runtime)
        self._closed = False

    def _sample_queues(self, recorder: MetricRecorder) -> None:
        """SQS's gauges, read once a minute: each queue's visible and in-flight messages and the age
        of its oldest."""
        now = int(self.clock.now() * 1000)
        for doc in self.messages.queues.list_queues():
            name = doc.get("name") or doc.get("QueueName")
            if not isinstance(name, str) or name.startswith("~"):
                continue
            visible, in_flight, delayed = self.messages.queues.counts(name, now)
            dims = (("QueueName", name),)
            recorder.gauge("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims, visible)
            recorder.gauge("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", dims, in_flight)
            recorder.gauge("AWS/SQS", "ApproximateNumberOfMessagesDelayed", dims, delayed)
            oldest = self.messages.queues.oldest_sent_ms(name)
            if oldest is not None:      # CloudWatch reports no age for an empty queue
                recorder.gauge("AWS/SQS", "ApproximateAgeOfOldestMessage", dims, max(now - oldest, 0) // 1000, "Seconds")

    def _open_postgres(self, url: str) -> tuple[Any, Any]:
        """Both stores on one PostgreSQL database (``store/postgres/``), sharing a pool."""
        from cumulo.store.postgres import Database, PostgresMessageStore, PostgresStore, is_postgres_url

        if not is_postgres_url(url):
            raise ValueError(f"store must be empty (SQLite under the home folder) or a postgresql:// URL, not {url!r}")
        self._database = Database(url)
        try:
            return (PostgresStore(url, self.arns, database=self._database),
                    PostgresMessageStore(url, database=self._database))
        except BaseException:
            self._database.close()
            raise

    def _shared_key(self, name: str) -> Callable[[Callable[[], bytes]], bytes]:
        """A key every node of a cluster holds alike (``store/postgres/keys.py``): given a way to
        make it, the one kept, sealed with the master key in the database (read after the keyring
        is open: at first use)."""
        context = f"shared-key:{name}"

        def load(make: Callable[[], bytes]) -> bytes:
            sealed = self.messages.shared_keys.get_or_make(name, lambda: self.keyring.seal(make(), context).encode())
            return self.keyring.open_sealed(sealed.decode(), context)
        return load

    def rotate_master_key(self, new: Keyring) -> dict[str, int]:
        """Seal every value the master key sealed again with ``new``, in one transaction of the store
        (``cumulo store rotate-key``; docs/secrets.md): the store's check value, secrets' versions,
        SecureString parameters, KMS keys' material, API destination connections' auth, functions'
        environments, access keys' secrets and (PostgreSQL) the cluster's STS and SNS keys. A value
        the current key does not open rolls it all back (``SealedValueError``). Answers the count
        of each kind of place rewritten; from then on this process seals with ``new``."""
        from datetime import datetime, timezone

        reseal = Resealer(self.keyring, new)
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        documents = {CHECK_KIND: lambda d: reseal_check(d, reseal, when),
                     SECRET_DOCUMENT: lambda d: self.secrets.reseal_document(d, reseal),
                     PARAMETER_DOCUMENT: lambda d: self.parameters.reseal_document(d, reseal),
                     KEY_DOCUMENT: lambda d: KeyService.reseal_document(d, reseal),
                     CONNECTION_DOCUMENT: lambda d: ApiDestinations.reseal_document(d, reseal)}

        def shared(name: str, kept: bytes) -> bytes:
            return reseal(kept.decode(), f"shared-key:{name}").encode()
        counts = self.store.reseal(documents, reseal, shared if self._database is not None else None)
        self.keyring = new
        self.store.seal_environments(new)
        return counts

    def schema_versions(self) -> dict[str, int]:
        """The store's schema versions by component (both opened, so brought up to date)."""
        if self._database is not None:
            return dict(self._database.schema_versions())
        from cumulo.store.schema import DOCUMENTS_VERSION, MESSAGES_VERSION

        return {"documents": DOCUMENTS_VERSION, "messages": MESSAGES_VERSION}

    def live_nodes(self) -> list[dict[str, Any]] | None:
        """The nodes sharing this PostgreSQL store (``store/postgres/nodes.py``); None on SQLite."""
        if self._database is None:
            return None
        from cumulo.store.postgres.nodes import live_nodes

        return live_nodes(self._database, int(time.time() * 1000))     # heartbeats are on the wall clock

    def _route_targets(self) -> None:
        """The target router's table: one delivery for each kind of target (``cumulo/targets.py``)."""
        route = self.targets.register
        route(Kind.FUNCTION, function_delivery(self.invoke))
        route(Kind.QUEUE, queue_delivery(self.queues))
        route(Kind.BUS, bus_delivery(self.event_bus))
        route(Kind.API_DESTINATION, api_destination_delivery(self.api_destinations))
        route(Kind.STATE_MACHINE, state_machine_delivery(self.state_machines))
        route(Kind.TOPIC, topic_delivery(self.topics))

    def _sync_limits(self) -> None:
        """Reserved concurrency lives in the store (another process, e.g. the CLI beside a running
        server, may change it): re-read it whenever the store says something changed."""
        generation = self.store.generation
        if generation != self._limits_generation:
            self._limits_generation = generation
            self.limiter.load(self.store.reserved_concurrencies())     # a partial index: not every function

    def _function_credentials(self, config: FunctionConfiguration) -> dict[str, str]:
        """What a function's environments get to call the platform: the server's endpoint and a session
        of the function's role (named for the function, as on AWS; ``identity/sessions.py``). Nothing
        when no server is listening: an SDK would otherwise reach AWS itself."""
        xray = {}
        if config.tracing == "Active" and self.xray_daemon_address:   # the X-Ray SDK's daemon, as Lambda sets it
            host, _, port = self.xray_daemon_address.rpartition(":")
            xray = {"AWS_XRAY_DAEMON_ADDRESS": self.xray_daemon_address, "_AWS_XRAY_DAEMON_ADDRESS": host,
                    "_AWS_XRAY_DAEMON_PORT": port, "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"}
        if not self.endpoint_url:
            return xray
        session = self.identity.sessions.for_function(config.role, config.name)
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": session.key_id,
                "AWS_SECRET_ACCESS_KEY": session.secret, "AWS_SESSION_TOKEN": session.token, **xray}

    def _service_may_invoke(self, function_arn: str, service: str, source_arn: str) -> bool:
        """Whether an AWS service principal (``secretsmanager.amazonaws.com``) may invoke the function,
        acting for ``source_arn``: the function's resource policy (AddPermission) decides, as on AWS
        (unless ``Settings.iam`` is off; ``audit`` logs a refusal and allows). False for no function."""
        try:
            fname, qualifier = fn.parse_function_ref(function_arn)
            self.functions.get(fname, qualifier)
        except CumuloError:
            return False
        if self.settings.iam == "off":
            return True
        request = iam.Request(iam.Principal.service_principal(service), "lambda:InvokeFunction", function_arn,
                              source_arn=source_arn, source_account=self.arns.account)
        decision = iam.evaluate(request, (), self.function_policies.policy_for(function_arn))
        if not decision and self.settings.iam == "audit":
            log.warning("audit: %s", decision.message)
            return True
        return bool(decision)

    # -- access (api/authorize.py's ports) -------------------------------------
    def policies_for(self, role_arn: str) -> iam.PolicySet:
        """A role's identity-based policies (``identity/service.py``); none for a role not kept."""
        return self.identity.policies_for(role_arn)

    def resource_policy(self, arn: str) -> iam.Policy | None:
        """The policy attached to the resource ``arn`` names: a function's (AddPermission), a queue's
        ``Policy`` attribute, a topic's ``Policy`` attribute, an event bus's (PutPermission), a bucket's (its objects' too:
        PutBucketPolicy), a KMS key's, a secret's (PutResourcePolicy); None for anything else."""
        if arn.startswith("arn:aws:lambda:"):
            return self.function_policies.policy_for(arn)
        if arn.startswith("arn:aws:sqs:"):
            text = self.queues.policy_text(arn.rsplit(":", 1)[-1])
            return _resource_policy(text) if text else None
        if arn.startswith("arn:aws:s3:::"):
            doc = self.objects.index.get_bucket(arn[len("arn:aws:s3:::"):].split("/", 1)[0])
            text = (doc or {}).get("Policy")
            return _resource_policy(text) if text else None
        if arn.startswith("arn:aws:secretsmanager:") and ":secret:" in arn:    # PutResourcePolicy
            text = self.secrets.policy_text(arn)
            return _resource_policy(text) if text else None
        if arn.startswith("arn:aws:sns:"):          # a topic's Policy attribute, when one was set
            text = self.topics.policy_text(arn)
            return _resource_policy(text) if text else None
        if arn.startswith("arn:aws:kms:"):          # a key's policy (a key's or an alias's ARN)
            text = self.kms.policy_text(arn)
            return _resource_policy(text) if text else None
        if arn.startswith("arn:aws:events:") and ":event-bus/" in arn:
            try:
                text = self.bus_policies.policy_text(arn)
            except CumuloError:
                return None
            return _resource_policy(text) if text else None
        return None

    def resource_context(self, arn: str) -> Mapping[str, str]:
        """The condition keys a resource itself carries: a secret's
        ``secretsmanager:resource/AllowRotationLambdaArn`` (its rotation function; SAM's
        ``AWSSecretsManagerRotationPolicy`` allows on it); nothing for anything else."""
        if arn.startswith("arn:aws:secretsmanager:") and ":secret:" in arn:
            function = self.secrets.rotation_function_of(arn)
            if function:
                return {"secretsmanager:resource/AllowRotationLambdaArn": function}
        return {}

    def grant_allows(self, callers: tuple[str, ...], action: str, resource: str, context: Mapping[str, Any]) -> bool:
        """Whether a KMS grant on the key ``resource`` names lets one of ``callers`` do ``action``
        (``kms/grants.py``; the encryption context read from the condition keys)."""
        if action == "kms:RetireGrant":        # the grant named decides: its retiring principal, or its grantee
            grant_id = context.get(authz.kms.GRANT_ID)
            return any(g["GrantId"] == grant_id and (g.get("RetiringPrincipal") in callers or (
                g["GranteePrincipal"] in callers and "RetireGrant" in g["Operations"]))
                for g in self.kms.grants_on(resource))
        return self.kms.grant_allows(callers, action[len("kms:"):], resource,
                                     authz.kms.encryption_context_of(dict(context)))

    def _role_refusal(self, role: str, service: str, action: str, params: dict[str, Any]) -> str | None:
        """Whether a function's execution role may make a call Lambda makes with it: its event-source
        mapping's poller's (``EventSourceMappings``), or the delivery of an invocation record to a
        destination (``AsyncDispatcher``). Asked of roles Cumulo keeps. A role it does not keep (an
        ARN from elsewhere, written into a template) is not asked: Cumulo knows nothing it allows."""
        if self.identity.trust_policy(role) is None:
            return None
        return self.service_calls.refusal(role, service, action, params)

    def _delivery_refusal(self, target: Target, message: Send) -> str | None:
        """A push delivery (``Send.source_service``: a rule, a topic, a bucket) as AWS decides it:
        the target's resource policy, when it has one, must allow the service principal with
        ``aws:SourceArn`` the source and ``aws:SourceAccount`` this account; a target without one
        takes it (SAM's implicit permissions are not written by the template engine). AWS's
        message when refused (enforce); None when allowed, under audit (logged) or off."""
        mode = self.settings.iam
        if mode == "off" or message.source_service is None:
            return None
        scope = authz.Scope(self.arns.account, self.arns.region)
        if target.kind is Kind.FUNCTION:
            action, arn = "lambda:InvokeFunction", authz.lambda_.function_arn(target.arn, scope, message.qualifier or "")
        elif target.kind is Kind.QUEUE:
            action, arn = "sqs:SendMessage", authz.sqs.queue_arn(target.arn, scope)
        elif target.kind is Kind.BUS and target.arn.startswith("arn:"):
            action, arn = "events:PutEvents", target.arn
        elif target.kind is Kind.TOPIC:
            action, arn = "sns:Publish", target.arn
        else:
            return None
        policy = self.resource_policy(arn)
        if policy is None:
            return None
        decision = iam.evaluate(iam.Request(iam.Principal.service_principal(message.source_service), action, arn,
                                            source_arn=message.source_arn, source_account=self.arns.account), (),
                                policy)
        if decision:
            return None
        if mode == "audit":
            log.warning("IAM audit: would deny %s's delivery to %s: %s", message.source_arn, arn, decision.message)
            return None
        return decision.message

    # -- lifecycle ------------------------------------------------------------
    def check_store(self, budget_s: float = health.QUICK_CHECK_BUDGET_S) -> list[str]:
        """SQLite's quick check of both store files, before a server accepts writes: raises
        ``health.StoreDamaged`` naming a damaged file; answers the files too large to check
        within ``budget_s`` (both together; they are used as they are)."""
        deadline = time.monotonic() + budget_s
        return [str(store.path) for store in (self.store, self.messages)
                if not store.quick_check(max(deadline - time.monotonic(), 0.1))]

    def store_fault(self, exc: BaseException) -> CumuloError | None:
        """The answer to a request that failed on the store's files or disk (damaged, full);
        None for any other fault. On PostgreSQL, a database that cannot be reached (down, or every
        connection of the pool busy past its timeout) answers 503, retryable."""
        if self._database is not None:
            from cumulo.store.postgres.database import unreachable

            if unreachable(exc):
                return health.StoreUnreachableException(f"The store's database is unreachable: {exc}")
        return health.fault(exc, self.settings.home)

    def __enter__(self) -> "Cumulo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop_workers()
        if self._pool is not None:
            self._pool.close()
        if self._scratch is not None:
            self._scratch.close()
        if self._cgroups is not None:
            self._cgroups.close()
        self.logs.close()
        try:
            self.metrics.flush()        # what this process recorded (a CLI invoke's) is kept
        except Exception:
            logging.getLogger("cumulo.metrics").exception("the last metrics flush failed")
        self.metric_data.close()
        try:
            self.traces.flush()
        except Exception:
            logging.getLogger("cumulo.traces").exception("the last traces flush failed")
        self.trace_data.close()
        if self.otlp is not None:       # what the last flush handed it
            self.otlp.export()
        self.messages.close()
        self.store.close()
        if self._database is not None:
            self._database.close()

    # -- background workers ---------------------------------------------------------
    def start_workers(self) -> None:
        """Run what works without a caller: the asynchronous-event dispatcher, the queue
        pollers of event-source mappings, and the scheduler. ``cumulo up`` starts them; several
        processes on one store may each run them (leases keep every event to one worker at a
        time, and schedules to one scheduler)."""
        with self._workers_lock:
            if self._workers:
                return
            m = self.messages
            self.objects.sweep()     # body files a crash left without their row
            workers: list[Worker] = [
                self.async_dispatcher(self.settings.async_workers),
                MappingPollers(self.mappings, m.queues, m.streams, m.wakeups, self.queues, self.all_streams, self.invoke,
                               self.targets, self.arns, self.clock, self.metric_recorder),
                Scheduler(self.schedules_service, self.store, m.leases, self.targets, self.event_bus.fire_rule,
                          self.arns, self.clock),
                EventRouter(m.queues, m.wakeups, self.event_bus, self.clock),
                DeliveryWorker(m.queues, m.wakeups, self.targets, self.settings.events_retry_base_s, self.clock,
                               metrics=self.metric_recorder),
                OutboxWorker(m.queues, m.wakeups, self.targets, self.settings.events_retry_base_s, self.clock),
                HttpDeliveries(m.queues, m.wakeups, self.targets.dead_letter, self.clock),   # SNS's http(s)
                self.state_machines.engine,
                Housekeeper([RotationWorker(self.secrets, m.leases, self.clock).tick],   # secrets' rotations
                            interval_s=RotationWorker.TICK_S),
                MetricsFlusher(self.metrics, self.settings.metrics_interval_s, after=[self.alarms.evaluate]),
                # invocations noted on the warm path, folded into their aggregates off it, each second
                Periodic("cumulo-metrics-fold", 1.0, self.metric_recorder.fold),
                TraceFlusher(self.traces),
                *([self.otlp] if self.otlp is not None else []),
                DeploymentTicker(self.deployments),
                self.housekeeper()]
            if self._database is not None:      # a node of a cluster: its row in `cumulo nodes`
                from cumulo.store.postgres.nodes import Heartbeat

                self._heartbeat = Heartbeat(self._database, lambda: self.queues.endpoint or self.endpoint_url,
                                            lambda: {"in_flight": self.limiter.total,
                                                     "provisioned": self._provisioned_here()},
                                            self.limiter, allocate, even_share,      # limits leased by demand
                                            peers=self._placed, sync=self._sync_limits, minimum=minimum_share)
                workers.append(self._heartbeat)
            for worker in workers:
                worker.start()
                self._workers.append(worker)

    def housekeeper(self) -> Housekeeper:
        """The housekeeper (not started; ``start_workers`` runs one): every sweep of what is past its
        retention, on Cumulo's clock."""
        return Housekeeper([self.event_bus.sweep_archives, self.queues.sweep, self.streams.sweep, self.tables.sweep,
                            self.log_groups.sweep,
                            self.objects.expire,        # S3 lifecycle expiration
                            self.metrics.prune,         # CloudWatch's metric retention (docs/metrics.md)
                            self.traces.prune])         # X-Ray's 30 days (docs/traces.md)

    def async_dispatcher(self, workers: int = 16, clock: Clock | None = None) -> AsyncDispatcher:
        """A dispatcher of asynchronous events (not started): ``start_workers`` runs one. Its clock
        is Cumulo's unless given."""
        return AsyncDispatcher(self.messages.queues, self.messages.wakeups, self.functions, self.event_invoke_configs,
                               self._run_invocation, self.targets, self.arns, self.settings, clock or self.clock,
                               workers, self.metric_recorder, self._role_refusal)

    def _run_invocation(self, config: FunctionConfiguration, request: InvocationRequest,
                        invoked_arn: str) -> InvocationResult:
        return self._runtime().invoke(config, request, invoked_arn)

    def stop_workers(self) -> None:
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for worker in reversed(workers):
            worker.stop()

    @property
    def dispatcher(self) -> AsyncDispatcher | None:
        return next((w for w in self._workers if isinstance(w, AsyncDispatcher)), None)

    def _runtime(self) -> Invoker:
        if self._invoker is not None:
            return self._invoker
        with self._runtime_lock:
            if self._invoker is None:
                s = self.settings
                self._cgroups = self._memory_cgroups()
                pool = EnvironmentPool(s.home, s.idle_timeout_s, s.shutdown_grace_s, self._cgroups,
                                       on_logs=self._environment_logs, template_budget_mb=s.template_budget_mb,
                                       burst_wait=s.burst_wait, network=_network(s), init_timeout_s=s.init_timeout_s,
                                       max_age_s=s.environment_max_age_s,
                                       max_starting=None if s.max_starting < 0 else s.max_starting)
                if self._env_cpus:
                    pool.place(self._env_cpus)
                pool.start()
                self._sandbox = SandboxPolicy.decide(s.sandbox, pool.zygote().namespaces, s.home, s.no_network,
                                                     rootless=pool.zygote().rootless)
                if self._sandbox.level is SandboxLevel.NAMESPACE:
                    self._scratch, self._scratch_missing = ScratchDisks.create(s.home)
                    self._sandbox = dataclasses.replace(self._sandbox, scratch=self._scratch)
                self._snapstart_ok = self._decide_snapstart(pool, self._sandbox)
                self._pool = pool
                self._invoker = Invoker(pool, self.limiter, self.logs, self.arns, self.blobs.extracted,
                                        lambda: self._sandbox, s.tmp_dir, s.sync_payload_max,  # type: ignore[arg-type,return-value]
                                        layers_dir=self.layers.merged, snap_start=self._snap_start,
                                        spin_us=s.spin_us if self._env_cpus or len(os.sched_getaffinity(0)) >= 2 else 0,
                                        credentials=self._function_credentials, metrics=self.metric_recorder,
                                        traces=self.trace_recorder)
                for name, qualifier, target in self.store.list_provisioned_concurrency():
                    self._apply_provisioned(name, qualifier, target)
        return self._invoker

    def place_cpus(self) -> tuple[set[int], set[int]] | None:
        """Split the CPUs this process may use: its own threads on the first, environments (and the
        zygote and templates that fork them) on the others; ``(server, environments)``, or None
        with fewer than 2 CPUs or ``Settings.cpu_split`` off. ``cumulo up`` calls it: the server's
        event loop then keeps its CPU and its caches, and no environment competes with it there.
        Measured through the gateway on 2 CPUs: +15–25% requests/s at 1, 16 and 64 connections.
        Only threads that exist now are moved (later ones inherit from the thread creating them).
        """
        allowed = sorted(os.sched_getaffinity(0))
        if not self.settings.cpu_split or len(allowed) < 2:
            return None
        server, envs = {allowed[0]}, set(allowed[1:])
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), server)
            except OSError:
                pass
        self._env_cpus = envs
        if self._pool is not None:
            self._pool.place(envs)
        return server, envs

    def _snap_start(self, config: FunctionConfiguration) -> bool:
        """Cold starts fork a template when the configuration asks (``snap_start_applies``) and the
        sandbox can give each forked environment its own /tmp (docs/snapstart.md)."""
        return config.snap_start_applies and self._snapstart_ok

    @property
    def snapstart_available(self) -> bool:
        """Whether templates can keep environments isolated at this machine's sandbox level: always at
        the process level; at the namespace level when nested user namespaces work under a template's
        own uid (the zygote probes it; starts the runtime)."""
        self._runtime()
        return self._snapstart_ok

    def _decide_snapstart(self, pool: EnvironmentPool, sandbox: SandboxPolicy) -> bool:
        if not self.settings.snapstart:
            return False
        if sandbox.level is SandboxLevel.PROCESS:
            return True
        return pool.zygote().template_namespaces

    def _memory_cgroups(self) -> MemoryCgroups | None:
        mode = self.settings.memory_limit
        if mode not in ("auto", "cgroup", "rlimit"):
            raise ValueError(f"memory_limit must be auto, cgroup or rlimit, not {mode!r}")
        cgroups = None if mode == "rlimit" else MemoryCgroups.create()
        if mode == "cgroup" and cgroups is None:
            raise RuntimeError("memory_limit 'cgroup' needs a writable memory cgroup")
        return cgroups

    @property
    def memory_enforcement(self) -> str:
        """``cgroup`` or ``rlimit``: how memory sizes are enforced here (starts the runtime)."""
        self._runtime()
        return "cgroup" if self._cgroups is not None else "rlimit"

    def _environment_logs(self, env: ExecutionEnvironment, lines: list[LogLine]) -> None:
        spec = env.spec
        stream = spec.stream
        self.logs.emit([LogRecord(spec.function, spec.version, stream, None, ts, text) for ts, text in lines])

    @property
    def sandbox(self) -> SandboxPolicy:
        """The isolation environments get on this machine (starts the runtime)."""
        self._runtime()
        assert self._sandbox is not None
        return self._sandbox

    def isolation(self) -> list[str]:
        """What the sandbox guarantees on this machine, in a few lines (``cumulo up`` prints them)."""
        level = self.sandbox.level
        zygote = self.pool.zygote()
        limits = "memory and process limits by cgroup" if self.memory_enforcement == "cgroup" else \
            "memory limits by rlimit"
        if level is SandboxLevel.NAMESPACE:
            pids = ("each environment in a pid namespace of its own (it sees and signals only its own processes)"
                    if zygote.pid_namespaces and (zygote.template_pid_namespaces or not self._snapstart_ok)
                    else "pid namespaces: " + ("on-demand environments only; those forked from a template share "
                                               "the host's, with only their own uid's processes in view"
                                               if zygote.pid_namespaces else "not available here; each environment "
                                               "sees only its own uid's processes"))
            root = ("in a root of its own (the system's folders and the runtime read-only, its code read-only at "
                    "/var/task, its layers at /opt, its own /tmp, /dev and /proc; no home folders, stores or /sys)")
            who = ("namespace (rootless: this server is not root): each environment runs in user, mount, pid and "
                   "network namespaces of its own, as this server's uid outside them (the kernel maps only that one) "
                   "with no capability, " if self.sandbox.rootless else
                   "namespace: each environment runs as an unprivileged uid of its own, with no capability, ")
            lines = [who + root + "; " + limits,
                     pids, "seccomp filter " + ("on" if zygote.seccomp else "OFF (not available here)")]
        else:
            why = ("sandbox=process was asked" if self.settings.sandbox == "process" else
                   "this server is not root and this kernel lets no ordinary user make user namespaces; run it as "
                   "root for the namespace level" if os.geteuid() != 0 else
                   "mount namespaces are not available here")
            scoped = zygote.signals_scoped    # runtime/inside/landlock.py
            lines = ["process: environments run as this server's user, for trusted code only (" + why + "): "
                     "a function can read this user's files (the store and its keys), "
                     + ("signal and read the other functions' environments" if scoped else
                        "signal this server and the other functions' environments")
                     + ", and reach services on 127.0.0.1",
                     "guaranteed: each environment has its own session and process group, working folder, TMPDIR "
                     "and cleared environment variables, no_new_privs, rlimits (1,024 files, each file at most its "
                     "ephemeral storage, no core dumps); " + limits + "; seccomp filter "
                     + ("on" if zygote.seccomp else "OFF (not available here)")
                     + ("; signals and ptrace cannot leave the environments' Landlock domain (this server and "
                        "this user's other processes are out of their reach)" if scoped else
                        "; no Landlock signal scoping here (Linux 6.12 has it): functions can signal this server")]
        if level is SandboxLevel.NAMESPACE:
            lines.append(self._tmp_storage())
        lines.append({
            "isolated": "network: isolated from the host's loopback; outbound through slirp4netns "
                        "(none for functions with a VpcConfig)",
            "isolated-offline": "network: isolated from the host's loopback; no outbound access "
                                + ("(no_network)" if self.settings.no_network else "(install slirp4netns for it)"),
            "host": "network: the host's (functions can reach services on 127.0.0.1); no_network and "
                    "functions' VpcConfig are not enforced at this level",
        }[zygote.network])
        return lines

    def _tmp_storage(self) -> str:
        """What an environment's /tmp is at the namespace level (runtime/inside/scratch.py)."""
        if self._scratch is not None:
            return ("/tmp: a disk of each environment's own (ext4 on a loop device, its EphemeralStorage in size, "
                    "ENOSPC past it), not counted as its memory")
        return (f"/tmp: a tmpfs of EphemeralStorage's size, counted as the environment's memory "
                f"(no disk for it: {self._scratch_missing})")

    @property
    def pool(self) -> EnvironmentPool:
        self._runtime()
        assert self._pool is not None
        return self._pool

    # -- functions ------------------------------------------------------------
    def create_function(self, name: str, code: CodeSource, handler: str, **options: Any) -> FunctionConfiguration:
        return self.functions.create(name, code, handler, **options)

    def deploy_function(self, name: str, code: CodeSource, handler: str, **options: Any) -> FunctionConfiguration:
        """Create ``name``, or update it to this code and configuration (idempotent)."""
        return self.functions.deploy(name, code, handler, **options)

    def get_function_configuration(self, name: str, qualifier: str | None = None) -> FunctionConfiguration:
        return self.functions.get(name, qualifier)

    def get_function(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        """AWS's GetFunction document: configuration, code location, concurrency."""
        config = self.functions.get(name, qualifier)
        runtime_version = {"RuntimeVersionArn": catalog.runtime_version_arn(self.arns.region, config.runtime)}
        doc: dict[str, Any] = {
            "Configuration": config.to_aws(self.arns, {"RuntimeVersionConfig": runtime_version}),
            "Code": {"RepositoryType": "Local", "Location": str(self.blobs.zip_path(config.code_hex).resolve())},
        }
        reserved = self.store.get_function(config.name).reserved_concurrency
        if reserved is not None:
            doc["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return doc

    def list_functions(self, after: str | None = None, limit: int | None = None) -> list[FunctionConfiguration]:
        """Every function by name, or the ``limit`` after the name ``after`` (ListFunctions' pages)."""
        return self.functions.list_all(after, limit)

    def update_function_code(self, name: str, code: CodeSource, **options: Any) -> FunctionConfiguration:
        return self.functions.update_code(name, code, **options)

    def update_function_configuration(self, name: str, **changes: Any) -> FunctionConfiguration:
        before = self.functions.get(name).layers if changes.get("layers") is not None else ()
        config = self.functions.update_configuration(name, **changes)
        self._release_layers(before)
        return config

    def delete_function(self, name: str, qualifier: str | None = None) -> None:
        try:
            before = [ref for config in self.functions.list_versions(name) for ref in config.layers]
        except ResourceNotFoundException:
            before = []
        self.functions.delete(name, qualifier)
        self._release_layers(before)
        fname, q = fn.parse_function_ref(name, qualifier)
        self.function_policies.forget(fname, q)
        if q is None or not q.isdigit():
            self.function_urls.forget(fname, q)
        if q is None:
            self.limiter.set_reserved(fname, None)

    def publish_version(self, name: str, description: str | None = None,
                        revision_id: str | None = None) -> FunctionConfiguration:
        config = self.functions.publish_version(name, description, revision_id)
        self._prepare_template(config)
        return config

    def _prepare_template(self, config: FunctionConfiguration) -> None:
        """As AWS snapshots a SnapStart version when it is published, build its template now (in
        the background) where the runtime is running, so its first cold start is a restore."""
        invoker, pool = self._invoker, self._pool
        if invoker is None or pool is None or not self._snap_start(config):
            return
        key = PoolKey(config.name, config.version, config.revision_id)
        threading.Thread(target=pool.prepare_template, args=(key, lambda t: invoker.spec(config, t)),
                         name="cumulo-template-prepare", daemon=True).start()

    def list_versions_by_function(self, name: str) -> list[FunctionConfiguration]:
        return self.functions.list_versions(name)

    # -- aliases ----------------------------------------------------------------
    def create_alias(self, name: str, alias: str, function_version: str, description: str = "",
                     routing_weights: dict[str, float] | None = None) -> Alias:
        return self.functions.create_alias(name, alias, function_version, description, routing_weights)

    def get_alias(self, name: str, alias: str) -> Alias:
        return self.functions.get_alias(name, alias)

    def update_alias(self, name: str, alias: str, **changes: Any) -> Alias:
        return self.functions.update_alias(name, alias, **changes)

    def delete_alias(self, name: str, alias: str) -> None:
        self.functions.delete_alias(name, alias)
        self.function_policies.forget(fn.parse_function_ref(name)[0], alias)
        self.function_urls.forget(fn.parse_function_ref(name)[0], alias)

    def list_aliases(self, name: str, function_version: str | None = None) -> list[Alias]:
        return self.functions.list_aliases(name, function_version)

    # -- tags and account -------------------------------------------------------
    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        self._tagged(arn)
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise InvalidParameterValueException("Tags must be a map of strings to strings.")
        if len(set(self.store.list_tags(arn)) | set(tags)) > 50:
            raise InvalidParameterValueException("A function can have at most 50 tags.")
        self.store.tag(arn, tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        self._tagged(arn)
        self.store.untag(arn, keys)

    def list_tags(self, arn: str) -> dict[str, str]:
        self._tagged(arn)
        return self.store.list_tags(arn)

    def _tagged(self, arn: str) -> None:
        name, qualifier = fn.parse_function_ref(arn)
        if qualifier is not None or not arn.startswith("arn:"):
            raise InvalidParameterValueException("Tags apply to a function's unqualified ARN.")
        self.store.get_function(name)

    def get_account_settings(self) -> dict[str, Any]:
        functions = self.store.list_functions()
        total_code = sum({c.code_hex: c.code_size for r in functions
                          for c in self.store.list_versions(r.latest.name)}.values())
        total_code += sum({v.code_hex: v.code_size for v in self.layers.all_versions()}.values())  # AWS counts layers
        return {
            "AccountLimit": {
                "TotalCodeSize": 80 * 1024 ** 3,
                "CodeSizeUnzipped": limits.UNZIPPED_MAX_BYTES,
                "CodeSizeZipped": limits.ZIP_MAX_BYTES,
                "ConcurrentExecutions": self.limiter.account_limit,
                "UnreservedConcurrentExecutions": self.limiter.unreserved_limit,
            },
            "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(functions)},
        }

    def _function_changed(self, name: str) -> None:
        if self._pool is None:
            return
        keep = set()
        try:
            for config in self.store.list_versions(name):
                keep.add(PoolKey(config.name, config.version, config.revision_id))
        except ResourceNotFoundException:
            pass
        self._pool.retire(name, keep)

    # -- concurrency ----------------------------------------------------------
    def put_function_concurrency(self, name: str, reserved: int) -> int:
        fname = self.functions.record(name).latest.name
        if isinstance(reserved, bool) or not isinstance(reserved, int):
            raise InvalidParameterValueException("ReservedConcurrentExecutions must be an integer.")
        self.limiter.check_reservation(fname, reserved)
        self.store.set_reserved_concurrency(fname, reserved)
        self.limiter.set_reserved(fname, reserved)
        return reserved

    def get_function_concurrency(self, name: str) -> int | None:
        return self.functions.record(name).reserved_concurrency

    def delete_function_concurrency(self, name: str) -> None:
        fname = self.functions.record(name).latest.name
        self.store.set_reserved_concurrency(fname, None)
        self.limiter.set_reserved(fname, None)

    def put_provisioned_concurrency_config(self, name: str, qualifier: str, count: int) -> dict[str, Any]:
        config = self._provisionable(name, qualifier)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidParameterValueException("ProvisionedConcurrentExecutions must be 1 or more.")
        reserved = self.store.get_function(config.name).reserved_concurrency
        if reserved is not None and count > reserved:
            raise InvalidParameterValueException(
                f"Requested Provisioned Concurrency ({count}) must be less than or equal to the function's "
                f"reserved concurrency ({reserved}).")
        self.store.set_provisioned_concurrency(config.name, config.version, count)
        if self._invoker is not None:
            self._apply_provisioned(config.name, config.version, count)
        return self.get_provisioned_concurrency_config(name, qualifier)

    def get_provisioned_concurrency_config(self, name: str, qualifier: str) -> dict[str, Any]:
        config = self._provisionable(name, qualifier)
        requested = self.store.get_provisioned_concurrency(config.name, config.version)
        if requested is None:
            raise ProvisionedConcurrencyConfigNotFoundException("No Provisioned Concurrency Config found for this function")
        ready = 0
        error = None
        if self._pool is not None:
            _, ready, error = self._pool.provisioned_status(PoolKey(config.name, config.version, config.revision_id))
        if self._database is not None and self._heartbeat is not None:    # and the other nodes' parts
            from cumulo.store.postgres.nodes import live_nodes

            ready += sum(int((row.get("provisioned") or {}).get(f"{config.name}:{config.version}", 0))
                         for row in live_nodes(self._database, int(time.time() * 1000))
                         if row["node"] != self._heartbeat.id)
        status = "READY" if ready >= requested else ("FAILED" if error else "IN_PROGRESS")
        doc = {"RequestedProvisionedConcurrentExecutions": requested,
               "AvailableProvisionedConcurrentExecutions": ready,
               "AllocatedProvisionedConcurrentExecutions": ready, "Status": status}
        if error:
            doc["StatusReason"] = f"Environments failed to initialise: {error}"
        return doc

    def delete_provisioned_concurrency_config(self, name: str, qualifier: str) -> None:
        config = self._provisionable(name, qualifier)
        self.store.set_provisioned_concurrency(config.name, config.version, None)
        if self._pool is not None:
            self._pool.set_provisioned(PoolKey(config.name, config.version, config.revision_id), 0,
                                       lambda t: self._runtime().spec(config, t))

    def wait_provisioned(self, name: str, qualifier: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Block until the provisioned environments are all initialised (or the timeout)."""
        self._runtime()
        deadline = time.monotonic() + timeout_s
        while True:
            doc = self.get_provisioned_concurrency_config(name, qualifier)
            if doc["Status"] != "IN_PROGRESS" or time.monotonic() > deadline:
                return doc
            time.sleep(0.02)

    def _provisionable(self, name: str, qualifier: str) -> FunctionConfiguration:
        if qualifier in (None, "", LATEST):
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        return self.functions.get(name, qualifier)

    def _apply_provisioned(self, name: str, qualifier: str, target: int) -> None:
        """Keep this node's part of ``target`` provisioned environments of a version warm: all of
        it alone, else its even part among the cluster's live nodes (``_placed``)."""
        config = self.functions.get(name, qualifier)
        invoker = self._runtime()
        self.pool.set_provisioned(PoolKey(config.name, config.version, config.revision_id),
                                  self._provisioned_part(config.name, config.version, target),
                                  lambda t: invoker.spec(config, t))

    def _provisioned_part(self, name: str, version: str, total: int) -> int:
        """This node's part of a version's ``total`` provisioned environments: an even split among the
        live nodes, the remainder's ones starting at a node chosen by the version's name (so small
        counts of many versions spread over the nodes). The parts of all nodes add up to ``total``."""
        rank, nodes = self._placement
        turn = (rank + zlib.crc32(f"{name}:{version}".encode())) % nodes
        return even_share(total, turn, nodes)

    def _provisioned_here(self) -> dict[str, int]:
        """``name:version`` -> this node's initialised provisioned environments (its heartbeat's load)."""
        if self._pool is None:
            return {}
        return {f"{k.function}:{k.version}": self._pool.provisioned_status(k)[1]
                for k in self._pool.provisioned_targets()}

    def _placed(self, rank: int, nodes: int) -> None:
        """Told by the heartbeat where this node stands among the live ones: its parts of the
        provisioned concurrency are placed again (in a thread: environments take a while to start)."""
        self._placement = (rank, max(nodes, 1))
        if not self._placing.acquire(blocking=False):
            return

        def place() -> None:
            try:
                self.place_provisioned()
            except Exception:  # noqa: BLE001 -- the next beat tries again
                logging.getLogger(__name__).exception("placing provisioned concurrency failed")
            finally:
                self._placing.release()

        threading.Thread(target=place, name="cumulo-provisioned", daemon=True).start()

    def place_provisioned(self) -> None:
        """Bring this node's provisioned environments to its part of every configured count (set
        through any node), and drop those of configurations deleted meanwhile. The runtime is
        started for it when this node has none yet and something is provisioned."""
        configured = self.store.list_provisioned_concurrency()
        if self._invoker is None and not configured:
            return
        invoker = self._runtime()
        pool = self.pool
        have = pool.provisioned_targets()
        wanted: dict[PoolKey, tuple[FunctionConfiguration, int]] = {}
        for name, qualifier, total in configured:
            try:
                config = self.functions.get(name, qualifier)
            except Exception:  # noqa: BLE001 -- deleted meanwhile
                continue
            wanted[PoolKey(config.name, config.version, config.revision_id)] = (
                config, self._provisioned_part(config.name, config.version, total))
        for key, (config, part) in wanted.items():
            if have.get(key, 0) != part:
                pool.set_provisioned(key, part, functools.partial(invoker.spec, config))
        for key in have:
            if key not in wanted:
                pool.set_provisioned(key, 0, lambda t: None)    # type: ignore[arg-type,return-value]

    # -- layers ---------------------------------------------------------------
    def publish_layer_version(self, name: str, content: LayerSource, compatible_runtimes: list[str] | None = None,
                              description: str = "", compatible_architectures: list[str] | None = None,
                              license_info: str | None = None) -> dict[str, Any]:
        """PublishLayerVersion: ``content`` is a folder, a zip's path or zip bytes."""
        item = self.layers.publish(name, content, compatible_runtimes, compatible_architectures, description,
                                   license_info)
        return self.layers.to_aws(item)

    def get_layer_version(self, name: str, version: int | str) -> dict[str, Any]:
        return self.layers.to_aws(self.layers.get(name, version))

    def get_layer_version_by_arn(self, arn: str) -> dict[str, Any]:
        return self.layers.to_aws(self.layers.get_by_arn(arn))

    def list_layers(self, compatible_runtime: str | None = None,
                    compatible_architecture: str | None = None) -> list[dict[str, Any]]:
        return [{"LayerName": name, "LayerArn": self.layers.layer_arn(name),
                 "LatestMatchingVersion": latest.list_item(self.layers.layer_arn(name))}
                for name, latest in self.layers.layers(compatible_runtime, compatible_architecture)]

    def list_layer_versions(self, name: str, compatible_runtime: str | None = None,
                            compatible_architecture: str | None = None) -> list[dict[str, Any]]:
        return [v.list_item(self.layers.layer_arn(v.name))
                for v in self.layers.versions(name, compatible_runtime, compatible_architecture)]

    def delete_layer_version(self, name: str, version: int | str) -> None:
        self.layers.delete(name, version)

    def add_layer_version_permission(self, name: str, version: int | str, statement_id: str, action: str,
                                     principal: str, organization_id: str | None = None,
                                     revision_id: str | None = None) -> dict[str, str]:
        return self.layers.add_permission(name, version, statement_id, action, principal, organization_id,
                                          revision_id)

    def get_layer_version_policy(self, name: str, version: int | str) -> dict[str, str]:
        return self.layers.get_policy(name, version)

    def remove_layer_version_permission(self, name: str, version: int | str, statement_id: str,
                                        revision_id: str | None = None) -> None:
        self.layers.remove_permission(name, version, statement_id, revision_id)

    def _release_layers(self, refs: Any) -> None:
        for code_hex in {ref.code_hex for ref in refs if ref.code_hex}:
            self.layers.release(code_hex)

    def _layer_in_use(self, code_hex: str) -> bool:
        return any(ref.code_hex == code_hex for record in self.store.list_functions()
                   for config in self.store.list_versions(record.latest.name)   # $LATEST and the versions
                   for ref in config.layers)

    # -- invocation -----------------------------------------------------------
    def invoke(self, name: str, payload: bytes | str | None = None, qualifier: str | None = None,
               invocation_type: str = "RequestResponse", log_type: str = "None",
               client_context: dict | None = None, identity: dict | None = None,
               trace_header: str | None = None, dedup_id: str | None = None) -> InvocationResult:
        """Invoke a function, as Lambda's Invoke does. Function errors are results, not exceptions.
        ``trace_header``: the caller's ``X-Amzn-Trace-Id`` (docs/traces.md).

        ``invocation_type="Event"`` commits the event and returns 202 at once; it runs when a
        process on this store runs its workers (``cumulo up``, or ``start_workers()``). With
        ``dedup_id``, an event of the same id committed in the last 5 minutes makes this one a
        no-op (a schedule's fire, sent again by another node)."""
        data = payload.encode() if isinstance(payload, str) else (payload or b"")
        if invocation_type == InvocationType.EVENT:
            request_id, config = self.async_events.enqueue(name, qualifier, data, client_context, trace_header,
                                                                 dedup_id)
            return InvocationResult(202, b"", config.version, request_id)
        config, invoked_arn = self.functions.resolve_for_invoke(name, qualifier)
        if config.kms_key_arn and config.environment:
            self._environment_key(config.kms_key_arn)
        self._sync_limits()
        request = InvocationRequest(data, invocation_type, log_type, client_context, identity, trace_header=trace_header)
        return self._runtime().invoke(config, request, invoked_arn)

    async def invoke_on_loop(self, name: str, payload: bytes, executor: Executor, qualifier: str | None = None,
                             invocation_type: str = "RequestResponse", log_type: str = "None",
                             client_context: dict | None = None, identity: dict | None = None,
                             busy: Callable[[], bool] | None = None,
                             trace_header: str | None = None) -> InvocationResult:
        """``invoke`` for asyncio callers (the gateway): warm invocations never leave the event loop;
        cold starts and other blocking work run in ``executor``. ``busy()``: whether the loop has other
        work (``edge.server.Readiness.pending``); while it has none and nothing else is in flight, a
        short invocation is awaited by polling (``Settings.spin_us``)."""
        config, invoked_arn = self.functions.resolve_for_invoke(name, qualifier)
        if config.kms_key_arn and config.environment:
            self._environment_key(config.kms_key_arn)
        self._sync_limits()
        request = InvocationRequest(payload, invocation_type, log_type, client_context, identity,
                                    trace_header=trace_header)
        return await self._runtime().invoke_on_loop(config, request, invoked_arn, executor, busy)

    def _environment_key(self, arn: str) -> None:
        """A function whose ``KMSKeyArn`` names a key of Cumulo's that cannot decrypt (disabled,
        pending deletion) is not run, with Lambda's error (502), as on AWS where its environment
        could not be opened; a key Cumulo does not keep is not checked (docs/secrets.md)."""
        refused = self.kms.usable_for_decrypt(arn)
        if refused is not None:
            raise ServiceError(refused[0], refused[1], 502)

    # -- logs -----------------------------------------------------------------
    def get_logs(self, name: str, since_ms: int = 0, after_id: int = 0, request_id: str | None = None,
                 limit: int = 10_000) -> list[LogRecord]:
        fname, _ = fn.parse_function_ref(name)
        self.logs.flush()
        return self.store.query_logs(fname, since_ms, after_id, limit, request_id)

    @property
    def home(self) -> Path:
        return self.settings.home


log = logging.getLogger("cumulo.iam")


class _UnknownOperation(CumuloError):
    status = 400

    @property
    def type(self) -> str:
        return "UnknownOperationException"


class _AccessDenied(CumuloError):
    status = 403

    @property
    def type(self) -> str:
        return "AccessDeniedException"


class _ServiceCalls:
    """``ports.ServiceCalls``: an API action of a service Cumulo serves, as a role. The role's
    policies (and the resource's own policy) decide each call through the same authorization mapping
    and IAM evaluation as requests at the control plane (``api/authz``, ``cumulo.iam``), unless
    ``Settings.iam`` is off; None as the role is the platform's own call. Served today: DynamoDB's
    operations; ``refusal`` also answers for the calls state machines' tasks make through the
    target router (Lambda's Invoke, SQS's SendMessage, EventBridge's PutEvents, StartExecution).
    Once ``cumulo up``'s control plane exists it serves every call (``serve_through``: the API's
    operations of every service, as SDK requests; ``api/service_calls.py``)."""

    def __init__(self, cumulo: "Cumulo") -> None:
        self._c = cumulo
        self._route: Callable[[str, str, dict[str, Any], str | None], Any] | None = None

    def serve_through(self, route: Callable[[str, str, dict[str, Any], str | None], Any]) -> None:
        """Calls go to ``route`` from now on (the control plane's, which authorizes them itself)."""
        self._route = route

    def call(self, service: str, action: str, params: dict[str, Any], role: str | None = None) -> Any:
        if self._route is not None:
            return self._route(service, action, params, role)
        if service != "dynamodb" or action not in self._c.tables.operations or action in (
                "ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"):
            raise _UnknownOperation(f"Cumulo does not serve {service}:{action} to state machines")
        refused = self.refusal(role, service, action, params)
        if refused is not None:
            raise _AccessDenied(refused)
        return self._c.tables.call(action, params)

    def refusal(self, role: str | None, service: str, action: str, params: dict[str, Any]) -> str | None:
        mode = self._c.settings.iam
        if role is None or mode == "off":
            return None
        scope = authz.Scope(self._c.arns.account, self._c.arns.region)
        principal = self._c.identity.principal("", role, "states")
        policies = self._c.policies_for(role)
        for check in authz.checks(authz.Call(service, action, params), scope):
            request = iam.Request(principal, check.action, check.resource, check.context)
            resource = self._c.resource_policy(check.resource) if check.resource != "*" else None
            decision = iam.evaluate(request, policies, resource)
            if not decision:
                if mode == "audit":
                    log.warning("IAM audit: would deny %s:%s to %s: %s", service, action, role, decision.message)
                    return None
                return decision.message
        return None

    def assumable(self, role_arn: str, service: str) -> bool:
        trust = self._c.identity.trust_policy(role_arn)
        if trust is None:
            return False
        name = service.split(".", 1)[0]
        regional = f"{name}.{self._c.arns.region}.amazonaws.com"
        return any(iam.evaluate(iam.Request(iam.Principal.service_principal(who), "sts:AssumeRole", role_arn),
                                (), trust) for who in (service, regional))


class _Streams:
    """``ports.Streams`` for event-source mappings: a Kinesis stream, or a table's stream (one shard;
    its name in the message store is ``table/<name>/stream/<label>``)."""

    def __init__(self, kinesis: StreamService, tables: TableService) -> None:
        self._kinesis, self._tables = kinesis, tables

    def require(self, arn: str) -> None:
        if is_table_stream(arn):
            self._tables.require_stream(arn)
        else:
            self._kinesis.require(arn)

    def shard_count(self, name: str) -> int:
        return 1 if name.startswith("table/") else self._kinesis.shard_count(name)

    def position(self, name: str, shard: int, kind: str, sequence: Any = None, timestamp: Any = None) -> int:
        if name.startswith("table/"):
            return self._tables.stream_position(name, kind)
        return self._kinesis.position(name, shard, kind, sequence, timestamp)


def _private_folder(home: Path) -> None:
    """The home exists and only its owner may enter it: it holds access keys, functions'
    environment variables and code (sandboxed functions run as other users)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if home.stat().st_uid == os.geteuid():
        home.chmod(0o700)


def _private_files(home: Path) -> None:
    """The databases (and their journals, which SQLite creates with the database's mode) 0600."""
    for path in home.glob("*.db*"):
        try:
            if path.stat().st_uid == os.geteuid():
                path.chmod(0o600)
        except OSError:
            pass


def _network(s: Settings) -> str:
    """Where environments' network lives (``runtime.zygote.Zygote``): a namespace of their own
    wherever the namespace level may be used (the zygote finds out whether it may: as root, or in a
    user namespace of its own), without outbound access under ``no_network``."""
    if s.sandbox == "process":
        return "host"
    return "none" if s.no_network else "isolated"
