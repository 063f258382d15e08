"""AWS Lambda's REST-JSON API (``/2015-03-31/...``) over ``cumulo.Cumulo``.

Each operation is a function ``(cumulo, request, path params) -> Reply``; the
routing table at the bottom is the one list of what is served. Requests are
parsed and validated into Python API calls here, so that boto3 and the AWS CLI
work unchanged; nothing here touches processes or the store directly.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from cumulo.api import eventstream, shapes
from cumulo.api.http import Reply, Request, json_reply
from cumulo.app import Cumulo
from cumulo.errors import (
    InvalidParameterValueException, InvalidRequestContentException, ResourceNotFoundException, ValidationException,
)
from cumulo.invoke.invoker import InvocationResult, InvocationType
from cumulo.model import function as fn
from cumulo.model import json_limits, limits
from cumulo.runtime import catalog

__all__ = ["route"]

Handler = Callable[[Cumulo, Request, dict[str, str]], Reply]
log = logging.getLogger("cumulo.server")

_CREATE_KEYS = {"FunctionName", "Runtime", "Role", "Handler", "Code", "Description", "Timeout", "MemorySize",
                "Publish", "Environment", "EphemeralStorage", "Tags", "Architectures", "PackageType",
                "TracingConfig", "LoggingConfig", "DeadLetterConfig", "SnapStart", "Layers", "VpcConfig", "KMSKeyArn"}
_CONFIG_KEYS = {"Runtime": "runtime", "Handler": "handler", "Description": "description", "Timeout": "timeout",
                "MemorySize": "memory_size", "Role": "role", "KMSKeyArn": "kms_key_arn"}


def _params(doc: dict[str, Any]) -> dict[str, Any]:
    """Configuration fields of a CreateFunction/UpdateFunctionConfiguration body, as Python API keywords."""
    out: dict[str, Any] = {_CONFIG_KEYS[k]: v for k, v in doc.items() if k in _CONFIG_KEYS}
    if "Environment" in doc:
        env = doc["Environment"] or {}
        if not isinstance(env, dict):
            raise InvalidParameterValueException("Environment must be an object with Variables.")
        out["environment"] = env.get("Variables") or {}
    if "EphemeralStorage" in doc:
        out["ephemeral_storage"] = (doc["EphemeralStorage"] or {}).get("Size", limits.EPHEMERAL_DEFAULT_MB)
    if "DeadLetterConfig" in doc:
        dlc = doc["DeadLetterConfig"] or {}
        if not isinstance(dlc, dict):
            raise InvalidParameterValueException("DeadLetterConfig must be an object with TargetArn.")
        out["dead_letter_arn"] = dlc.get("TargetArn") or ""
    if "SnapStart" in doc:
        snap = doc["SnapStart"] or {}
        if not isinstance(snap, dict):
            raise InvalidParameterValueException("SnapStart must be an object with ApplyOn.")
        out["snap_start"] = snap.get("ApplyOn", "None")
    if "Layers" in doc:
        out["layers"] = doc["Layers"] or []
    if "VpcConfig" in doc:   # in a VPC: no outbound network (validate_vpc_config)
        out["vpc_config"] = doc["VpcConfig"] or {}
    if "TracingConfig" in doc:   # Active: X-Ray segments (observe/traces.py)
        out["tracing"] = doc["TracingConfig"] or {}
    if "LoggingConfig" in doc:   # JSON: structured logs, levels (docs/logs.md)
        out["logging_config"] = doc["LoggingConfig"] or {}
    return out


_warned_architectures: set[str] = set()
_warned_interpreters: set[tuple[str, str]] = set()


def _architecture(doc: dict[str, Any]) -> dict[str, str]:
    """CreateFunction's and UpdateFunctionCode's ``Architectures``, checked as AWS does (exactly one
    of x86_64, arm64), as the Python API's keyword."""
    return {} if doc.get("Architectures") is None else {"architecture": fn.validate_architectures(doc["Architectures"])}


