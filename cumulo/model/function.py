"""A function's configuration: what AWS calls ``FunctionConfiguration``.

Validation lives here and is pure: it raises ``ValidationException`` for
constraint violations (as AWS's API layer does) and
``InvalidParameterValueException`` for values that are well-formed but unusable.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.model import limits
from cumulo.model.layer import LayerRef

__all__ = [
    "LATEST",
    "is_version_number",
    "FunctionConfiguration",
    "Arns",
    "parse_function_ref",
    "validate_function_name",
    "validate_handler",
    "validate_runtime",
    "validate_memory",
    "validate_timeout",
    "validate_ephemeral_storage",
    "validate_environment",
    "validate_kms_key_arn",
    "validate_description",
    "validate_dead_letter_arn",
    "validate_snap_start",
    "validate_architecture",
    "validate_architectures",
    "validate_vpc_config",
    "validate_tracing",
    "validate_logging_config",
    "TRACING_MODES",
    "vpc_id",
    "ARCHITECTURES",
    "SNAP_START_DEFAULT",
    "PYTHON_RUNTIMES",
    "NODE_RUNTIMES",
    "PROVIDED_RUNTIMES",
    "SUPPORTED_RUNTIMES",
    "RESERVED_ENV_KEYS",
]


_VERSION_NUMBER = re.compile(r"[0-9]{1,15}")


def is_version_number(qualifier: str) -> bool:
    """A published version's number ("1", "42"), not an alias. ``str.isdigit`` is not the test:
    it takes '²' and '\u0661', and a 20-digit number overflows SQLite's integers."""
    return _VERSION_NUMBER.fullmatch(qualifier) is not None

LATEST = "$LATEST"

PYTHON_RUNTIMES = frozenset(
    {"python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14"}
)
# Runtimes speaking the Runtime API (a Node.js runtime also needs that Node.js major on the machine).
NODE_RUNTIMES = frozenset({"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"})
PROVIDED_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})
SUPPORTED_RUNTIMES = PYTHON_RUNTIMES | NODE_RUNTIMES | PROVIDED_RUNTIMES
# Runtimes AWS offers that Cumulo does not run (yet): refused with a clear message.
_KNOWN_OTHER_RUNTIMES = frozenset({"java11", "java17", "java21", "dotnet8", "ruby3.2", "ruby3.3"})

RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)

# SnapStart.ApplyOn: AWS's two values. A configuration that never set it (None) gets Cumulo's
# default, which templates every version, $LATEST included (measured faster, see docs/snapstart.md);
# an explicit "None" turns it off, "PublishedVersions" is AWS's: published versions only.
SNAP_START_VALUES = ("PublishedVersions", "None")
SNAP_START_DEFAULT = "AllVersions"

# Architectures: AWS's two. Kept as asked and reported back; functions run on the host's own.
ARCHITECTURES = ("x86_64", "arm64")

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_HANDLER_RE = re.compile(r"^[^\s]+$")
_QUALIFIER_RE = re.compile(r"^(\$LATEST|[0-9]{1,10}|(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128})$")
# name | account:function:name | arn:aws:lambda:region:account:function:name, each with :qualifier
_REF_RE = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


