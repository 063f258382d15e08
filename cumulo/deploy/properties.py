"""The properties of an ``AWS::Serverless::Function``: Globals merged in, read and checked.

Values are checked with the same validators the Lambda API uses
(``cumulo.model.function``), so a template is refused for what ``CreateFunction``
would refuse. Faults are ``IntrinsicError``s whose message starts with the
property and its line; the ``function`` kind (``cumulo.deploy.kinds.function``) adds the resource.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, Scope, is_intrinsic, resolve, to_str
from cumulo.deploy.url_config import read_url_config
from cumulo.deploy.triggers import EventInvokeSpec, read_dead_letter_queue, read_event_invoke_config
from cumulo.errors import CumuloError
from cumulo.model import limits
from cumulo.model.alias import validate_alias_name
from cumulo.runtime.catalog import host_architecture, interpreter_note
from cumulo.model.function import (
    validate_description, validate_environment, validate_ephemeral_storage, validate_handler, validate_memory,
    validate_runtime, validate_snap_start, validate_logging_config, validate_timeout, validate_tracing,
    validate_vpc_config,
)

__all__ = ["SUPPORTED", "IGNORED", "FunctionSpec", "CONFIGURATION", "check_globals", "merge_globals", "read_function",
           "plain", "inline_code"]

SUPPORTED = frozenset({
    "CodeUri", "InlineCode", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig", "AutoPublishAlias", "Layers", "Architectures", "Description",
    "EphemeralStorage", "FunctionName", "Events", "Tags", "PackageType", "DeadLetterQueue", "EventInvokeConfig",
    "SnapStart", "VpcConfig", "VersionDescription", "FunctionUrlConfig", "Tracing", "LoggingConfig",
    "DeploymentPreference", "DurableConfig",
    # the role: Role here; the others make the role SAM creates without it (cumulo.deploy.kinds.role)
    "Role", "Policies", "PermissionsBoundary", "RolePath", "AssumeRolePolicyDocument",
})
# Accepted so that ordinary SAM templates load, and ignored: Cumulo has nothing they could configure.
IGNORED: dict[str, str] = {
    "KmsKeyArn": "environment variables are sealed with the store's master key, not this KMS key",
    "CodeSigningConfigArn": "code signatures are not checked",
}
# SAM refuses these in Globals.Function.
_NOT_IN_GLOBALS = frozenset({"Role", "Policies", "FunctionName", "Events"})
# Globals sections SAM knows; only Function is read, the others configure resources Cumulo does not make.
_GLOBALS_SECTIONS = frozenset({"Function", "Api", "HttpApi", "SimpleTable", "StateMachine", "LayerVersion",
                               "CapacityProvider"})
_ARCHITECTURES = ("x86_64", "arm64")
_LAYERS_MAX = 5
_TAGS_MAX = 50
_EVENT_NAME_RE = re.compile(r"[A-Za-z0-9]+")


def _configuration(**kwargs: Any) -> Any:
    """A field that is part of the function's configuration, as ``CreateFunction`` takes it."""
    return field(metadata={"configuration": True}, **kwargs)


@dataclass(frozen=True)
class DeploymentPreference:
    """SAM's ``DeploymentPreference``: how a new version reaches the ``AutoPublishAlias`` (CodeDeploy's
    gradual deployment; ``Type`` a predefined configuration's name or a custom one's)."""

    type: str
    enabled: bool = True
    hooks: dict[str, str] = field(default_factory=dict)   # BeforeAllowTraffic/AfterAllowTraffic -> function
    alarms: list[str] = field(default_factory=list)       # alarm names: one in ALARM rolls it back


