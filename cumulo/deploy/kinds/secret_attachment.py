"""What a template attaches to a secret: ``AWS::SecretsManager::ResourcePolicy``
(``secret_policy.py``) and ``AWS::SecretsManager::RotationSchedule`` (``rotation_schedule.py``).
Both name one secret (``SecretId``), are recorded as logical id -> secret, and when the template
drops one, what it attached is taken off the secret (its policy deleted, its rotation cancelled).
A subclass says how its properties are read (``parse``) and what taking it off is (``detach``).
"""

from __future__ import annotations

from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, resolve
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, property_error, quietly
from cumulo.deploy.properties import plain

__all__ = ["SecretAttachment"]


class SecretAttachment(Kind):
    """The kind, but for ``parse`` (an entry's resolved properties to a spec with ``logical_id``
    and ``secret``) and ``detach``."""

    def parse(self, entry: Entry, props: dict[str, Any]) -> Any:
        raise NotImplementedError

    def detach(self, deploy: Deploy, secret: str) -> None:
        raise NotImplementedError

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        return {e.logical_id: e.logical_id for e in entries}, {}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            try:
                specs.append(self.parse(entry, plain(resolve(entry.properties, load.scope))))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def record(self, applied: list[tuple[Any, Any]]) -> dict[str, Any]:
        return {spec.logical_id: spec.secret for spec, _ in applied}

    def removed(self, specs: list[Any], deploy: Deploy) -> list[Change]:
        wanted = {spec.secret for spec in specs}
        return [Change(lid, secret, "delete", kind=self.name)
                for lid, secret in sorted((deploy.before(self) or {}).items()) if secret not in wanted]

    def remove(self, previous: Any, current: dict[str, Any], deploy: Deploy) -> None:
        wanted = set(current.values())
        for secret in (previous or {}).values():
            if secret not in wanted:
                quietly(self.detach, deploy, secret)