def _constraint(value: object, member: str, constraint: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def validate_function_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise _constraint(
            name, "functionName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64",
        )
    return name


def parse_function_ref(ref: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """Split a FunctionName as AWS accepts it (name, partial or full ARN, optional
    ``:qualifier``) into ``(name, qualifier)``. An explicit ``qualifier`` must agree."""
    if type(ref) is str and (qualifier is None or type(qualifier) is str):
        return _parse_ref_cached(ref, qualifier)    # every invocation parses its function's name
    return _parse_ref(ref, qualifier)


@functools.lru_cache(maxsize=4096)
def _parse_ref_cached(ref: str, qualifier: str | None) -> tuple[str, str | None]:
    return _parse_ref(ref, qualifier)     # refusals raise, and are not cached


def _parse_ref(ref: str, qualifier: str | None) -> tuple[str, str | None]:
    m = _REF_RE.fullmatch(ref or "") if isinstance(ref, str) and len(ref) <= 170 else None
    if not m or len(m.group("name")) > limits.FUNCTION_NAME_MAX:
        raise _constraint(ref, "functionName",
                          "Member must satisfy regular expression pattern: "
                          "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                          "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
    name, embedded = m.group("name"), m.group("qualifier")
    if embedded and qualifier and embedded != qualifier:
        raise InvalidParameterValueException("The derived qualifier from the function name does not match the specified qualifier.")
    q = qualifier or embedded
    if q is not None and not _QUALIFIER_RE.fullmatch(q):
        raise _constraint(q, "qualifier", "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")
    return name, q


def validate_handler(handler: str) -> str:
    if not isinstance(handler, str) or not handler or len(handler) > limits.HANDLER_MAX or not _HANDLER_RE.fullmatch(handler):
        raise _constraint(handler, "handler",
                          f"Member must satisfy regular expression pattern: [^\\s]+ and have length less than or equal to {limits.HANDLER_MAX}")
    return handler


def validate_runtime(runtime: str, unavailable: str | None = None) -> str:
    """``unavailable``: why this machine cannot run a supported runtime (say, its Node.js major is missing)."""
    if runtime in SUPPORTED_RUNTIMES and unavailable is None:
        return runtime
    if runtime in SUPPORTED_RUNTIMES:
        raise InvalidParameterValueException(f"The runtime parameter of {runtime} cannot be used here: {unavailable}")
    if runtime in _KNOWN_OTHER_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by this Cumulo build; "
            f"supported runtimes: {', '.join(sorted(SUPPORTED_RUNTIMES))}"
        )
    raise _constraint(runtime, "runtime", f"Member must satisfy enum value set: [{', '.join(sorted(SUPPORTED_RUNTIMES | _KNOWN_OTHER_RUNTIMES))}]")


def _int_between(value: object, member: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _constraint(value, member, "Member must be an integer")
    if value < low:
        raise _constraint(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _constraint(value, member, f"Member must have value less than or equal to {high}")
    return value


def validate_memory(mb: int) -> int:
    return _int_between(mb, "memorySize", limits.MEMORY_MIN_MB, limits.MEMORY_MAX_MB)


def validate_timeout(seconds: int) -> int:
    return _int_between(seconds, "timeout", limits.TIMEOUT_MIN_S, limits.TIMEOUT_MAX_S)


def validate_ephemeral_storage(mb: int) -> int:
    return _int_between(mb, "ephemeralStorage.size", limits.EPHEMERAL_MIN_MB, limits.EPHEMERAL_MAX_MB)


def validate_dead_letter_arn(arn: str) -> str:
    """DeadLetterConfig.TargetArn: a queue (SQS) or a topic (SNS); empty removes it."""
    if arn in ("", None):
        return ""
    if not isinstance(arn, str) or not re.match(r"^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]*:\d{12}:[A-Za-z0-9_.-]+$", arn):
        raise InvalidParameterValueException(
            "The provided target arn is invalid: a DeadLetterConfig.TargetArn is the ARN of an SQS queue or SNS topic.")
    return arn


def validate_kms_key_arn(arn: object) -> str:
    """KMSKeyArn: the key a function's environment variables are encrypted with (a KMS key's ARN);
    empty goes back to the default. Cumulo keeps it and seals the variables with the store's key
    (docs/secrets.md)."""
    if arn in ("", None):
        return ""
    if not isinstance(arn, str) or not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}", arn):
        raise InvalidParameterValueException(f"1 validation error detected: Value '{str(arn)[:200]}' at 'kMSKeyArn' "
                                             "failed to satisfy constraint: Member must satisfy regular expression "
                                             "pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")
    return arn


def validate_snap_start(apply_on: object) -> str:
    """SnapStart.ApplyOn, as CreateFunction/UpdateFunctionConfiguration take it."""
    if apply_on not in SNAP_START_VALUES:
        raise _constraint(apply_on, "snapStart.applyOn", "Member must satisfy enum value set: [PublishedVersions, None]")
    return str(apply_on)


def validate_architecture(architecture: object) -> str:
    """One architecture (the Python API's ``architecture=``)."""
    if architecture not in ARCHITECTURES:
        raise _constraint(f"[{architecture}]", "architectures",
                          "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
    return str(architecture)


def validate_architectures(architectures: object) -> str:
    """``Architectures`` as CreateFunction/UpdateFunctionCode take it: a list of exactly one."""
    if not isinstance(architectures, list):
        raise _constraint(architectures, "architectures", "Member must be a list of one of [x86_64, arm64]")
    shown = "[" + ", ".join(str(a) for a in architectures) + "]"
    if len(architectures) < 1:
        raise _constraint(shown, "architectures", "Member must have length greater than or equal to 1")
    if len(architectures) > 1:
        raise _constraint(shown, "architectures", "Member must have length less than or equal to 1")
    return validate_architecture(architectures[0])


_SUBNET_RE = re.compile(r"subnet-[0-9a-z]*")
_SECURITY_GROUP_RE = re.compile(r"sg-[0-9a-zA-Z]*")
_VPC_KEYS = frozenset({"SubnetIds", "SecurityGroupIds", "Ipv6AllowedForDualStack"})


def validate_vpc_config(config: object) -> dict[str, Any]:
    """``VpcConfig`` as CreateFunction/UpdateFunctionConfiguration take it, checked as AWS checks it
    (patterns, at most 16 subnets and 5 security groups, both or neither), normalised to
    ``{SubnetIds, SecurityGroupIds, Ipv6AllowedForDualStack}``, or ``{}`` for no VPC (both lists
    empty: AWS's way to take a function out of its VPC). A function in a VPC gets no outbound
    network: Cumulo has no NAT gateway (README, "What a function gets")."""
    if config is None:
        return {}
    if not isinstance(config, dict) or not set(config) <= _VPC_KEYS:
        raise InvalidParameterValueException(
            "VpcConfig must be an object with SubnetIds, SecurityGroupIds and optionally Ipv6AllowedForDualStack.")
    checked: dict[str, list[str]] = {}
    for key, member, pattern, most in (("SubnetIds", "vpcConfig.subnetIds", _SUBNET_RE, 16),
                                       ("SecurityGroupIds", "vpcConfig.securityGroupIds", _SECURITY_GROUP_RE, 5)):
        items = config.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _constraint(items, member, "Member must be a list of strings")
        if len(items) > most:
            raise _constraint(f"[{', '.join(items)}]", member,
                              f"Member must have length less than or equal to {most}")
        for item in items:
            if len(item) > 1024 or not pattern.fullmatch(item):
                raise _constraint(f"[{', '.join(items)}]", member,
                                  "Member must satisfy constraint: [Member must have length less than or equal to "
                                  "1024, Member must have length greater than or equal to 0, Member must satisfy "
                                  f"regular expression pattern: ^{pattern.pattern}$]")
        checked[key] = list(dict.fromkeys(items))
    if bool(checked["SubnetIds"]) != bool(checked["SecurityGroupIds"]):
        raise InvalidParameterValueException("SubnetIds and SecurityIds must coexist or be both empty list.")
    if not checked["SubnetIds"]:
        return {}
    dual_stack = config.get("Ipv6AllowedForDualStack")
    if dual_stack is not None and not isinstance(dual_stack, bool):
        raise _constraint(dual_stack, "vpcConfig.ipv6AllowedForDualStack", "Member must be a boolean")
    return {**checked, "Ipv6AllowedForDualStack": bool(dual_stack)}


def vpc_id(account: str, region: str) -> str:
    """The VpcId GetFunctionConfiguration reports: Cumulo has one network for the functions in a VPC
    (none, outside the environment), so one stable id per account and region, in AWS's shape."""
    import hashlib

    return "vpc-" + hashlib.sha256(f"cumulo:{account}:{region}".encode()).hexdigest()[:17]


def validate_description(text: str) -> str:
    if not isinstance(text, str) or len(text) > limits.DESCRIPTION_MAX:
        raise _constraint(text, "description", f"Member must have length less than or equal to {limits.DESCRIPTION_MAX}")
    return text


def validate_environment(variables: dict[str, str]) -> dict[str, str]:
    if not isinstance(variables, dict):
        raise InvalidParameterValueException("Environment variables must be a map of strings to strings.")
    for key, value in variables.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.fullmatch(key):
            raise _constraint("[sensitive]", "environment.variables",
                              "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+")
        if not isinstance(value, str):
            raise InvalidParameterValueException(f"The value of environment variable {key} must be a string.")
    reserved = sorted(k for k in variables if k in RESERVED_ENV_KEYS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    size = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
    if size > limits.ENV_VARS_MAX_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {size} bytes"
        )
    return dict(variables)


TRACING_MODES = ("Active", "PassThrough")


def validate_tracing(config: object) -> str:
    """``TracingConfig`` as CreateFunction/UpdateFunctionConfiguration take it (``{"Mode": …}``,
    a missing Mode is PassThrough), or the mode itself (the Python API's), checked as AWS checks it."""
    mode = config.get("Mode", "PassThrough") if isinstance(config, dict) else config
    if mode not in TRACING_MODES:
        raise _constraint(mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
    return str(mode)


APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
_LOG_GROUP_RE = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")


def validate_logging_config(config: object) -> dict[str, str]:
    """``LoggingConfig`` as CreateFunction/UpdateFunctionConfiguration take it, checked as Lambda
    checks it: LogFormat ``JSON`` or ``Text``; ApplicationLogLevel and SystemLogLevel only with
    JSON; LogGroup a CloudWatch Logs group name. Kept normalised: only what was set."""
    if not isinstance(config, dict):
        raise InvalidParameterValueException("LoggingConfig must be an object.")
    unknown = set(config) - {"LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup"}
    if unknown:
        raise InvalidParameterValueException(f"LoggingConfig has unknown members: {', '.join(sorted(unknown))}")
    out: dict[str, str] = {}
    fmt = config.get("LogFormat")
    if fmt is not None:
        if fmt not in ("JSON", "Text"):
            raise _constraint(fmt, "loggingConfig.logFormat", "Member must satisfy enum value set: [Text, JSON]")
        out["LogFormat"] = fmt
    for key, allowed in (("ApplicationLogLevel", APPLICATION_LOG_LEVELS), ("SystemLogLevel", SYSTEM_LOG_LEVELS)):
        level = config.get(key)
        if level is None:
            continue
        if level not in allowed:
            raise _constraint(level, f"loggingConfig.{key[0].lower()}{key[1:]}",
                              f"Member must satisfy enum value set: [{', '.join(allowed)}]")
        if out.get("LogFormat") != "JSON":
            raise InvalidParameterValueException(
                f"{key} can be set only when LogFormat is JSON (LoggingConfig.LogFormat).")
        out[key] = level
    group = config.get("LogGroup")
    if group is not None:
        if not isinstance(group, str) or not _LOG_GROUP_RE.fullmatch(group):
            raise _constraint(group, "loggingConfig.logGroup",
                              "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
        out["LogGroup"] = group
    return out


@dataclass(frozen=True)
class Arns:
    """Builds ARNs for one account and region."""

    region: str
    account: str

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def layer(self, name: str, version: int | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:layer:{name}"
        return f"{arn}:{version}" if version is not None else arn

    def default_role(self) -> str:
        return f"arn:aws:iam::{self.account}:role/cumulo-default-execution-role"


@dataclass(frozen=True)
class FunctionConfiguration:
    """One immutable configuration: ``$LATEST`` at some revision, or a published version."""

    name: str
    handler: str
    code_sha256: str          # base64 of the zip's SHA-256, AWS's CodeSha256
    code_size: int
    runtime: str = "python3.11"
    memory_size: int = limits.MEMORY_DEFAULT_MB
    timeout: int = limits.TIMEOUT_DEFAULT_S
    ephemeral_storage: int = limits.EPHEMERAL_DEFAULT_MB
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    role: str = ""
    version: str = LATEST
    revision_id: str = ""
    last_modified: str = ""
    dead_letter_arn: str = ""     # DeadLetterConfig.TargetArn: where failed asynchronous events go
    layers: tuple[LayerRef, ...] = ()   # in order: later layers override earlier ones under /opt
    snap_start: str | None = None  # SnapStart.ApplyOn as set: "PublishedVersions", "None", or never set
    architecture: str = "x86_64"   # Architectures[0] as asked; it runs on the host's architecture
    # VpcConfig as set (validate_vpc_config): {} outside a VPC. In a VPC: no outbound network.
    vpc_config: dict[str, Any] = field(default_factory=dict)
    kms_key_arn: str = ""          # KMSKeyArn as set (the variables are sealed with the store's key either way)
    tracing: str = "PassThrough"   # TracingConfig.Mode: "Active" records X-Ray segments (observe/traces.py)
    # LoggingConfig as set (validate_logging_config): {} is Text to /aws/lambda/<name>
    logging_config: dict[str, str] = field(default_factory=dict)

    @property
    def log_json(self) -> bool:
        """``LogFormat: JSON``: platform lines as JSON records, the runtime's logging as JSON objects."""
        return self.logging_config.get("LogFormat") == "JSON"

    @property
    def log_group(self) -> str:
        return self.logging_config.get("LogGroup") or f"/aws/lambda/{self.name}"

    @property
    def system_log_level(self) -> str:
        return self.logging_config.get("SystemLogLevel", "INFO")

    @property
    def application_log_level(self) -> str:
        return self.logging_config.get("ApplicationLogLevel", "INFO")

    @property
    def no_network(self) -> bool:
        """Whether this function's environments get no network of their own (it is in a VPC, and
        Cumulo's VPC has no NAT gateway): only their own loopback."""
        return bool(self.vpc_config.get("SubnetIds"))

    @property
    def snap_start_applies(self) -> bool:
        """Whether cold starts of this configuration fork a template (Cumulo's SnapStart): forked
        Python environments only, never a Runtime API runtime (Node.js, provided)."""
        if self.runtime not in PYTHON_RUNTIMES:
            return False
        apply_on = self.snap_start or SNAP_START_DEFAULT
        return apply_on == SNAP_START_DEFAULT or (apply_on == "PublishedVersions" and self.version != LATEST)

    def logging_to_aws(self) -> dict[str, str]:
        """``LoggingConfig`` as Lambda reports it: the levels only with the JSON format (INFO unless set)."""
        doc = {"LogFormat": "JSON" if self.log_json else "Text", "LogGroup": self.log_group}
        if self.log_json:
            doc.update(ApplicationLogLevel=self.application_log_level, SystemLogLevel=self.system_log_level)
        return doc

    def snap_start_to_aws(self) -> dict[str, str]:
        """``SnapStart`` as AWS reports this setting: ``ApplyOn`` as set (``None`` when never set,
        so templates that leave it out see no drift), and ``OptimizationStatus: On`` only where AWS
        would say so, a published version of a ``PublishedVersions`` function on a runtime that has
        SnapStart. Cumulo's default (templates for every version while ``ApplyOn`` was never set) is
        not a setting AWS has, so it is reported as what was set: ``None`` / ``Off``; REPORT's
        ``Restore Duration`` shows when a cold start was forked from a template (README)."""
        apply_on = self.snap_start or "None"
        on = apply_on == "PublishedVersions" and self.version != LATEST and self.runtime in PYTHON_RUNTIMES
        return {"ApplyOn": apply_on, "OptimizationStatus": "On" if on else "Off"}

    @property
    def code_hex(self) -> str:
        """The hex digest naming the code blob in the store."""
        import base64

        return base64.b64decode(self.code_sha256).hex()

    def replace(self, **changes: Any) -> "FunctionConfiguration":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FunctionConfiguration":
        known = {f.name for f in dataclasses.fields(cls)}
        doc = {k: v for k, v in data.items() if k in known}
        doc["layers"] = tuple(LayerRef.from_dict(r) if isinstance(r, dict) else r for r in doc.get("layers", ()))
        return cls(**doc)

    def to_aws(self, arns: Arns, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``FunctionConfiguration`` document of AWS's Lambda API."""
        doc: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": arns.function(self.name, None if self.version == LATEST else self.version),
            "Runtime": self.runtime,
            "Role": self.role or arns.default_role(),
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version,
            "Environment": {"Variables": dict(self.environment)},
            "TracingConfig": {"Mode": self.tracing},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": [self.architecture],
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": self.snap_start_to_aws(),
            "LoggingConfig": self.logging_to_aws(),
        }
        if self.layers:
            doc["Layers"] = [r.to_aws() for r in self.layers]
        if self.dead_letter_arn:
            doc["DeadLetterConfig"] = {"TargetArn": self.dead_letter_arn}
        if self.kms_key_arn:
            doc["KMSKeyArn"] = self.kms_key_arn
        if self.vpc_config:
            doc["VpcConfig"] = {**self.vpc_config, "VpcId": vpc_id(arns.account, arns.region)}
        if state:
            doc.update(state)
        return doc
