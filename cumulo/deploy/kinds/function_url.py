"""``AWS::Lambda::Url`` and SAM's ``FunctionUrlConfig``: a function URL (``functions/urls.py``).

``AWS::Lambda::Url``: ``TargetFunctionArn`` (a name or ARN, ``!Ref``/``!GetAtt … Arn`` of a function or
of its alias), ``Qualifier`` (an alias), ``AuthType`` (``NONE`` | ``AWS_IAM``, required), ``Cors`` and
``InvokeMode``. A function's ``FunctionUrlConfig`` (``AuthType``, ``Cors``, ``InvokeMode``) is the URL SAM
makes, ``<LogicalId>Url``, on the function or, with ``AutoPublishAlias``, on that alias. ``!GetAtt
<Url>.FunctionUrl`` is ``https://<url-id>.lambda-url.<region>.on.aws/`` (the id derives from the function
and qualifier, so it is known before the deploy); Outputs give it as the gateway serves it,
``<gateway>/lambda-url/<url-id>/``. SAM also adds the resource policy a public (``NONE``) URL needs on
AWS; Cumulo serves a ``NONE`` URL without one (docs/gateway.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError, ResourceNotFoundException
from cumulo.deploy.url_config import read_url_config
from cumulo.functions.urls import url_id_for
from cumulo.model import function as fn
from cumulo.model.function import Arns

__all__ = ["FunctionUrl", "URL_TYPE", "url_attributes"]

URL_TYPE = "AWS::Lambda::Url"
_LAMBDA_URL = re.compile(r"https://(?P<id>[a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.on\.aws/?")


@dataclass(frozen=True)
class UrlSpec:
    logical_id: str
    line: int
    function: str
    qualifier: str | None
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str
    url_id: str = ""


def url_attributes(logical_id: str, arns: Arns, name: str, qualifier: str | None) -> Attributes:
    url_id = url_id_for(arns.account, name, qualifier)
    return {(logical_id, "FunctionUrl"): f"https://{url_id}.lambda-url.{arns.region}.on.aws/",
            (logical_id, "FunctionArn"): arns.function(name, qualifier)}


class FunctionUrl(Kind):
    name = "function url"
    types = (URL_TYPE,)
    after = ("function",)              # the function and its alias exist first
    listed = 76
    record_key = "function_urls"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        attributes: Attributes = {}
        for entry in entries:
            try:
                name, qualifier = _target(plain(resolve(entry.properties, load.scope)))
            except (IntrinsicError, CumuloError):
                continue                   # read() reports it
            attributes.update(url_attributes(entry.logical_id, load.arns, name, qualifier))
        return {}, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                if not isinstance(props, dict):
                    raise IntrinsicError("properties must be a map")
                name, qualifier = _target(props)
                config = read_url_config({k: v for k, v in props.items() if k not in ("TargetFunctionArn",
                                                                                       "Qualifier")})
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            specs.append(UrlSpec(entry.logical_id, entry.line, name, qualifier, config["AuthType"], config["Cors"],
                                 config["InvokeMode"], url_id_for(load.account, name, qualifier)))
        for function in load.read.get("function", []):
            sam = getattr(function, "url_config", None)
            if sam is not None:
                specs.append(UrlSpec(f"{function.logical_id}Url", function.line, function.function_name,
                                     function.auto_publish_alias, sam["AuthType"], sam["Cors"],
                                     sam["InvokeMode"], url_id_for(load.account, function.function_name,
                                                                   function.auto_publish_alias)))
        return specs

    def attributes(self, spec: UrlSpec, arns: Arns) -> Attributes:
        return url_attributes(spec.logical_id, arns, spec.function, spec.qualifier)

    def plan(self, spec: UrlSpec, deploy: Deploy) -> Change:
        current = _current(deploy, spec)
        target = spec.function + (f":{spec.qualifier}" if spec.qualifier else "")
        if current is None:
            return Change(spec.logical_id, target, "create", kind=self.name)
        same = (current.auth_type, current.cors, current.invoke_mode) == (spec.auth_type, spec.cors, spec.invoke_mode)
        return Change(spec.logical_id, target, "unchanged" if same else "update", kind=self.name)

    def removed(self, specs: list[UrlSpec], deploy: Deploy) -> list[Change]:
        wanted = {(s.function, s.qualifier) for s in specs}
        return [Change(lid, rec[0] + (f":{rec[1]}" if rec[1] else ""), "delete", kind=self.name)
                for lid, rec in sorted((deploy.before(self) or {}).items()) if (rec[0], rec[1]) not in wanted]

    def apply(self, spec: UrlSpec, change: Change | None, deploy: Deploy) -> None:
        urls = deploy.c.function_urls
        current = _current(deploy, spec)
        if current is None:
            urls.create(spec.function, spec.qualifier, spec.auth_type, spec.cors, spec.invoke_mode)
            deploy.undo.append(lambda: quietly(urls.delete, spec.function, spec.qualifier))
        elif (current.auth_type, current.cors, current.invoke_mode) != (spec.auth_type, spec.cors, spec.invoke_mode):
            urls.update(spec.function, spec.qualifier, spec.auth_type, spec.cors, spec.invoke_mode)
            deploy.undo.append(lambda: quietly(urls.update, spec.function, spec.qualifier, current.auth_type,
                                               current.cors, current.invoke_mode))

    def record(self, applied: list[tuple[UrlSpec, Any]]) -> dict[str, list[Any]]:
        return {spec.logical_id: [spec.function, spec.qualifier] for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, list[Any]], deploy: Deploy) -> None:
        wanted = {tuple(rec) for rec in current.values()}
        for rec in (previous or {}).values():
            if tuple(rec) not in wanted:
                quietly(deploy.c.function_urls.delete, rec[0], rec[1])

    def summary(self, spec: UrlSpec) -> list[str]:
        target = spec.function + (f":{spec.qualifier}" if spec.qualifier else "")
        return [f"function url {spec.logical_id} ({spec.auth_type}): {target} at <gateway>/lambda-url/{spec.url_id}/"]

    def local_outputs(self, outputs: dict[str, Any], specs: list[UrlSpec], gateway_url: str) -> dict[str, Any]:
        """Outputs holding a function URL of this deploy, as the gateway serves it."""
        def local(m: re.Match[str]) -> str:
            return f"{gateway_url}/lambda-url/{m['id']}/"

        return {k: _LAMBDA_URL.sub(local, v) if isinstance(v, str) and gateway_url else v
                for k, v in outputs.items()}


def _target(props: dict[str, Any]) -> tuple[str, str | None]:
    target = props.get("TargetFunctionArn")
    if target in (None, ""):
        raise IntrinsicError("property TargetFunctionArn: required")
    try:
        name, qualifier = fn.parse_function_ref(to_str(target), props.get("Qualifier"))
    except CumuloError as exc:
        raise IntrinsicError(f"property TargetFunctionArn: {exc.message}") from None
    return name, qualifier


def _current(deploy: Deploy, spec: UrlSpec) -> Any:
    try:
        return deploy.c.function_urls.get(spec.function, spec.qualifier)
    except ResourceNotFoundException:
        return None
