"""CloudFormation's own ``AWS::Lambda::*`` resources, as the properties the SAM kinds already read.

A plain template (hand-written, or ``cdk synth`` output) declares what SAM would generate; each such
resource is read by the kind that deploys SAM's equivalent, through the same operations:

- ``AWS::Lambda::Function`` -> the ``function`` kind, its properties written as an
  ``AWS::Serverless::Function``'s (``function_properties``): ``Code`` is a local path (as written before
  ``aws cloudformation package``), ``ZipFile`` (inline source, packed as ``InlineCode``) or
  ``S3Bucket``/``S3Key`` (read from Cumulo's S3 when the template comes through ``CreateStack``);
  ``Tags`` a list of ``Key``/``Value``; ``DeadLetterConfig``; ``TracingConfig``. ``Role`` is required:
  CloudFormation makes no role for a function. No ``Globals``.
- ``AWS::Lambda::Version`` and ``AWS::Lambda::Alias`` -> the function's ``AutoPublishAlias``: an alias
  whose ``FunctionVersion`` is a version of the template publishes a version on each changed deploy and
  points the alias at it, as SAM's ``AutoPublishAlias`` makes exactly these two resources.
- ``AWS::Lambda::EventSourceMapping`` -> the ``event source mapping`` kind, as an ``SQS``, ``Kinesis`` or
  ``DynamoDB`` event (by the source's ARN) of its function (``mapping_event``).
- ``AWS::Lambda::LayerVersion`` -> the ``layer`` kind (``layer_properties``: ``Content``).
- ``AWS::Lambda::EventInvokeConfig`` -> the ``event invoke config`` kind (``invoke_config``).

``AWS::Lambda::Permission`` and ``AWS::Lambda::Url`` have kinds of their own already. Pure: template
nodes in, template nodes out; faults are ``IntrinsicError``s naming the property.
"""

from __future__ import annotations

from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, Node, is_intrinsic, to_str

__all__ = ["FUNCTION", "VERSION", "ALIAS", "MAPPING", "LAYER", "INVOKE_CONFIG", "function_properties",
           "layer_properties", "mapping_event", "destination_type", "qualified_name"]

FUNCTION = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"
MAPPING = "AWS::Lambda::EventSourceMapping"
LAYER = "AWS::Lambda::LayerVersion"
INVOKE_CONFIG = "AWS::Lambda::EventInvokeConfig"

# AWS::Lambda::Function properties read under the same name as SAM's.
_SAME = frozenset({"Handler", "Runtime", "Role", "FunctionName", "Description", "MemorySize", "Timeout", "Environment",
                   "EphemeralStorage", "Layers", "Architectures", "ReservedConcurrentExecutions", "PackageType",
                   "SnapStart", "VpcConfig", "KmsKeyArn", "CodeSigningConfigArn", "LoggingConfig",
                   "DurableConfig"})
# SAM's own properties, which CloudFormation refuses on an AWS::Lambda::Function.
_SAM_ONLY = frozenset({"CodeUri", "InlineCode", "Events", "AutoPublishAlias", "ProvisionedConcurrencyConfig",
                       "DeadLetterQueue", "EventInvokeConfig", "VersionDescription", "FunctionUrlConfig", "Policies",
                       "PermissionsBoundary", "RolePath", "AssumeRolePolicyDocument", "Tracing",
                       "DeploymentPreference", "AutoPublishCodeSha256", "AutoPublishAliasAllProperties"})
# Accepted and left out, with a note: nothing on one machine they could configure.
_NOTED = {"FileSystemConfigs": "EFS file systems are not mounted",
          "RuntimeManagementConfig": "the runtime is the one installed on the host",
          "RecursiveLoop": "recursive loops are not detected"}


def _node(line: int) -> Node:
    return Node(line=line)


def _put(out: Node, key: str, value: Any, line: int) -> None:
    out[key] = value
    out.key_lines[key] = line


