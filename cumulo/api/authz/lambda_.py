"""Lambda's operations as IAM sees them (Service Authorization Reference, "AWS Lambda").

Functions, versions and aliases are ``function`` resources: the function's ARN, qualified when the
request names a version or alias (``FunctionName`` ``my-fn:prod`` or ``?Qualifier=prod``), so a
policy on ``…:function:my-fn`` does not allow invoking ``…:function:my-fn:prod`` (as on AWS).
Event-source mappings are ``event-source-mapping:<UUID>`` (created on ``*`` with
``lambda:FunctionArn``), layers ``layer:<name>`` and versions ``layer:<name>:<version>``.
``InvokeWithResponseStream`` is ``lambda:InvokeFunction``; ``CreateFunction`` and a configuration
update that changes ``Role`` also need ``iam:PassRole`` on that role.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.api.authz.base import Call, Check, Mapper, Scope, anywhere, register, text

__all__ = ["function_arn", "OPERATIONS"]

_FUNCTION = re.compile(r"^(?:arn:(?P<partition>[^:]+):lambda:(?P<region>[^:]+):)?(?:(?P<account>\d{12}):function:)?"
                       r"(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$")


def function_arn(ref: str, scope: Scope, qualifier: str = "") -> str:
    """The ARN a FunctionName names (a name, partial or full ARN, any of them with ``:qualifier``),
    qualified by ``qualifier`` when the name carries none."""
    m = _FUNCTION.match(ref)
    if m is None or not ref:
        return scope.arn("lambda", f"function:{ref or '*'}")
    qualifier = m.group("qualifier") or qualifier
    return (f"arn:{m.group('partition') or scope.partition}:lambda:{m.group('region') or scope.region}:"
            f"{m.group('account') or scope.account}:function:{m.group('name')}" + (f":{qualifier}" if qualifier else ""))


def _function(call: Call, scope: Scope, qualified: bool = True) -> str:
    ref = call.params.get("name") or text(call.doc.get("FunctionName"))
    return function_arn(ref, scope, call.arg("Qualifier") if qualified else "")


def on_function(action: str, qualified: bool = True) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, _function(call, scope, qualified)),)
    return mapper


def _pass_role(role: Any) -> tuple[Check, ...]:
    role = text(role)
    return (Check("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}),) if role else ()


def create_function(call: Call, scope: Scope) -> tuple[Check, ...]:
    layers = [text(layer) for layer in call.doc.get("Layers") or () if text(layer)]
    context = {"lambda:Layer": layers} if layers else {}
    return (Check("lambda:CreateFunction", _function(call, scope, False), context), *_pass_role(call.doc.get("Role")))


def update_configuration(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (Check("lambda:UpdateFunctionConfiguration", _function(call, scope, False)),
            *_pass_role(call.doc.get("Role")))


def _mapping(call: Call, scope: Scope) -> str:
    return scope.arn("lambda", f"event-source-mapping:{call.params.get('uuid') or '*'}")


def create_mapping(call: Call, scope: Scope) -> tuple[Check, ...]:
    return (Check("lambda:CreateEventSourceMapping", "*",
                  {"lambda:FunctionArn": function_arn(text(call.doc.get("FunctionName")), scope)}),)


def on_mapping(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        context = {"lambda:FunctionArn": function_arn(text(call.doc["FunctionName"]), scope)} \
            if text(call.doc.get("FunctionName")) else {}
        return (Check(action, _mapping(call, scope), context),)
    return mapper


def _layer(call: Call, scope: Scope, version: bool) -> str:
    name = call.params.get("layer", "")
    if name.startswith("arn:"):       # LayerName may be the layer's ARN
        base = name
    else:
        base = scope.arn("lambda", f"layer:{name or '*'}")
    return f"{base}:{call.params.get('version') or '*'}" if version else base


def on_layer_version(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        return (Check(action, _layer(call, scope, True)),)
    return mapper


def list_layers(call: Call, scope: Scope) -> tuple[Check, ...]:
    if call.arg("find") == "LayerVersion":      # GetLayerVersionByArn shares ListLayers' path
        arn = call.arg("Arn")
        return (Check("lambda:GetLayerVersion", arn if arn.startswith("arn:") else "*"),)
    return (Check("lambda:ListLayers", "*"),)


def get_provisioned(call: Call, scope: Scope) -> tuple[Check, ...]:
    if call.arg("List") == "ALL":               # ListProvisionedConcurrencyConfigs shares the path
        return (Check("lambda:ListProvisionedConcurrencyConfigs", _function(call, scope, False)),)
    return (Check("lambda:GetProvisionedConcurrencyConfig", _function(call, scope)),)


def add_permission(call: Call, scope: Scope) -> tuple[Check, ...]:
    principal = text(call.doc.get("Principal"))
    return (Check("lambda:AddPermission", _function(call, scope), {"lambda:Principal": principal} if principal else {}),)


def on_tagged(action: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        arn = call.params.get("arn", "")
        return (Check(action, arn if arn.startswith("arn:") else function_arn(arn, scope)),)
    return mapper


OPERATIONS: dict[str, Mapper] = {
    "CreateFunction": create_function,
    "ListFunctions": anywhere("lambda:ListFunctions"),
    "GetFunction": on_function("lambda:GetFunction"),
    "DeleteFunction": on_function("lambda:DeleteFunction"),
    "GetFunctionConfiguration": on_function("lambda:GetFunctionConfiguration"),
    "UpdateFunctionConfiguration": update_configuration,
    "UpdateFunctionCode": on_function("lambda:UpdateFunctionCode", qualified=False),
    "Invoke": on_function("lambda:InvokeFunction"),
    "InvokeWithResponseStream": on_function("lambda:InvokeFunction"),
    "PublishVersion": on_function("lambda:PublishVersion", qualified=False),
    "ListVersionsByFunction": on_function("lambda:ListVersionsByFunction", qualified=False),
    "CreateAlias": on_function("lambda:CreateAlias", qualified=False),
    "ListAliases": on_function("lambda:ListAliases", qualified=False),
    "GetAlias": on_function("lambda:GetAlias", qualified=False),
    "UpdateAlias": on_function("lambda:UpdateAlias", qualified=False),
    "DeleteAlias": on_function("lambda:DeleteAlias", qualified=False),
    "PutFunctionConcurrency": on_function("lambda:PutFunctionConcurrency", qualified=False),
    "DeleteFunctionConcurrency": on_function("lambda:DeleteFunctionConcurrency", qualified=False),
    "GetFunctionConcurrency": on_function("lambda:GetFunctionConcurrency", qualified=False),
    "PutProvisionedConcurrencyConfig": on_function("lambda:PutProvisionedConcurrencyConfig"),
    "GetProvisionedConcurrencyConfig": get_provisioned,
    "DeleteProvisionedConcurrencyConfig": on_function("lambda:DeleteProvisionedConcurrencyConfig"),
    "PutFunctionEventInvokeConfig": on_function("lambda:PutFunctionEventInvokeConfig"),
    "UpdateFunctionEventInvokeConfig": on_function("lambda:UpdateFunctionEventInvokeConfig"),
    "GetFunctionEventInvokeConfig": on_function("lambda:GetFunctionEventInvokeConfig"),
    "DeleteFunctionEventInvokeConfig": on_function("lambda:DeleteFunctionEventInvokeConfig"),
    "ListFunctionEventInvokeConfigs": on_function("lambda:ListFunctionEventInvokeConfigs", qualified=False),
    "CreateEventSourceMapping": create_mapping,
    "ListEventSourceMappings": anywhere("lambda:ListEventSourceMappings"),
    "GetEventSourceMapping": on_mapping("lambda:GetEventSourceMapping"),
    "UpdateEventSourceMapping": on_mapping("lambda:UpdateEventSourceMapping"),
    "DeleteEventSourceMapping": on_mapping("lambda:DeleteEventSourceMapping"),
    "PublishLayerVersion": lambda call, scope: (Check("lambda:PublishLayerVersion", _layer(call, scope, False)),),
    "ListLayerVersions": anywhere("lambda:ListLayerVersions"),
    "GetLayerVersion": on_layer_version("lambda:GetLayerVersion"),
    "DeleteLayerVersion": on_layer_version("lambda:DeleteLayerVersion"),
    "AddLayerVersionPermission": on_layer_version("lambda:AddLayerVersionPermission"),
    "GetLayerVersionPolicy": on_layer_version("lambda:GetLayerVersionPolicy"),
    "RemoveLayerVersionPermission": on_layer_version("lambda:RemoveLayerVersionPermission"),
    "ListLayers": list_layers,
    "GetAccountSettings": anywhere("lambda:GetAccountSettings"),
    "TagResource": on_tagged("lambda:TagResource"),
    "UntagResource": on_tagged("lambda:UntagResource"),
    "ListTags": on_tagged("lambda:ListTags"),
    "AddPermission": add_permission,
    "RemovePermission": on_function("lambda:RemovePermission"),
    "GetPolicy": on_function("lambda:GetPolicy"),
    "CreateFunctionUrlConfig": on_function("lambda:CreateFunctionUrlConfig"),
    "GetFunctionUrlConfig": on_function("lambda:GetFunctionUrlConfig"),
    "UpdateFunctionUrlConfig": on_function("lambda:UpdateFunctionUrlConfig"),
    "DeleteFunctionUrlConfig": on_function("lambda:DeleteFunctionUrlConfig"),
    "ListFunctionUrlConfigs": on_function("lambda:ListFunctionUrlConfigs", qualified=False),
}

register("lambda", OPERATIONS)