@dataclass(frozen=True)
class FunctionSpec:
    """A function's properties, read and checked (everything but its name and logical id): their one
    declaration (the template's ``FunctionResource`` adds the resource's identity and what its events make)."""

    code_uri: Path | bytes              # a folder or .zip, or the zip of InlineCode
    handler: str = _configuration()
    runtime: str = _configuration()
    memory_size: int = _configuration(default=limits.MEMORY_DEFAULT_MB)
    timeout: int = _configuration(default=limits.TIMEOUT_DEFAULT_S)
    environment: dict[str, str] = _configuration(default_factory=dict)
    description: str = _configuration(default="")
    ephemeral_storage: int = _configuration(default=limits.EPHEMERAL_DEFAULT_MB)
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    auto_publish_alias: str | None = None
    layers: list[str] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> {"Type", "Properties"}
    tags: dict[str, str] = field(default_factory=dict)
    dead_letter_arn: str = _configuration(default="")
    architecture: str = _configuration(default="x86_64")
    vpc_config: dict[str, Any] = _configuration(default_factory=dict)   # VpcConfig, normalised ({}: none)
    tracing: str = _configuration(default="PassThrough")   # Tracing: Active | PassThrough (Disabled: PassThrough)
    logging_config: dict[str, str] = _configuration(default_factory=dict)   # LoggingConfig, checked
    role: str = _configuration(default="")     # Role (an ARN); the function kind gives SAM's role without it
    event_lines: dict[str, int] = field(default_factory=dict, compare=False)
    notes: list[str] = field(default_factory=list, compare=False)   # what was accepted but ignored
    event_invoke_config: EventInvokeSpec | None = None
    snap_start: str | None = None       # SnapStart.ApplyOn when set (unset: the function keeps what it has)
    version_description: str = ""       # the description of the versions AutoPublishAlias publishes
    url_config: dict[str, Any] | None = None   # FunctionUrlConfig, checked (the function URL kind makes it)
    deployment: DeploymentPreference | None = None   # DeploymentPreference (functions/deployments.py shifts)


# The properties that are the function's configuration (``FunctionConfiguration`` has each, by these names).
CONFIGURATION = tuple(f.name for f in fields(FunctionSpec) if f.metadata.get("configuration"))


# --- Globals ------------------------------------------------------------------------------

def check_globals(section: Node) -> Node:
    """``Globals.Function`` after checking the section; an empty map when there is none."""
    for name in section:
        if name not in _GLOBALS_SECTIONS:
            raise IntrinsicError(f"Globals: unknown section '{name}'", section.line_of(name))
    function = section.get("Function", Node(line=section.line))
    if not isinstance(function, Node):
        raise IntrinsicError("Globals.Function must be a map", section.line_of("Function"))
    for key in function:
        if key in _NOT_IN_GLOBALS:
            raise IntrinsicError(f"Globals.Function: property '{key}' cannot be set in Globals",
                                 function.line_of(key))
        if key not in SUPPORTED and key not in IGNORED:
            raise IntrinsicError(f"Globals.Function: unknown or unsupported property '{key}'",
                                 function.line_of(key))
    return function


def merge_globals(globals_: Node, local: Node) -> Node:
    """SAM's rule: the resource's scalars replace, maps merge (resource wins), lists are global + local.

    ``Architectures`` is replaced instead: a function has exactly one, so
    appending would only build a list Lambda refuses.
    """
    merged = _merge(globals_, local)
    if "Architectures" in local:
        merged["Architectures"] = local["Architectures"]
    assert isinstance(merged, Node)
    return merged


def _merge(global_value: Any, local: Any) -> Any:
    if _plain_map(global_value) and _plain_map(local):
        out = Node(line=getattr(local, "line", 0))
        for source in (global_value, local):
            for key, value in source.items():
                out[key] = _merge(out[key], value) if source is local and key in out else value
                out.key_lines[key] = source.line_of(key) if isinstance(source, Node) else out.line
        return out
    if isinstance(global_value, list) and isinstance(local, list):
        return global_value + local
    return local


def _plain_map(value: Any) -> bool:
    # An intrinsic is a value, not a map: the resource's wins, as SAM does.
    return isinstance(value, dict) and not is_intrinsic(value)


# --- properties ---------------------------------------------------------------------------

