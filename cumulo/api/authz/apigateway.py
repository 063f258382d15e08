"""API Gateway's management operations as IAM sees them (Service Authorization Reference, "Amazon
API Gateway Management" and "… V2"): the action is the HTTP method (``apigateway:POST``,
``apigateway:GET``, ``apigateway:PATCH``, ``apigateway:DELETE``) and the resource the path, as
``arn:aws:apigateway:<region>::<path>`` (no account). Both APIs (``apigateway``, ``apigatewayv2``)
are authorized the same way."""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, register

__all__ = ["OPERATIONS_V1", "OPERATIONS_V2"]

_V1 = {
    "CreateApiKey": ("POST", "/apikeys"), "GetApiKeys": ("GET", "/apikeys"),
    "GetApiKey": ("GET", "/apikeys/{key}"), "UpdateApiKey": ("PATCH", "/apikeys/{key}"),
    "DeleteApiKey": ("DELETE", "/apikeys/{key}"),
    "CreateUsagePlan": ("POST", "/usageplans"), "GetUsagePlans": ("GET", "/usageplans"),
    "GetUsagePlan": ("GET", "/usageplans/{plan}"), "UpdateUsagePlan": ("PATCH", "/usageplans/{plan}"),
    "DeleteUsagePlan": ("DELETE", "/usageplans/{plan}"),
    "CreateUsagePlanKey": ("POST", "/usageplans/{plan}/keys"), "GetUsagePlanKeys": ("GET", "/usageplans/{plan}/keys"),
    "DeleteUsagePlanKey": ("DELETE", "/usageplans/{plan}/keys/{key}"),
    "GetUsage": ("GET", "/usageplans/{plan}/usage"),
}
_API = "/apis/{api}"
_V2 = {
    "CreateApi": ("POST", "/apis"), "GetApis": ("GET", "/apis"), "GetApi": ("GET", _API),
    "UpdateApi": ("PATCH", _API), "DeleteApi": ("DELETE", _API),
    **{f"{verb}{kind}": (method, f"{_API}/{path}" + ("/{id}" if one else ""))
       for kind, path in (("Integration", "integrations"), ("Route", "routes"), ("Stage", "stages"),
                          ("Authorizer", "authorizers"))
       for verb, method, one in (("Create", "POST", False), ("Get", "GET", True), ("Update", "PATCH", True),
                                 ("Delete", "DELETE", True))
       if f"{verb}{kind}" not in ("GetIntegration", "UpdateIntegration", "UpdateAuthorizer")},   # not served
    **{f"Get{kind}s": ("GET", f"{_API}/{path}")
       for kind, path in (("Integration", "integrations"), ("Route", "routes"), ("Stage", "stages"),
                          ("Authorizer", "authorizers"))},
    "CreateRouteResponse": ("POST", f"{_API}/routes/{{id}}/routeresponses"),
    "GetRouteResponses": ("GET", f"{_API}/routes/{{id}}/routeresponses"),
    "CreateDeployment": ("POST", f"{_API}/deployments"),
}


def on_path(method: str, template: str) -> Mapper:
    def mapper(call: Call, scope: Scope) -> tuple[Check, ...]:
        path = template.format_map({k: call.params.get(k) or "*" for k in ("key", "plan", "api", "id")})
        return (Check(f"apigateway:{method}", f"arn:{scope.partition}:apigateway:{scope.region}::{path}"),)
    return mapper


OPERATIONS_V1: dict[str, Mapper] = {op: on_path(*where) for op, where in _V1.items()}
OPERATIONS_V2: dict[str, Mapper] = {op: on_path(*where) for op, where in _V2.items()}

register("apigateway", OPERATIONS_V1)
register("apigatewayv2", OPERATIONS_V2)
