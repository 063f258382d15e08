"""``AWS::Events::Connection`` and ``AWS::Events::ApiDestination``: EventBridge's HTTP endpoints as rule
targets (``cumulo.events.destinations``), so a rule of the template may send to a webhook with the
connection's authorization. Each is named (``Name``, or ``<stack>-<LogicalId>-<suffix>``), checked as
CreateConnection/CreateApiDestination check it, created with an ARN known before it exists (rules name it
while the template is read), updated in place, and deleted when the template drops it (destinations
before their connections). ``InvocationConnectivityParameters`` (private APIs) and ``KmsKeyIdentifier``
are accepted with a warning.

``Ref`` is the name; ``Fn::GetAtt`` gives ``Arn`` and ``ArnForPolicy`` (and a connection's ``SecretArn``,
where EventBridge would keep its secret: Cumulo keeps it in its store).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError, ResourceNotFoundException
from cumulo.events.destinations import check_api_destination, check_connection
from cumulo.model.function import Arns

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Connection", "ApiDestination"]

CONNECTION_TYPE = "AWS::Events::Connection"
API_DESTINATION_TYPE = "AWS::Events::ApiDestination"
_CONNECTION_KEYS = {"Name", "AuthorizationType", "AuthParameters", "Description"}
_DESTINATION_KEYS = {"Name", "ConnectionArn", "InvocationEndpoint", "HttpMethod", "InvocationRateLimitPerSecond",
                     "Description"}
_IGNORED = {"InvocationConnectivityParameters": "private APIs are not reached through a VPC lattice here",
            "KmsKeyIdentifier": "the connection's secrets are kept in Cumulo's store, not encrypted with a KMS key"}


@dataclass(frozen=True)
class DestinationSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    properties: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _suffix(load: Load, logical_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cumulo:{load.region}:{load.account}:{load.stack}:{logical_id}"))


def _name(entry: Entry, load: Load) -> str:
    try:
        given = resolve(entry.properties.get("Name", NO_VALUE), load.plain)
    except IntrinsicError as exc:
        raise property_error(entry, IntrinsicError(f"property Name: {exc.message}", exc.line)) from None
    if given is not NO_VALUE:
        return to_str(given)
    digest = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
    return f"{load.stack}-{entry.logical_id}"[:51] + f"-{digest}"


class _EventsKind(Kind):
    """What a connection and an API destination share: names known first, properties checked, one document each."""

    resource = ""                 # connection | api-destination, as their ARNs say
    keys: set[str] = set()

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            name = _name(entry, load)
            if name in owners:
                raise error(entry.where, f"{self.name} name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            arn = f"arn:aws:events:{load.region}:{load.account}:{self.resource}/{name}/{_suffix(load, entry.logical_id)}"
            named[entry.logical_id] = (name, arn)
        return named, {k: v for lid, (name, arn) in named.items() for k, v in self._attributes(lid, name, arn,
                                                                                               load.arns).items()}

    def _attributes(self, logical_id: str, name: str, arn: str, arns: Arns) -> Attributes:
        return {(logical_id, "Ref"): name, (logical_id, "Arn"): arn, (logical_id, "ArnForPolicy"): arn}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                for key in props:
                    if key not in self.keys and key not in _IGNORED:
                        raise IntrinsicError(f"unknown or unsupported property '{key}'")
                self._check(name, props)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            except CumuloError as exc:
                raise error(entry.where, exc.message, entry.logical_id, entry.line) from None
            notes = tuple(f"{key} ignored: {why}" for key, why in _IGNORED.items() if key in props)
            specs.append(DestinationSpec(entry.logical_id, entry.line, name, arn,
                                         {k: v for k, v in props.items() if k in self.keys and k != "Name"}, notes))
        return specs

    def _check(self, name: str, props: dict[str, Any]) -> None:
        raise NotImplementedError

    def attributes(self, spec: DestinationSpec, arns: Arns) -> Attributes:
        return self._attributes(spec.logical_id, spec.name, spec.arn, arns)

    def _current(self, c: Cumulo, name: str) -> dict[str, Any] | None:
        """The kept document, as kept (a connection's auth sealed: an undo puts it back as it was)."""
        return c.store.get_document("event-connection" if self.resource == "connection" else "api-destination", name)

    def _opened(self, c: Cumulo, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` as compared with the template (a connection's auth opened)."""
        return c.api_destinations.opened(doc) if self.resource == "connection" else doc

    def _differs(self, doc: dict[str, Any], spec: DestinationSpec) -> list[str]:
        raise NotImplementedError

    def plan(self, spec: DestinationSpec, deploy: Deploy) -> Change:
        doc = self._current(deploy.c, spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = self._differs(self._opened(deploy.c, doc), spec)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[DestinationSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and self._current(deploy.c, name) is not None]

    def apply(self, spec: DestinationSpec, change: Change | None, deploy: Deploy) -> None:
        c = deploy.c
        doc = self._current(c, spec.name)
        if doc is not None and not self._differs(self._opened(c, doc), spec):
            return
        kind = "event-connection" if self.resource == "connection" else "api-destination"
        self._put(c, spec, update=doc is not None)
        if doc is None:
            deploy.undo.append(partial(c.store.delete_document, kind, spec.name))
        else:
            deploy.undo.append(partial(c.store.put_document, kind, spec.name, doc))

    def _put(self, c: Cumulo, spec: DestinationSpec, update: bool) -> None:
        raise NotImplementedError

    def record(self, applied: list[tuple[DestinationSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}


class Connection(_EventsKind):
    name = "connection"
    types = (CONNECTION_TYPE,)
    listed = 45
    record_key = "connections"
    resource = "connection"
    keys = _CONNECTION_KEYS

    def _attributes(self, logical_id: str, name: str, arn: str, arns: Arns) -> Attributes:
        secret = f"arn:aws:secretsmanager:{arns.region}:{arns.account}:secret:events!connection/{name}/" + \
            arn.rsplit("/", 1)[1]
        return {**super()._attributes(logical_id, name, arn, arns), (logical_id, "SecretArn"): secret}

    def _check(self, name: str, props: dict[str, Any]) -> None:
        check_connection(name, props.get("AuthorizationType"), props.get("AuthParameters"))

    def _differs(self, doc: dict[str, Any], spec: DestinationSpec) -> list[str]:
        p = spec.properties
        return [key for key, now, wanted in (
            ("AuthorizationType", doc.get("AuthorizationType"), p.get("AuthorizationType")),
            ("AuthParameters", doc.get("auth"), p.get("AuthParameters")),
            ("Description", doc.get("Description", ""), p.get("Description", ""))) if now != wanted]

    def _put(self, c: Cumulo, spec: DestinationSpec, update: bool) -> None:
        p = spec.properties
        c.api_destinations.create_connection(spec.name, p["AuthorizationType"], p["AuthParameters"],
                                             p.get("Description"), update=update,
                                             arn_suffix=spec.arn.rsplit("/", 1)[1])

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.api_destinations.delete_connection, name)


class ApiDestination(_EventsKind):
    name = "api destination"
    types = (API_DESTINATION_TYPE,)
    after = ("connection",)
    listed = 46
    record_key = "api_destinations"
    resource = "api-destination"
    keys = _DESTINATION_KEYS

    def _check(self, name: str, props: dict[str, Any]) -> None:
        if not isinstance(props.get("ConnectionArn"), str):
            raise IntrinsicError("property ConnectionArn is required (!GetAtt MyConnection.Arn)")
        rate = props.get("InvocationRateLimitPerSecond", 300)
        check_api_destination(name, props.get("InvocationEndpoint"), props.get("HttpMethod"),
                              int(rate) if isinstance(rate, str) and rate.isdigit() else rate)

    def _differs(self, doc: dict[str, Any], spec: DestinationSpec) -> list[str]:
        p = spec.properties
        return [key for key, default in (("ConnectionArn", None), ("InvocationEndpoint", None), ("HttpMethod", None),
                                         ("InvocationRateLimitPerSecond", 300), ("Description", ""))
                if str(doc.get(key, default)) != str(p.get(key, default))]

    def _put(self, c: Cumulo, spec: DestinationSpec, update: bool) -> None:
        p = spec.properties
        rate = p.get("InvocationRateLimitPerSecond")
        c.api_destinations.create_api_destination(
            spec.name, p["ConnectionArn"], p["InvocationEndpoint"], p["HttpMethod"],
            int(rate) if rate is not None else None, p.get("Description"), update=update,
            arn_suffix=spec.arn.rsplit("/", 1)[1])

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                try:
                    deploy.c.api_destinations.delete_api_destination(name)
                except ResourceNotFoundException:
                    pass