class _Reader:
    """Resolves one property at a time and puts its name and line on any fault."""

    def __init__(self, properties: Node, scope: Scope) -> None:
        self.properties = properties
        self.scope = scope

    def get(self, key: str, convert: Callable[[Any], Any], default: Any = None, required: bool = False) -> Any:
        line = self.properties.line_of(key)
        try:
            value = resolve(self.properties[key], self.scope) if key in self.properties else NO_VALUE
            if value is NO_VALUE:
                if required:
                    raise IntrinsicError(f"property {key} is required", self.properties.line)
                return default
            return convert(value)
        except (IntrinsicError, CumuloError) as exc:
            if exc.message.startswith(f"property {key} "):
                raise
            raise IntrinsicError(f"property {key} (line {line}): {exc.message}",
                                 getattr(exc, "line", None) or line) from None


def read_function(properties: Node, scope: Scope, base: Path) -> FunctionSpec:
    """Reads a function's (merged) properties; ``CodeUri`` is relative to ``base``."""
    notes = _check_names(properties)
    get = _Reader(properties, scope).get
    get("PackageType", _package_type)
    architecture = get("Architectures", _architecture, "x86_64")
    if architecture != host_architecture():
        notes.append(f"Architectures: {architecture} requested and kept in the configuration; Cumulo runs "
                     f"functions on its host's architecture ({host_architecture()})")
    alias = get("AutoPublishAlias", _alias)
    reserved = get("ReservedConcurrentExecutions", _reserved)
    provisioned = get("ProvisionedConcurrencyConfig", _provisioned)
    _check_concurrency(properties, alias, reserved, provisioned)
    events, event_lines = _events(properties, scope)
    runtime = get("Runtime", lambda v: validate_runtime(to_str(v)), required=True)
    if "InlineCode" in properties and "CodeUri" in properties:
        raise IntrinsicError(f"property InlineCode (line {properties.line_of('InlineCode')}): CodeUri and "
                             "InlineCode cannot both be set", properties.line_of("InlineCode"))
    code: Path | bytes = (get("InlineCode", lambda v: inline_code(to_str(v), runtime)) if "InlineCode" in properties
                          else get("CodeUri", lambda v: single_file_code(_code_uri(base, v)),
                                   _code_uri(base, ".")))   # SAM's default
    spec = FunctionSpec(
        code_uri=code,
        handler=get("Handler", lambda v: validate_handler(to_str(v)), required=True),
        runtime=runtime,
        memory_size=get("MemorySize", lambda v: validate_memory(_integer(v)), limits.MEMORY_DEFAULT_MB),
        timeout=get("Timeout", lambda v: validate_timeout(_integer(v)), limits.TIMEOUT_DEFAULT_S),
        environment=get("Environment", _environment, {}),
        description=get("Description", lambda v: validate_description(to_str(v)), ""),
        ephemeral_storage=get("EphemeralStorage", _ephemeral, limits.EPHEMERAL_DEFAULT_MB),
        reserved_concurrency=reserved,
        provisioned_concurrency=provisioned,
        auto_publish_alias=alias,
        layers=get("Layers", _layers, []),
        events=events,
        tags=get("Tags", _tags, {}),
        architecture=architecture,
        event_lines=event_lines,
        notes=notes,
        dead_letter_arn=get("DeadLetterQueue", lambda v: read_dead_letter_queue(plain(v)), ""),
        event_invoke_config=get("EventInvokeConfig", lambda v: read_event_invoke_config(plain(v))),
        snap_start=get("SnapStart", _snap_start),
        vpc_config=get("VpcConfig", _vpc_config, {}),
        tracing=get("Tracing", _tracing, "PassThrough"),
        logging_config=get("LoggingConfig", _logging_config, {}),
        version_description=get("VersionDescription", lambda v: validate_description(to_str(v)), ""),
        role=get("Role", _role, ""),
        url_config=get("FunctionUrlConfig", read_url_config),
        deployment=get("DeploymentPreference", lambda v: _deployment_preference(v, notes)),
    )
    get("DurableConfig", lambda v: notes.append(_durable_config(v)))
    if spec.deployment is not None and alias is None:
        line = properties.line_of("DeploymentPreference")
        raise IntrinsicError(f"property DeploymentPreference (line {line}): requires AutoPublishAlias property to "
                             "be specified", line)
    if (note := interpreter_note(spec.runtime)) is not None:
        notes.append(note)
    return spec


_HOOKS = {"PreTraffic": "BeforeAllowTraffic", "PostTraffic": "AfterAllowTraffic"}


