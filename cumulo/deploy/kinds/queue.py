"""``AWS::SQS::Queue``: named (``QueueName``, or ``<stack>-<LogicalId>-<suffix>``), read by
``cumulo.deploy.queues`` (dead-letter queues ordered before the queues that redrive to them), created,
its attributes and tags updated in place, deleted when the template drops it.

``Ref`` is the queue URL; ``Fn::GetAtt`` gives ``Arn``, ``QueueName`` and ``QueueUrl``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import (
    Attributes, Change, Deploy, Entry, Kind, Load, TemplateError, error, quietly,
)
from cumulo.deploy.properties import plain
from cumulo.deploy.queues import QUEUE_TYPE, QueueSpec, ordered, queue_attributes, queue_name_for, read_queue
from cumulo.model.function import Arns
from cumulo.model.queue import QueueAttributes

__all__ = ["Queue"]


class Queue(Kind):
    name = "queue"
    types = (QUEUE_TYPE,)
    listed = 20
    record_key = "queues"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        """Each queue's (name, ARN, URL), known before any property refers to them."""
        named: dict[str, tuple[str, str, str]] = {}
        owners: dict[str, str] = {}
        for entry in entries:
            try:
                fifo = resolve(entry.properties.get("FifoQueue", False), load.plain)
                given = resolve(entry.properties.get("QueueName", NO_VALUE), load.plain)
            except IntrinsicError as exc:   # QueueName may use parameters, mappings and conditions only
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
            fifo = fifo is True or str(fifo).lower() == "true"
            name = queue_name_for(load.stack, entry.logical_id, fifo) if given is NO_VALUE else to_str(given)
            if name in owners:
                raise error(entry.where, f"queue name '{name}' is already used by resource {owners[name]}",
                            entry.logical_id, entry.line)
            owners[name] = entry.logical_id
            named[entry.logical_id] = (name, f"arn:aws:sqs:{load.region}:{load.account}:{name}",
                                       f"{load.queue_endpoint.rstrip('/')}/{load.account}/{name}")
        return named, {k: v for lid, names in named.items() for k, v in queue_attributes(lid, *names).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name, arn, url = named[entry.logical_id]
            try:
                props = plain(resolve(entry.properties, load.scope))
                specs.append(read_queue(entry.logical_id, entry.line, name, arn, url, props))
            except IntrinsicError as exc:
                raise error(entry.where, exc.message, entry.logical_id, exc.line or entry.line) from None
        try:
            return ordered(specs)
        except IntrinsicError as exc:
            raise TemplateError(exc.message, line=exc.line) from None

    def attributes(self, spec: QueueSpec, arns: Arns) -> Attributes:
        return queue_attributes(spec.logical_id, spec.name, spec.arn, spec.url)

    def deployed(self, spec: QueueSpec, deploy: Deploy) -> Attributes:
        return queue_attributes(spec.logical_id, spec.name, spec.arn, deploy.c.queues.url(spec.name))

    def plan(self, spec: QueueSpec, deploy: Deploy) -> Change:
        doc = deploy.c.messages.queues.get_queue(spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = _details(doc, spec)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[QueueSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.queues.exists(name)]

    def apply(self, spec: QueueSpec, change: Change | None, deploy: Deploy) -> None:
        c = deploy.c
        doc = c.messages.queues.get_queue(spec.name)
        if doc is None:
            c.queues.create_queue(spec.name, spec.attributes, spec.tags)
            deploy.undo.append(partial(c.queues.delete_queue, spec.name))
            return
        if not _details(doc, spec):
            return
        deploy.undo.append(partial(c.messages.queues.put_queue, spec.name, dict(doc)))
        current, wanted = _shown(doc["attributes"]), _shown(spec.attributes)
        changed = {k: wanted.get(k, "") for k in set(current) | set(wanted)
                   if current.get(k) != wanted.get(k) and k != "FifoQueue"}
        if changed:
            c.queues.set_queue_attributes(spec.name, changed)
        fresh = c.messages.queues.get_queue(spec.name) or doc
        if fresh.get("tags", {}) != spec.tags:
            c.messages.queues.put_queue(spec.name, {**fresh, "tags": dict(spec.tags)})

    def record(self, applied: list[tuple[QueueSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                quietly(deploy.c.queues.delete_queue, name)


def _shown(attributes: dict[str, str]) -> dict[str, str]:
    # An attribute set to "" is one that was removed: compare as if it were never set.
    return {k: v for k, v in QueueAttributes(attributes).defaults().items() if v != ""}


def _details(doc: dict[str, Any], spec: QueueSpec) -> list[str]:
    current, wanted = _shown(doc["attributes"]), _shown(spec.attributes)
    details = sorted(k for k in set(current) | set(wanted) if current.get(k) != wanted.get(k))
    return details + (["tags"] if doc.get("tags", {}) != spec.tags else [])