def function_properties(properties: Node) -> tuple[Node, list[str]]:
    """An ``AWS::Lambda::Function``'s properties as an ``AWS::Serverless::Function``'s, and notes on what was
    left out. Unknown properties are kept, for the function's reading to refuse with their line."""
    out, notes = _node(properties.line), []
    for key, value in properties.items():
        line = properties.line_of(key)
        if key == "Code":
            code_key, code = _code(value, line)
            _put(out, code_key, code, line)
        elif key == "Tags":
            _put(out, "Tags", _tags(value, line), line)
        elif key == "DeadLetterConfig":
            _put(out, "DeadLetterQueue", _dead_letter(value, line), line)
        elif key == "TracingConfig":        # {Mode: Active | PassThrough}: SAM's Tracing
            _put(out, "Tracing", value.get("Mode", "PassThrough") if isinstance(value, dict) and not
                 is_intrinsic(value) else value, line)
        elif key in _SAM_ONLY:
            raise IntrinsicError(f"property {key} (line {line}): is a property of AWS::Serverless::Function, not of "
                                 "AWS::Lambda::Function", line)
        elif key in _NOTED:
            notes.append(f"{key} ignored: {_NOTED[key]}")
        else:       # the same name (or unknown: refused with its line by the function's reading)
            _put(out, key, value, line)
    if "Role" not in properties:
        raise IntrinsicError("property Role is required: CloudFormation makes no role for an AWS::Lambda::Function "
                             "(SAM's AWS::Serverless::Function does)", properties.line)
    if "Code" not in properties:
        raise IntrinsicError("property Code is required", properties.line)
    return out, notes


def _code(value: Any, line: int) -> tuple[str, Any]:
    """``Code`` as SAM's ``CodeUri`` (a path) or ``InlineCode`` (``ZipFile``)."""
    if isinstance(value, str) or is_intrinsic(value):
        return "CodeUri", value         # a local path, as `aws cloudformation package` reads it
    if not isinstance(value, dict):
        raise IntrinsicError(f"property Code (line {line}): must be a path or a map with ZipFile, or S3Bucket "
                             "and S3Key", line)
    if "ImageUri" in value:
        raise IntrinsicError(f"property Code (line {line}): container images (ImageUri) are not supported; Cumulo "
                             "deploys Zip packages only", line)
    if "ZipFile" in value:
        if set(value) != {"ZipFile"}:
            raise IntrinsicError(f"property Code (line {line}): ZipFile cannot be given with S3Bucket or S3Key",
                                 line)
        return "InlineCode", value["ZipFile"]
    if {"S3Bucket", "S3Key"} <= set(value) and set(value) <= {"S3Bucket", "S3Key", "S3ObjectVersion"}:
        raise IntrinsicError(f"property Code (line {line}): code in S3 (S3Bucket/S3Key) is read from Cumulo's "
                             "S3 when the template is given to CreateStack or a change set (aws cloudformation "
                             "deploy); `cumulo deploy` needs Code as a local path or ZipFile", line)
    raise IntrinsicError(f"property Code (line {line}): must be a path or a map with ZipFile, or S3Bucket and "
                         "S3Key", line)


def _tags(value: Any, line: int) -> Node:
    """CloudFormation's ``[{Key, Value}]`` as SAM's map."""
    if not isinstance(value, list):
        raise IntrinsicError(f"property Tags (line {line}): must be a list of Key and Value", line)
    out = _node(line)
    for item in value:
        if not isinstance(item, dict) or set(item) != {"Key", "Value"} or not isinstance(item["Key"], str):
            raise IntrinsicError(f"property Tags (line {line}): each tag must be a map of Key (a string) and Value",
                                 getattr(item, "line", line))
        _put(out, item["Key"], item["Value"], getattr(item, "line", line))
    return out


def _dead_letter(value: Any, line: int) -> Node:
    """``DeadLetterConfig: {TargetArn}`` as SAM's ``DeadLetterQueue: {Type, TargetArn}``; the type is the
    target's service: ``!GetAtt Queue.Arn`` names a queue, ``!Ref Topic`` a topic (a topic's Ref is its ARN),
    a written ARN says which (checked against the type when read)."""
    if not isinstance(value, dict) or set(value) - {"TargetArn"}:
        raise IntrinsicError(f"property DeadLetterConfig (line {line}): must be a map with TargetArn", line)
    out = _node(line)
    if "TargetArn" not in value:
        return out          # no target: no dead-letter queue (read as an empty map: refused with its line)
    target = value["TargetArn"]
    text = target if isinstance(target, str) else str(target)
    kind = "SNS" if (isinstance(target, dict) and "Ref" in target) or ":sns:" in text else "SQS"
    _put(out, "Type", kind, line)
    _put(out, "TargetArn", target, line)
    return out