def _warn_architecture(config: fn.FunctionConfiguration) -> None:
    """The configuration keeps the architecture asked for; the server says once per function (and
    process) that the function runs on the host's."""
    host = catalog.host_architecture()
    if config.architecture != host and config.name not in _warned_architectures:
        _warned_architectures.add(config.name)
        log.warning("function %s: Architectures [%s] is kept in its configuration, but it runs on this "
                    "host's architecture (%s)", config.name, config.architecture, host)
    note = catalog.interpreter_note(config.runtime)
    if note is not None and (config.name, config.runtime) not in _warned_interpreters:
        _warned_interpreters.add((config.name, config.runtime))
        log.warning("function %s: %s", config.name, note)


_warned_networks: set[str] = set()


def _warn_network(c: Cumulo, config: fn.FunctionConfiguration) -> None:
    """A function in a VPC gets no outbound network at the namespace level; at the process level
    its environments share the host's network, and the server says so once per function."""
    from cumulo.runtime.sandbox import SandboxLevel

    if config.no_network and config.name not in _warned_networks and c.sandbox.level is SandboxLevel.PROCESS:
        _warned_networks.add(config.name)
        log.warning("function %s: VpcConfig is kept in its configuration, but at the process level its environments "
                    "share this host's network (outbound access and services on 127.0.0.1 included)", config.name)


