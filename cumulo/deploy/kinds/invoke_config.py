"""The asynchronous-invocation config SAM makes of a function's ``EventInvokeConfig`` (on its alias with
``AutoPublishAlias``), and CloudFormation's ``AWS::Lambda::EventInvokeConfig`` (``FunctionName``, ``Qualifier``:
``$LATEST``, a version or an alias; destinations' types are read from their ARNs). A plan shows a change to it as a detail of the function's change
(``differs``); a config the template drops is deleted after the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.deploy import lambda_resources as lr
from cumulo.deploy.intrinsics import IntrinsicError, resolve
from cumulo.deploy.kinds.base import Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain
from cumulo.deploy.triggers import EventInvokeSpec, read_event_invoke_config
from cumulo.errors import ResourceNotFoundException

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["EventInvokeConfig", "FunctionInvokeConfig", "differs"]


@dataclass(frozen=True)
class FunctionInvokeConfig:
    function_name: str
    qualifier: str | None             # the function's AutoPublishAlias
    config: EventInvokeSpec


class EventInvokeConfig(Kind):
    name = "event invoke config"
    types = (lr.INVOKE_CONFIG,)
    after = ("function",)
    record_key = "invoke_configs"

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                props = plain(resolve(entry.properties, load.scope))
                for key in ("FunctionName", "Qualifier"):
                    if key not in props:
                        raise IntrinsicError(f"property {key} is required")
                name, _ = lr.qualified_name(props.pop("FunctionName"))
                _, qualifier = lr.qualified_name(f"{name}:{props.pop('Qualifier')}")
                destinations = props.get("DestinationConfig")
                if isinstance(destinations, dict):      # CloudFormation names no Type: SAM's, from the ARN
                    props["DestinationConfig"] = {
                        k: {**v, "Type": lr.destination_type(v.get("Destination"))} if isinstance(v, dict) else v
                        for k, v in destinations.items()}
                specs.append(FunctionInvokeConfig(name, qualifier, read_event_invoke_config(props)))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def apply(self, spec: FunctionInvokeConfig, change: Change | None, deploy: Deploy) -> None:
        c, name, qualifier, config = deploy.c, spec.function_name, spec.qualifier, spec.config
        if not differs(c, name, qualifier, config):
            return
        old = _current(c, name, qualifier)
        c.event_invoke_configs.put(name, qualifier, maximum_retry_attempts=config.maximum_retry_attempts,
                                   maximum_event_age_in_seconds=config.maximum_event_age_in_seconds,
                                   destination_config=config.destination_config())
        if old is None:
            deploy.undo.append(lambda: quietly(c.event_invoke_configs.delete, name, qualifier))
        else:
            deploy.undo.append(lambda: quietly(lambda: c.event_invoke_configs.put(
                name, qualifier, maximum_retry_attempts=old.get("MaximumRetryAttempts"),
                maximum_event_age_in_seconds=old.get("MaximumEventAgeInSeconds"),
                destination_config=old.get("DestinationConfig"))))

    def record(self, applied: list[tuple[FunctionInvokeConfig, Any]]) -> list[str]:
        return [f"{spec.function_name}:{spec.qualifier or ''}" for spec, _ in applied]

    def remove(self, previous: Any, current: list[str], deploy: Deploy) -> None:
        for key in set(previous or []) - set(current):
            name, _, qualifier = key.partition(":")
            quietly(deploy.c.event_invoke_configs.delete, name, qualifier or None)


def differs(c: Cumulo, name: str, qualifier: str | None, config: EventInvokeSpec | None) -> bool:
    """Whether applying ``config`` would change the function's (None: a dropped config, deleted after the
    deploy, is no change of the function's)."""
    if config is None:
        return False
    doc = _current(c, name, qualifier)
    if doc is None:
        return True
    return (doc.get("MaximumRetryAttempts"), doc.get("MaximumEventAgeInSeconds"), doc.get("DestinationConfig")) != (
        config.maximum_retry_attempts, config.maximum_event_age_in_seconds, config.destination_config())


def _current(c: Cumulo, name: str, qualifier: str | None) -> dict[str, Any] | None:
    try:
        return c.event_invoke_configs.get(name, qualifier)
    except ResourceNotFoundException:
        return None