def layer_properties(properties: Node) -> Node:
    """An ``AWS::Lambda::LayerVersion``'s properties as an ``AWS::Serverless::LayerVersion``'s: ``Content`` as
    ``ContentUri`` (a local path; S3 as for functions' code). CloudFormation keeps every version it
    published (``RetentionPolicy: Retain``, SAM's default)."""
    out = _node(properties.line)
    for key, value in properties.items():
        line = properties.line_of(key)
        if key == "Content":
            if isinstance(value, dict) and not is_intrinsic(value):
                raise IntrinsicError(f"property Content (line {line}): content in S3 (S3Bucket/S3Key) is read from "
                                     "Cumulo's S3 when the template is given to CreateStack or a change set; "
                                     "`cumulo deploy` needs Content as a local path", line)
            _put(out, "ContentUri", value, line)
        else:
            _put(out, key, value, line)
    if "Content" not in properties:
        raise IntrinsicError("property Content is required", properties.line)
    return out


# Event-source mapping properties and the SAM event properties they are.
_SOURCE_KEY = {"SQS": "Queue", "Kinesis": "Stream", "DynamoDB": "Stream"}
_MAPPING_DROPPED = {"FunctionName", "EventSourceArn", "Tags"}


def mapping_event(properties: dict[str, Any]) -> dict[str, Any]:
    """A resolved ``AWS::Lambda::EventSourceMapping``'s properties as the SAM event its source's service makes
    (``SQS``, ``Kinesis``, ``DynamoDB``): ``{"Type", "Properties"}``."""
    source = properties.get("EventSourceArn")
    if not isinstance(source, str):
        raise IntrinsicError("property EventSourceArn is required: the ARN of an SQS queue, a Kinesis stream or a "
                             "DynamoDB table's stream (Kafka and MQ sources are not supported)")
    service = source.split(":")[2] if source.count(":") >= 5 else ""
    kind = {"sqs": "SQS", "kinesis": "Kinesis", "dynamodb": "DynamoDB"}.get(service)
    if kind is None:
        raise IntrinsicError(f"property EventSourceArn: '{source}' is not an SQS queue, Kinesis stream or DynamoDB "
                             "stream ARN; Cumulo maps those sources")
    props = {k: v for k, v in properties.items() if k not in _MAPPING_DROPPED}
    destination = props.get("DestinationConfig")
    if kind == "SQS" and destination is not None:
        raise IntrinsicError("property DestinationConfig: an SQS mapping's failures go to the queue's redrive policy")
    props[_SOURCE_KEY[kind]] = source
    return {"Type": kind, "Properties": props}


def qualified_name(value: Any) -> tuple[str, str | None]:
    """A resolved ``FunctionName`` (a name, a partial or full ARN, with or without a qualifier) as the
    function's name and its qualifier (an alias or version; None for the unqualified function)."""
    text = to_str(value)
    parts = text.split(":")
    if text.startswith("arn:"):
        if len(parts) < 7 or parts[5] != "function":
            raise IntrinsicError(f"'{text}' is not a function ARN")
        name, qualifier = parts[6], parts[7] if len(parts) > 7 else None
    elif len(parts) >= 3 and parts[1] == "function":       # 123456789012:function:name[:qualifier]
        name, qualifier = parts[2], parts[3] if len(parts) > 3 else None
    else:
        name, qualifier = parts[0], parts[1] if len(parts) > 1 else None
    return name, None if qualifier == "$LATEST" else qualifier


_DESTINATIONS = {"sqs": "SQS", "sns": "SNS", "lambda": "Lambda", "events": "EventBridge", "s3": "S3"}


def destination_type(arn: Any) -> str:
    """SAM's destination ``Type`` of an ``EventInvokeConfig`` destination's ARN (CloudFormation names none)."""
    text = to_str(arn)
    service = text.split(":")[2] if text.startswith("arn:") and text.count(":") >= 5 else ""
    if service not in _DESTINATIONS:
        raise IntrinsicError(f"Destination '{text}' is not the ARN of a queue, topic, function, event bus or bucket")
    return _DESTINATIONS[service]