def _zip(doc: dict[str, Any]) -> bytes:
    code = doc.get("Code") if "Code" in doc else doc
    if not isinstance(code, dict) or "ZipFile" not in code:
        if isinstance(code, dict) and ("S3Bucket" in code or "ImageUri" in code):
            raise InvalidParameterValueException("Only Code.ZipFile is supported: S3 and container images are not.")
        raise InvalidParameterValueException("Code.ZipFile is required.")
    try:
        return base64.b64decode(code["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise InvalidParameterValueException("Code.ZipFile is not valid base64.") from None


def _page(items: list[Any], request: Request, key: str, render: Callable[[Any], Any]) -> Reply:
    """Marker/MaxItems paging: the marker is the index of the next item."""
    q = request.query()
    try:
        start = int(q.get("Marker", ["0"])[0] or 0)
        size = int(q.get("MaxItems", ["50"])[0])
    except ValueError:
        raise InvalidParameterValueException("Marker and MaxItems must be integers.") from None
    if not 1 <= size <= 10_000 or start < 0:
        raise ValidationException("MaxItems must be between 1 and 10000.")
    chunk = items[start:start + size]
    doc: dict[str, Any] = {key: [render(i) for i in chunk]}
    if start + size < len(items):
        doc["NextMarker"] = str(start + size)
    return json_reply(doc)


def _qualifier(request: Request) -> str | None:
    if not request.query_string:        # (most requests: parsing nothing took 1% of an Invoke's loop time)
        return None
    return request.query().get("Qualifier", [None])[0] or None


# -- functions ----------------------------------------------------------------
def create_function(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    doc = request.json()
    unknown = set(doc) - _CREATE_KEYS
    if unknown:
        raise InvalidParameterValueException(f"Unsupported CreateFunction parameters: {', '.join(sorted(unknown))}")
    if doc.get("PackageType", "Zip") != "Zip":
        raise InvalidParameterValueException("Only PackageType Zip is supported.")
    for required in ("FunctionName", "Handler", "Code"):
        if required not in doc:
            raise ValidationException(f"1 validation error detected: Value null at '{required[0].lower() + required[1:]}' "
                                      "failed to satisfy constraint: Member must not be null")
    params = {k: v for k, v in _params(doc).items() if k != "handler"}
    params.update(_architecture(doc))
    config = c.create_function(doc["FunctionName"], _zip(doc), doc["Handler"], publish=bool(doc.get("Publish")),
                               **params)
    _warn_architecture(config)
    _warn_network(c, config)
    if doc.get("Tags"):
        c.tag_resource(c.arns.function(config.name), doc["Tags"])
    return json_reply(config.to_aws(c.arns), 201)


def get_function(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = c.get_function(p["name"], _qualifier(request))
    tags = c.store.list_tags(c.arns.function(doc["Configuration"]["FunctionName"]))
    if tags:
        doc["Tags"] = tags
    return json_reply(doc)


def get_configuration(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.get_function_configuration(p["name"], _qualifier(request)).to_aws(c.arns))


def list_functions(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    q = request.query()
    if q.get("FunctionVersion", [""])[0] == "ALL":
        configs = [v for f in c.list_functions() for v in c.list_versions_by_function(f.name)]
        return _page(configs, request, "Functions", lambda f: f.to_aws(c.arns))
    # The marker is the last name of the page before: a page is one range of the store's index,
    # whatever the number of functions (slicing a list of all of them cost 0.2 ms a function)
    marker = q.get("Marker", [""])[0]
    try:
        after = base64.urlsafe_b64decode(marker.encode()).decode() if marker else None
        size = int(q.get("MaxItems", ["50"])[0])
    except ValueError:
        raise InvalidParameterValueException("Invalid Marker or MaxItems.") from None
    if not 1 <= size <= 10_000:
        raise ValidationException("MaxItems must be between 1 and 10000.")
    configs = c.list_functions(after, size + 1)
    doc: dict[str, Any] = {"Functions": [f.to_aws(c.arns) for f in configs[:size]]}
    if len(configs) > size:
        doc["NextMarker"] = base64.urlsafe_b64encode(configs[size - 1].name.encode()).decode()
    return json_reply(doc)


def update_code(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    config = c.update_function_code(p["name"], _zip(doc), publish=bool(doc.get("Publish")),
                                    revision_id=doc.get("RevisionId"), **_architecture(doc))
    _warn_architecture(config)
    return json_reply(config.to_aws(c.arns))


def update_configuration(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    config = c.update_function_configuration(p["name"], revision_id=doc.get("RevisionId"), **_params(doc))
    _warn_network(c, config)
    return json_reply(config.to_aws(c.arns))


def delete_function(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.delete_function(p["name"], _qualifier(request))
    return Reply(204)


# -- invoke -------------------------------------------------------------------
@dataclass(frozen=True)
class InvokeCall:
    """An Invoke request, checked: what ``Cumulo.invoke`` needs."""

    name: str
    qualifier: str | None
    kind: str
    log_type: str
    client_context: dict | None
    trace_header: str | None = None     # the caller's X-Amzn-Trace-Id (docs/traces.md)


INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


_INVOKE_HEADERS = frozenset(("x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context", "x-amzn-trace-id"))


def invoke_call(request: Request, name: str) -> InvokeCall:
    sent: dict[str, str] = {}
    for key, value in request.headers:          # one pass (names are lower-cased); the first of each counts
        if key in _INVOKE_HEADERS and key not in sent:
            sent[key] = value
    kind = sent.get("x-amz-invocation-type") or InvocationType.REQUEST_RESPONSE
    log_type = sent.get("x-amz-log-type") or "None"
    if log_type not in ("None", "Tail"):
        raise ValidationException(f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                                  "constraint: Member must satisfy enum value set: [Tail, None]")
    client_context = None
    raw = sent.get("x-amz-client-context")
    if raw:
        if len(raw) > 3583:
            raise InvalidParameterValueException("Client context must be less than 3583 bytes.")
        try:
            client_context = json_limits.loads(base64.b64decode(raw, validate=True), "Client context")
        except (ValueError, binascii.Error):
            raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    if json_limits.deeper_than(request.body, json_limits.PAYLOAD_MAX_DEPTH):
        raise InvalidRequestContentException(f"Could not parse request body into json: the payload is nested more "
                                             f"than {json_limits.PAYLOAD_MAX_DEPTH} levels deep")
    return InvokeCall(name, _qualifier(request), kind, log_type, client_context, sent.get("x-amzn-trace-id"))


def invoke_reply(result: InvocationResult) -> Reply:
    headers = [("x-amz-executed-version", result.executed_version), ("x-amzn-requestid", result.request_id)]
    if result.function_error:
        headers.append(("x-amz-function-error", result.function_error))
    if result.log_result is not None:
        headers.append(("x-amz-log-result", base64.b64encode(result.log_result.encode()).decode()))
    headers.append(("content-type", "application/json"))
    return Reply(result.status_code, result.payload, headers)


def invoke_streaming(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    """InvokeWithResponseStream: the function's answer as an event stream of PayloadChunk events
    and a final InvokeComplete (with ErrorCode/ErrorDetails when it failed, LogResult with Tail).
    The answer is complete before the stream is written: streaming is in the framing, not in time."""
    call = invoke_call(request, p["name"])
    if call.kind not in ("RequestResponse", "DryRun"):
        raise InvalidParameterValueException("InvokeWithResponseStream takes InvocationType RequestResponse or "
                                             "DryRun.")
    result = c.invoke(call.name, request.body, qualifier=call.qualifier, invocation_type=call.kind,
                      log_type=call.log_type, client_context=call.client_context, trace_header=call.trace_header)
    headers = [("x-amz-executed-version", result.executed_version), ("x-amzn-requestid", result.request_id),
               ("content-type", "application/vnd.amazon.eventstream")]
    if result.status_code == 204:
        return Reply(204, b"", headers)
    chunks = []
    payload = b"" if result.function_error else result.payload
    for start in range(0, len(payload), 64 * 1024):
        chunks.append(eventstream.event_message("PayloadChunk", payload[start:start + 64 * 1024]))
    complete: dict[str, Any] = {}
    if result.function_error:
        complete["ErrorCode"] = result.function_error
        complete["ErrorDetails"] = result.payload.decode(errors="replace")
    if result.log_result is not None:
        complete["LogResult"] = base64.b64encode(result.log_result.encode()).decode()
    chunks.append(eventstream.event_message("InvokeComplete", json.dumps(complete).encode(), "application/json"))
    return Reply(200, b"".join(chunks), headers)


def invoke(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    call = invoke_call(request, p["name"])
    return invoke_reply(c.invoke(call.name, request.body, qualifier=call.qualifier, invocation_type=call.kind,
                                 log_type=call.log_type, client_context=call.client_context,
                                 trace_header=call.trace_header))


# -- resource-based policy ----------------------------------------------------
def add_permission(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.function_policies.add_permission(p["name"], _qualifier(request), request.json()), 201)


def get_policy(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.function_policies.get_policy(p["name"], _qualifier(request)))


def remove_permission(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.function_policies.remove_permission(p["name"], _qualifier(request), p["sid"],
                                          request.query().get("RevisionId", [None])[0])
    return Reply(204)


# -- versions and aliases -----------------------------------------------------
def publish_version(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    config = c.publish_version(p["name"], doc.get("Description"), doc.get("RevisionId"))
    return json_reply(config.to_aws(c.arns), 201)


def list_versions(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _page(c.list_versions_by_function(p["name"]), request, "Versions", lambda v: v.to_aws(c.arns))


def create_alias(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    for required in ("Name", "FunctionVersion"):
        if required not in doc:
            raise ValidationException(f"{required} is required.")
    alias = c.create_alias(p["name"], doc["Name"], doc["FunctionVersion"], doc.get("Description", ""),
                           (doc.get("RoutingConfig") or {}).get("AdditionalVersionWeights"))
    return json_reply(alias.to_aws(c.arns), 201)


def get_alias(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.get_alias(p["name"], p["alias"]).to_aws(c.arns))


def update_alias(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    routing = doc.get("RoutingConfig")
    alias = c.update_alias(p["name"], p["alias"], function_version=doc.get("FunctionVersion"),
                           description=doc.get("Description"), revision_id=doc.get("RevisionId"),
                           weights=None if routing is None else (routing.get("AdditionalVersionWeights") or {}))
    return json_reply(alias.to_aws(c.arns))


def delete_alias(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.delete_alias(p["name"], p["alias"])
    return Reply(204)


# -- function URLs (functions/urls.py; served by the gateway) ---------------------------------------------------
def create_url_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    url = c.function_urls.create(p["name"], _qualifier(request), doc.get("AuthType"), doc.get("Cors"),
                                 doc.get("InvokeMode", "BUFFERED"))
    described = url.describe(c.arns)
    described.pop("LastModifiedTime")
    return json_reply(described, 201)


def get_url_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.function_urls.get(p["name"], _qualifier(request)).describe(c.arns))


def update_url_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    changes: dict[str, Any] = {"auth_type": doc.get("AuthType"), "invoke_mode": doc.get("InvokeMode")}
    if "Cors" in doc:
        changes["cors"] = doc["Cors"]
    return json_reply(c.function_urls.update(p["name"], _qualifier(request), **changes).describe(c.arns))


def delete_url_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.function_urls.delete(p["name"], _qualifier(request))
    return Reply(204)


def list_url_configs(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _page(c.function_urls.list(p["name"]), request, "FunctionUrlConfigs", lambda u: u.describe(c.arns))


def list_aliases(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    version = request.query().get("FunctionVersion", [None])[0]
    return _page(c.list_aliases(p["name"], version), request, "Aliases", lambda a: a.to_aws(c.arns))


# -- concurrency --------------------------------------------------------------
def put_concurrency(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    value = request.json().get("ReservedConcurrentExecutions")
    if value is None:
        raise ValidationException("ReservedConcurrentExecutions is required.")
    return json_reply({"ReservedConcurrentExecutions": c.put_function_concurrency(p["name"], value)})


def get_concurrency(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    value = c.get_function_concurrency(p["name"])
    return json_reply({} if value is None else {"ReservedConcurrentExecutions": value})


def delete_concurrency(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.delete_function_concurrency(p["name"])
    return Reply(204)


def put_provisioned(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    qualifier = _qualifier(request)
    count = request.json().get("ProvisionedConcurrentExecutions")
    if qualifier is None or count is None:
        raise ValidationException("Qualifier and ProvisionedConcurrentExecutions are required.")
    return json_reply(c.put_provisioned_concurrency_config(p["name"], qualifier, count), 202)


def get_provisioned(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    if request.query().get("List", [""])[0] == "ALL":   # ListProvisionedConcurrencyConfigs
        name = c.get_function_configuration(p["name"]).name
        configs = [{"FunctionArn": c.arns.function(name, q), **c.get_provisioned_concurrency_config(name, q)}
                   for n, q, _ in c.store.list_provisioned_concurrency() if n == name]
        return _page(configs, request, "ProvisionedConcurrencyConfigs", lambda doc: doc)
    return json_reply(c.get_provisioned_concurrency_config(p["name"], _qualifier(request) or ""))


def delete_provisioned(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.delete_provisioned_concurrency_config(p["name"], _qualifier(request) or "")
    return Reply(204)


# -- account and tags ---------------------------------------------------------
def account_settings(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    return json_reply(c.get_account_settings())


def tag_resource(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.tag_resource(p["arn"], request.json().get("Tags") or {})
    return Reply(204)


def untag_resource(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.untag_resource(p["arn"], request.query().get("tagKeys", []))
    return Reply(204)


def list_tags(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply({"Tags": c.list_tags(p["arn"])})


# -- asynchronous invocation ------------------------------------------------------
def _invoke_config_params(doc: dict[str, Any]) -> dict[str, Any]:
    return {"maximum_retry_attempts": doc.get("MaximumRetryAttempts"),
            "maximum_event_age_in_seconds": doc.get("MaximumEventAgeInSeconds"),
            "destination_config": doc.get("DestinationConfig")}


def put_event_invoke_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.event_invoke_configs.put(p["name"], _qualifier(request),
                                                 **_invoke_config_params(request.json())))


def update_event_invoke_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.event_invoke_configs.put(p["name"], _qualifier(request), update=True,
                                                 **_invoke_config_params(request.json())))


def get_event_invoke_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.event_invoke_configs.get(p["name"], _qualifier(request)))


def delete_event_invoke_config(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.event_invoke_configs.delete(p["name"], _qualifier(request))
    return Reply(204)


def list_event_invoke_configs(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _page(c.event_invoke_configs.list(p["name"]), request, "FunctionEventInvokeConfigs", lambda d: d)


# -- event-source mappings ------------------------------------------------------------
def create_mapping(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    return json_reply(c.mappings.create(**request.json()), 202)


def get_mapping(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.mappings.get(p["uuid"]))


def update_mapping(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.mappings.update(p["uuid"], **request.json()), 202)


def delete_mapping(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.mappings.delete(p["uuid"]), 202)


def list_mappings(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    q = request.query()
    docs = c.mappings.list(q.get("EventSourceArn", [None])[0], q.get("FunctionName", [None])[0])
    return _page(docs, request, "EventSourceMappings", lambda d: d)


# -- layers -----------------------------------------------------------------------
_LAYER_KEYS = {"LayerName", "Description", "Content", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"}


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query()
    return {"compatible_runtime": q.get("CompatibleRuntime", [None])[0] or None,
            "compatible_architecture": q.get("CompatibleArchitecture", [None])[0] or None}


def publish_layer_version(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    unknown = set(doc) - _LAYER_KEYS
    if unknown:
        raise InvalidParameterValueException(f"Unsupported PublishLayerVersion parameters: {', '.join(sorted(unknown))}")
    if "Content" not in doc:
        raise ValidationException("1 validation error detected: Value null at 'content' failed to satisfy "
                                  "constraint: Member must not be null")
    return json_reply(c.publish_layer_version(
        p["layer"], _zip(doc["Content"] or {}), doc.get("CompatibleRuntimes"), doc.get("Description", ""),
        doc.get("CompatibleArchitectures"), doc.get("LicenseInfo")), 201)


def get_layer_version(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.get_layer_version(p["layer"], p["version"]))


def delete_layer_version(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.delete_layer_version(p["layer"], p["version"])
    return Reply(204)


def list_layer_versions(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return _page(c.list_layer_versions(p["layer"], **_filters(request)), request, "LayerVersions", lambda d: d)


def add_layer_permission(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    doc = request.json()
    for required in ("StatementId", "Action", "Principal"):
        if required not in doc:
            raise ValidationException(f"1 validation error detected: Value null at '{required[0].lower() + required[1:]}' "
                                      "failed to satisfy constraint: Member must not be null")
    return json_reply(c.add_layer_version_permission(
        p["layer"], p["version"], doc["StatementId"], doc["Action"], doc["Principal"], doc.get("OrganizationId"),
        request.query().get("RevisionId", [None])[0]), 201)


def get_layer_policy(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    return json_reply(c.get_layer_version_policy(p["layer"], p["version"]))


def remove_layer_permission(c: Cumulo, request: Request, p: dict[str, str]) -> Reply:
    c.remove_layer_version_permission(p["layer"], p["version"], p["sid"], request.query().get("RevisionId", [None])[0])
    return Reply(204)


def list_layers(c: Cumulo, request: Request, _: dict[str, str]) -> Reply:
    q = request.query()
    if q.get("find", [""])[0] == "LayerVersion":      # GetLayerVersionByArn shares the path
        arn = q.get("Arn", [""])[0]
        if not arn:
            raise ValidationException("1 validation error detected: Value null at 'arn' failed to satisfy "
                                      "constraint: Member must not be null")
        return json_reply(c.get_layer_version_by_arn(arn))
    return _page(c.list_layers(**_filters(request)), request, "Layers", lambda d: d)


ERRORS = shapes.Errors(
    body=lambda reason: InvalidRequestContentException(f"Could not parse request body into json: {reason}"),
    type=lambda reason: InvalidRequestContentException(f"Could not parse request body into json: {reason}"),
    missing=lambda problems: ValidationException(problems.missing_message()),
)


def _op(operation: str, handler: Handler) -> Handler:
    """``handler`` with its body parsed within limits and checked against the operation's model
    (Invoke's body is its payload, left alone)."""
    return shapes.guarded("lambda", operation, handler, ERRORS,
                          raw_body=operation in ("Invoke", "InvokeWithResponseStream"))


_FN = r"(?P<name>[^/]+)"
_LAYER = r"/2018-10-31/layers/(?P<layer>[^/]+)/versions"
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}/?$"), handler) for method, pattern, handler in [
        ("POST", "/2015-03-31/functions", _op('CreateFunction', create_function)),
        ("GET", "/2015-03-31/functions", _op('ListFunctions', list_functions)),
        ("GET", f"/2015-03-31/functions/{_FN}", _op('GetFunction', get_function)),
        ("DELETE", f"/2015-03-31/functions/{_FN}", _op('DeleteFunction', delete_function)),
        ("GET", f"/2015-03-31/functions/{_FN}/configuration", _op('GetFunctionConfiguration', get_configuration)),
        ("PUT", f"/2015-03-31/functions/{_FN}/configuration", _op('UpdateFunctionConfiguration', update_configuration)),
        ("PUT", f"/2015-03-31/functions/{_FN}/code", _op('UpdateFunctionCode', update_code)),
        ("POST", f"/2015-03-31/functions/{_FN}/invocations", _op('Invoke', invoke)),
        ("POST", f"/2021-11-15/functions/{_FN}/response-streaming-invocations",
         _op('InvokeWithResponseStream', invoke_streaming)),
        ("POST", f"/2015-03-31/functions/{_FN}/policy", _op('AddPermission', add_permission)),
        ("GET", f"/2015-03-31/functions/{_FN}/policy", _op('GetPolicy', get_policy)),
        ("DELETE", f"/2015-03-31/functions/{_FN}/policy/(?P<sid>[^/]+)", _op('RemovePermission', remove_permission)),
        ("POST", f"/2015-03-31/functions/{_FN}/versions", _op('PublishVersion', publish_version)),
        ("GET", f"/2015-03-31/functions/{_FN}/versions", _op('ListVersionsByFunction', list_versions)),
        ("POST", f"/2015-03-31/functions/{_FN}/aliases", _op('CreateAlias', create_alias)),
        ("GET", f"/2015-03-31/functions/{_FN}/aliases", _op('ListAliases', list_aliases)),
        ("GET", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", _op('GetAlias', get_alias)),
        ("PUT", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", _op('UpdateAlias', update_alias)),
        ("DELETE", f"/2015-03-31/functions/{_FN}/aliases/(?P<alias>[^/]+)", _op('DeleteAlias', delete_alias)),
        ("PUT", f"/2017-10-31/functions/{_FN}/concurrency", _op('PutFunctionConcurrency', put_concurrency)),
        ("DELETE", f"/2017-10-31/functions/{_FN}/concurrency", _op('DeleteFunctionConcurrency', delete_concurrency)),
        ("GET", f"/2019-09-30/functions/{_FN}/concurrency", _op('GetFunctionConcurrency', get_concurrency)),
        ("PUT", f"/2019-09-30/functions/{_FN}/provisioned-concurrency",
         _op('PutProvisionedConcurrencyConfig', put_provisioned)),
        ("GET", f"/2019-09-30/functions/{_FN}/provisioned-concurrency",
         _op('GetProvisionedConcurrencyConfig', get_provisioned)),
        ("DELETE", f"/2019-09-30/functions/{_FN}/provisioned-concurrency",
         _op('DeleteProvisionedConcurrencyConfig', delete_provisioned)),
        ("PUT", f"/2019-09-25/functions/{_FN}/event-invoke-config",
         _op('PutFunctionEventInvokeConfig', put_event_invoke_config)),
        ("POST", f"/2019-09-25/functions/{_FN}/event-invoke-config",
         _op('UpdateFunctionEventInvokeConfig', update_event_invoke_config)),
        ("GET", f"/2019-09-25/functions/{_FN}/event-invoke-config",
         _op('GetFunctionEventInvokeConfig', get_event_invoke_config)),
        ("DELETE", f"/2019-09-25/functions/{_FN}/event-invoke-config",
         _op('DeleteFunctionEventInvokeConfig', delete_event_invoke_config)),
        ("GET", f"/2019-09-25/functions/{_FN}/event-invoke-config/list",
         _op('ListFunctionEventInvokeConfigs', list_event_invoke_configs)),
        ("POST", f"/2021-10-31/functions/{_FN}/url", _op('CreateFunctionUrlConfig', create_url_config)),
        ("GET", f"/2021-10-31/functions/{_FN}/url", _op('GetFunctionUrlConfig', get_url_config)),
        ("PUT", f"/2021-10-31/functions/{_FN}/url", _op('UpdateFunctionUrlConfig', update_url_config)),
        ("DELETE", f"/2021-10-31/functions/{_FN}/url", _op('DeleteFunctionUrlConfig', delete_url_config)),
        ("GET", f"/2021-10-31/functions/{_FN}/urls", _op('ListFunctionUrlConfigs', list_url_configs)),
        ("POST", "/2015-03-31/event-source-mappings", _op('CreateEventSourceMapping', create_mapping)),
        ("GET", "/2015-03-31/event-source-mappings", _op('ListEventSourceMappings', list_mappings)),
        ("GET", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)", _op('GetEventSourceMapping', get_mapping)),
        ("PUT", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)", _op('UpdateEventSourceMapping', update_mapping)),
        ("DELETE", "/2015-03-31/event-source-mappings/(?P<uuid>[^/]+)",
         _op('DeleteEventSourceMapping', delete_mapping)),
        ("POST", _LAYER, _op('PublishLayerVersion', publish_layer_version)),
        ("GET", _LAYER, _op('ListLayerVersions', list_layer_versions)),
        ("GET", f"{_LAYER}/(?P<version>[^/]+)", _op('GetLayerVersion', get_layer_version)),
        ("DELETE", f"{_LAYER}/(?P<version>[^/]+)", _op('DeleteLayerVersion', delete_layer_version)),
        ("POST", f"{_LAYER}/(?P<version>[^/]+)/policy", _op('AddLayerVersionPermission', add_layer_permission)),
        ("GET", f"{_LAYER}/(?P<version>[^/]+)/policy", _op('GetLayerVersionPolicy', get_layer_policy)),
        ("DELETE", f"{_LAYER}/(?P<version>[^/]+)/policy/(?P<sid>[^/]+)",
         _op('RemoveLayerVersionPermission', remove_layer_permission)),
        ("GET", "/2018-10-31/layers", _op('ListLayers', list_layers)),
        ("GET", "/2016-08-19/account-settings", _op('GetAccountSettings', account_settings)),
        ("POST", "/2017-03-31/tags/(?P<arn>.+)", _op('TagResource', tag_resource)),
        ("DELETE", "/2017-03-31/tags/(?P<arn>.+)", _op('UntagResource', untag_resource)),
        ("GET", "/2017-03-31/tags/(?P<arn>.+)", _op('ListTags', list_tags)),
    ]
]


def route(request: Request) -> tuple[Handler, dict[str, str]] | None:
    """The operation a request names, with its path parameters; None if no route matches.
    Raises ``ResourceNotFoundException`` for a known path with the wrong method."""
    path = request.path
    matched_path = False
    for method, pattern, handler in _ROUTES:
        m = pattern.match(path)
        if m:
            matched_path = True
            if method == request.method:
                return handler, m.groupdict()
    if matched_path:
        raise ResourceNotFoundException(f"Method {request.method} is not allowed on {path}")
    return None