def _deployment_preference(value: Any, notes: list[str]) -> DeploymentPreference:
    """``DeploymentPreference: {Type, Enabled, Hooks: {PreTraffic, PostTraffic}, Alarms, Role, ...}``."""
    config = _map(plain(value), frozenset({"Type", "Enabled", "Hooks", "Alarms", "Role", "TriggerConfigurations",
                                           "PassthroughCondition"}))
    if "Type" not in config:
        raise IntrinsicError("Type is required (Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce, "
                             "..., or a custom deployment configuration's name)")
    enabled = config.get("Enabled", True)
    if isinstance(enabled, str) and enabled.lower() in ("true", "false"):
        enabled = enabled.lower() == "true"
    if not isinstance(enabled, bool):
        raise IntrinsicError("Enabled must be a boolean")
    hooks = _map(config.get("Hooks", {}), frozenset(_HOOKS))
    alarms = config.get("Alarms", [])
    for key in ("Role", "TriggerConfigurations"):
        if key in config:
            notes.append(f"DeploymentPreference.{key} ignored: Cumulo's deployments run with the platform's rights "
                         "and send no CodeDeploy triggers")
    return DeploymentPreference(to_str(config["Type"]), enabled,
                                {_HOOKS[k]: to_str(v) for k, v in hooks.items()},
                                _strings(alarms) if alarms else [])


_DURABLE_TIMEOUT_MAX_S = 31_622_400       # 366 days
_DURABLE_RETENTION_DAYS = (1, 90)
_DURABLE_RETENTION_DEFAULT_DAYS = 14


def _durable_config(value: Any) -> str:
    """``DurableConfig: {ExecutionTimeout, RetentionPeriodInDays}`` (a durable function), checked as Lambda
    checks it, and the warning that says what Cumulo does instead: it runs the function as an ordinary one."""
    config = _map(plain(value), frozenset({"ExecutionTimeout", "RetentionPeriodInDays"}))
    if "ExecutionTimeout" not in config:
        raise IntrinsicError("ExecutionTimeout is required (seconds, 1 to 31622400)")
    timeout = _integer(config["ExecutionTimeout"])
    _durable_range("executionTimeout", timeout, 1, _DURABLE_TIMEOUT_MAX_S)
    retention = _integer(config.get("RetentionPeriodInDays", _DURABLE_RETENTION_DEFAULT_DAYS))
    _durable_range("retentionPeriodInDays", retention, *_DURABLE_RETENTION_DAYS)
    return (f"DurableConfig accepted, and the function deployed as an ordinary one: on AWS Lambda runs it as a "
            f"durable execution (its steps checkpointed and replayed across invocations for up to {timeout} s, the "
            f"history kept {retention} days); Cumulo does not: each invocation runs once, the durable execution "
            "input (DurableExecutionArn, CheckpointToken) is not passed and CheckpointDurableExecution / "
            "GetDurableExecutionState are not served, so a handler wrapped by the durable execution SDK "
            "(withDurableExecution, @durable_execution) cannot run")


def _durable_range(member: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        bound = f"less than or equal to {high}" if value > high else f"greater than or equal to {low}"
        raise IntrinsicError(f"1 validation error detected: Value '{value}' at 'durableConfig.{member}' failed to "
                             f"satisfy constraint: Member must have value {bound}")


def _snap_start(value: Any) -> str:
    """``SnapStart: {ApplyOn: PublishedVersions | None}``, as CloudFormation writes it."""
    config = plain(value)
    if not isinstance(config, dict) or set(config) != {"ApplyOn"}:
        raise IntrinsicError("must be a map with exactly one key, ApplyOn")
    return validate_snap_start(config["ApplyOn"])


def _tracing(value: Any) -> str:
    """SAM's ``Tracing``: ``Active`` or ``PassThrough``; ``Disabled`` leaves the function's
    TracingConfig out, which Lambda reports as PassThrough."""
    mode = to_str(value)
    return "PassThrough" if mode == "Disabled" else validate_tracing(mode)


def _logging_config(value: Any) -> dict[str, str]:
    """``LoggingConfig: {LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup}``, checked as
    CreateFunction checks it."""
    config = _map(plain(value), frozenset({"LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup"}))
    return validate_logging_config({key: to_str(item) for key, item in config.items()})


def _vpc_config(value: Any) -> dict[str, Any]:
    """``VpcConfig: {SubnetIds, SecurityGroupIds}``: the function gets no outbound network (Cumulo's
    VPC has no NAT gateway), checked as CreateFunction checks it."""
    config = _map(plain(value), frozenset({"SubnetIds", "SecurityGroupIds", "Ipv6AllowedForDualStack"}))
    return validate_vpc_config({key: _strings(item) if key != "Ipv6AllowedForDualStack" else item
                                for key, item in config.items()})


_ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"


def _role(value: Any) -> str:
    """``Role``: a role's ARN (``!GetAtt MyRole.Arn``), as CreateFunction checks it."""
    arn = to_str(value)
    if not re.fullmatch(_ROLE_PATTERN, arn):
        raise IntrinsicError(f"1 validation error detected: Value '{arn}' at 'role' failed to satisfy constraint: "
                             f"Member must satisfy regular expression pattern: {_ROLE_PATTERN} (give the role's "
                             "ARN, e.g. !GetAtt MyRole.Arn)")
    return arn


def _check_names(properties: Node) -> list[str]:
    notes = []
    for key in properties:
        if key in IGNORED:
            notes.append(f"{key} ignored: {IGNORED[key]}")
        elif key not in SUPPORTED:
            raise IntrinsicError(f"unknown or unsupported property '{key}' (line {properties.line_of(key)})",
                                 properties.line_of(key))
    return notes


def _check_concurrency(properties: Node, alias: str | None, reserved: int | None,
                       provisioned: int | None) -> None:
    if provisioned is None:
        return
    line = properties.line_of("ProvisionedConcurrencyConfig")
    if alias is None:
        raise IntrinsicError(f"property ProvisionedConcurrencyConfig (line {line}): can only be set together "
                             "with AutoPublishAlias", line)
    if reserved is not None and provisioned > reserved:
        raise IntrinsicError(f"property ProvisionedConcurrencyConfig (line {line}): {provisioned} provisioned "
                             f"executions exceed ReservedConcurrentExecutions {reserved}", line)


def _events(properties: Node, scope: Scope) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    section = properties.get("Events", Node(line=properties.line))
    if not isinstance(section, Node):
        raise IntrinsicError(f"property Events (line {properties.line_of('Events')}): must be a map",
                             properties.line_of("Events"))
    events, lines = {}, {}
    for name, event in section.items():
        line = section.line_of(name)
        try:
            events[name] = _event(name, event, scope)
        except (IntrinsicError, CumuloError) as exc:
            raise IntrinsicError(f"event {name} (line {line}): {exc.message}",
                                 getattr(exc, "line", None) or line) from None
        lines[name] = line
    return events, lines


def _event(name: str, event: Any, scope: Scope) -> dict[str, Any]:
    if not _EVENT_NAME_RE.fullmatch(name):
        raise IntrinsicError("event names must be alphanumeric")
    resolved = resolve(event, scope)
    if not isinstance(resolved, dict) or not isinstance(resolved.get("Type"), str):
        raise IntrinsicError("must be a map with a Type")
    if not isinstance(resolved.get("Properties", {}), dict):
        raise IntrinsicError("Properties must be a map")
    event_doc = plain(resolved)
    assert isinstance(event_doc, dict)
    return event_doc


def plain(value: Any) -> Any:
    """Resolved template values as plain dicts and lists (``Node`` carries line numbers)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- values -------------------------------------------------------------------------------

def _integer(value: Any) -> int:
    # A Number parameter's Ref is a string, as CloudFormation passes it on.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise IntrinsicError(f"must be an integer, got {value!r}")


def _map(value: Any, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntrinsicError(f"must be a map, got {type(value).__name__}")
    extra = sorted(set(value) - allowed) if allowed is not None else []
    if extra:
        raise IntrinsicError(f"unknown key '{extra[0]}' (allowed: {', '.join(sorted(allowed or ()))})")
    return dict(value)


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise IntrinsicError(f"must be a list, got {type(value).__name__}")
    return [to_str(item) for item in value]


def inline_code(source: str, runtime: str) -> bytes:
    """``InlineCode`` as CloudFormation's ``ZipFile`` packs it: one file, ``index.py`` or ``index.js``, in a zip
    that is the same bytes for the same source (so an unchanged function is not redeployed)."""
    if runtime.startswith("python"):
        name = "index.py"
    elif runtime.startswith("nodejs"):
        name = "index.js"
    else:
        raise IntrinsicError(f"InlineCode is for Python and Node.js functions, not {runtime}: use CodeUri")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return out.getvalue()


def _code_uri(base: Path, value: Any) -> Path:
    text = "" if isinstance(value, dict) else to_str(value)
    if isinstance(value, dict) or text.startswith("s3://"):
        raise IntrinsicError("only a local path is supported; S3 locations are not (deploy from the sources "
                             "rather than a packaged template)")
    path = (base / text).resolve()
    if not path.exists():
        raise IntrinsicError(f"'{text}' does not exist (looked for {path})")
    return path


def single_file_code(code: Path | bytes) -> Path | bytes:
    """A ``CodeUri`` naming one file that is not a zip is packaged as ``sam package`` / ``aws cloudformation
    package`` do: zipped alone, at the root of the package (``CodeUri: src/function.py``, handler
    ``function.handler``); a folder or a .zip is kept as it is."""
    if isinstance(code, bytes) or not code.is_file() or zipfile.is_zipfile(code):
        return code
    if code.stat().st_size > limits.ZIP_MAX_BYTES:
        raise IntrinsicError(f"'{code.name}' is larger than a code package may be ({limits.ZIP_MAX_BYTES} bytes)")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(code.name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, code.read_bytes())
    return out.getvalue()


def _package_type(value: Any) -> str:
    if to_str(value) != "Zip":
        raise IntrinsicError(f"'{value}' is not supported; Cumulo deploys Zip packages only")
    return "Zip"


def _architecture(value: Any) -> str:
    items = _strings(value)
    if len(items) != 1 or items[0] not in _ARCHITECTURES:
        raise IntrinsicError(f"must be exactly one of {list(_ARCHITECTURES)}, got {items}")
    return items[0]


def _alias(value: Any) -> str:
    return validate_alias_name(to_str(value))


def _reserved(value: Any) -> int:
    count = _integer(value)
    if count < 0:
        raise IntrinsicError(f"must be 0 or more, got {count}")
    return count


def _provisioned(value: Any) -> int:
    config = _map(value, frozenset({"ProvisionedConcurrentExecutions"}))
    if "ProvisionedConcurrentExecutions" not in config:
        raise IntrinsicError("ProvisionedConcurrentExecutions is required")
    count = _integer(config["ProvisionedConcurrentExecutions"])
    if count < 1:
        raise IntrinsicError(f"ProvisionedConcurrentExecutions must be 1 or more, got {count}")
    return count


def _ephemeral(value: Any) -> int:
    config = _map(value, frozenset({"Size"}))
    if "Size" not in config:
        raise IntrinsicError("Size is required")
    return validate_ephemeral_storage(_integer(config["Size"]))


def _environment(value: Any) -> dict[str, str]:
    variables = _map(_map(value, frozenset({"Variables"})).get("Variables", {}))
    return validate_environment({key: to_str(item) for key, item in variables.items()})


def _layers(value: Any) -> list[str]:
    layers = _strings(value)
    if len(layers) > _LAYERS_MAX:
        raise IntrinsicError(f"a function can have at most {_LAYERS_MAX} layers, got {len(layers)}")
    return layers


def _tags(value: Any) -> dict[str, str]:
    tags = {key: to_str(item) for key, item in _map(value).items()}
    if len(tags) > _TAGS_MAX:
        raise IntrinsicError(f"a function can have at most {_TAGS_MAX} tags, got {len(tags)}")
    for key, item in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise IntrinsicError(f"tag key '{key}' must be 1 to 128 characters and not start with 'aws:'")
        if len(item) > 256:
            raise IntrinsicError(f"the value of tag '{key}' is longer than 256 characters")
    return tags
