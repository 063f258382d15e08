"""One protocol for a kind of template resource, and what the template engine hands a kind.

A *kind* (``ResourceKind``) is everything Cumulo knows about one kind of resource: the ``AWS::…`` types
it reads; how it names each resource and what ``!Ref``/``!GetAtt`` answer for it; reading and checking
its properties; the resources SAM would make of it implicitly (a function's events); and planning,
applying and deleting it against what is deployed. ``cumulo.deploy.template`` (reading) and
``cumulo.deploy.engine`` (deploying) drive every kind the same way, in an order they take from the
kinds: their registration order (``cumulo.deploy.kinds.KINDS``) and their dependencies (``after``).

Reading a template, for every kind in registration order (``Load``):

1. ``names``: each resource's physical name, decided before any property is read (from parameters,
   mappings and conditions, and the names of the kinds named before it), and the attributes
   ``!Ref``/``!GetAtt`` answer for it; so properties may name any resource of the template.
2. ``read``: its properties, resolved and checked as AWS would check them (a kind may read what the
   kinds registered before it read: the HTTP API kind reads functions' ``Api`` events).
3. ``expand``: the implicit resources SAM would make of one resource, as resources of other kinds (a
   function's ``SQS`` event is an ``event source mapping``), planned and applied by those kinds like
   declared ones; then ``check`` sees every resource of the kind, declared and implicit.

Deploying, kinds in dependency order (``after``; removals and rollback in the reverse order) and each
kind's resources in template order (``Deploy``): ``plan`` (one ``Change``, or None for a resource
shown as part of another) and ``removed`` (what a deploy would delete), ``apply`` (undo steps go on
``Deploy.undo``), ``record`` (what the stack record keeps, under ``record_key``) and ``remove`` (drop
what the previous deploy made and this one did not keep). A plan lists changes by ``listed``.

Faults while reading are ``TemplateError``s naming the resource and line (``error``,
``property_error``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cumulo.deploy.intrinsics import IntrinsicError, Node, Scope
from cumulo.errors import CumuloError
from cumulo.model.function import Arns
from cumulo.model.queue import SqsError

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["TemplateError", "Entry", "Load", "Deploy", "Change", "Undo", "Attributes", "ResourceKind", "Kind",
           "Registry", "error", "property_error", "quietly", "undo"]

Attributes = dict[tuple[str, str], Any]     # (logical id, attribute) -> value; !Ref is attribute "Ref"
Undo = list[Callable[[], object]]


class TemplateError(CumuloError):
    """A template CloudFormation or SAM would refuse; AWS reports these as ``ValidationError``."""

    status = 400

    def __init__(self, message: str, *, logical_id: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.logical_id = logical_id
        self.line = line

    @property
    def type(self) -> str:
        return "ValidationError"


def error(where: str, detail: str, logical_id: str | None = None, line: int | None = None) -> TemplateError:
    return TemplateError(f"{where}: {detail}", logical_id=logical_id, line=line)


@dataclass(frozen=True)
class Entry:
    """One resource as the template declares it (its Condition held)."""

    logical_id: str
    line: int
    properties: Node
    type: str
    metadata: Any = None          # the resource's Metadata (a layer's or a function's BuildMethod)

    @property
    def where(self) -> str:
        return f"Resource {self.logical_id} (line {self.line})"


def property_error(entry: Entry, exc: IntrinsicError) -> TemplateError:
    """The error for a resource, with the line of the property its message names (``property X: ...``)."""
    match = re.match(r"property ((\w+)[\w.\[\]]*)", exc.message)
    key = match.group(2) if match else None
    line = exc.line or (entry.properties.line_of(key) if key and key in entry.properties else entry.line)
    message = exc.message
    if match and line != entry.line:
        message = message.replace(f"property {match.group(1)}", f"property {match.group(1)} (line {line})", 1)
    return error(entry.where, message, entry.logical_id, line)


@dataclass
class Load:
    """What reading a template gives a kind."""

    stack: str
    region: str
    account: str
    base: Path                     # the template's folder: CodeUri, ContentUri, DefinitionUri are relative to it
    globals: Node                  # the Globals section, as written (each kind checks its own part)
    queue_endpoint: str            # where queue URLs point
    plain: Scope                   # parameters, pseudo parameters, mappings, conditions: no resources
    scope: Scope                   # and the resources' attributes: those named so far, then all of them
    read: dict[str, list[Any]] = field(default_factory=dict)    # kind -> its resources read so far

    @property
    def arns(self) -> Arns:
        return Arns(self.region, self.account)


@dataclass
class Change:
    logical_id: str
    function: str                     # the physical name (a function's, a queue's, a schedule's...)
    action: str                       # create | update | replace | unchanged | delete
    details: list[str] = field(default_factory=list)
    kind: str = "function"            # the kind's name: function | queue | stream | event source mapping | ...


@dataclass
class Deploy:
    """What planning or applying gives a kind: the platform, the stack's previous record, where undo steps
    go, and the attributes only a deploy knows (a layer's version ARN, once published or found unchanged)."""

    c: Cumulo
    previous: dict[str, Any]
    undo: Undo = field(default_factory=list)
    attributes: Attributes = field(default_factory=dict)
    planned: dict[str, Any] = field(default_factory=dict)   # what kinds planned so far, for checks across resources
    # run once the whole deploy worked and is recorded (a gradual deployment starts); each may say what it did
    committed: list[Callable[[], str | None]] = field(default_factory=list)

    def before(self, kind: ResourceKind) -> Any:
        """What the previous deploy of the stack recorded for ``kind`` (None: nothing)."""
        return self.previous.get(kind.record_key) if kind.record_key else None


class ResourceKind(Protocol):
    """A kind of resource (see the module's docstring for when the engine calls what)."""

    @property
    def name(self) -> str:
        """As plans, warnings and a ``Change``'s ``kind`` name it."""

    @property
    def types(self) -> tuple[str, ...]:
        """The ``AWS::…`` types it reads; () for a kind only SAM's expansions make."""

    @property
    def after(self) -> tuple[str, ...]:
        """The kinds whose resources its own need to exist first (deploy order)."""

    @property
    def listed(self) -> int:
        """Where a plan lists its changes (kinds with the same value: together, in template order)."""

    @property
    def record_key(self) -> str | None:
        """Its key in the stack record (None: it keeps nothing)."""

    @property
    def implicit_names(self) -> tuple[str, ...]:
        """Logical ids SAM gives resources it makes of this kind (they resolve in Outputs only)."""

    # -- reading
    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]: ...
    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]: ...
    def expand(self, spec: Any) -> Iterable[tuple[str, Any]]: ...
    def check(self, specs: list[Any], load: Load) -> None: ...
    def warnings(self, spec: Any) -> list[str]: ...

    # -- what !Ref and !GetAtt answer: from the template alone, then from the platform
    def attributes(self, spec: Any, arns: Arns) -> Attributes: ...
    def deployed(self, spec: Any, deploy: Deploy) -> Attributes: ...
    def derives(self, spec: Any, logical_id: str) -> bool: ...

    # -- deploying
    def plan(self, spec: Any, deploy: Deploy) -> Change | None: ...
    def removed(self, specs: list[Any], deploy: Deploy) -> list[Change]: ...
    def apply(self, spec: Any, change: Change | None, deploy: Deploy) -> Any: ...
    def record(self, applied: list[tuple[Any, Any]]) -> Any: ...
    def remove(self, previous: Any, current: Any, deploy: Deploy) -> None: ...

    # -- showing a deploy
    def summary(self, spec: Any) -> list[str]: ...
    def local_outputs(self, outputs: dict[str, Any], specs: list[Any], gateway_url: str) -> dict[str, Any]: ...


class Kind:
    """Defaults for a ``ResourceKind``: a kind overrides what it has."""

    name = ""
    types: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    listed = 100
    record_key: str | None = None
    implicit_names: tuple[str, ...] = ()

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        return {}, {}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        return []

    def expand(self, spec: Any) -> Iterable[tuple[str, Any]]:
        return ()

    def check(self, specs: list[Any], load: Load) -> None:
        return None

    def warnings(self, spec: Any) -> list[str]:
        """Each note of the resource (what was accepted and ignored), naming it."""
        return [f"{spec.logical_id}: {note}" for note in getattr(spec, "notes", ())]

    def attributes(self, spec: Any, arns: Arns) -> Attributes:
        return {}

    def deployed(self, spec: Any, deploy: Deploy) -> Attributes:
        return self.attributes(spec, deploy.c.arns)

    def derives(self, spec: Any, logical_id: str) -> bool:
        """Whether ``logical_id`` names a resource SAM derives from this one (a function's Role, Alias...)."""
        return False

    def plan(self, spec: Any, deploy: Deploy) -> Change | None:
        return None

    def removed(self, specs: list[Any], deploy: Deploy) -> list[Change]:
        return []

    def apply(self, spec: Any, change: Change | None, deploy: Deploy) -> Any:
        return None

    def record(self, applied: list[tuple[Any, Any]]) -> Any:
        return None

    def remove(self, previous: Any, current: Any, deploy: Deploy) -> None:
        return None

    def summary(self, spec: Any) -> list[str]:
        return []

    def local_outputs(self, outputs: dict[str, Any], specs: list[Any], gateway_url: str) -> dict[str, Any]:
        return outputs


class Registry:
    """The kinds templates may declare, in registration order: the order in which they are listed as
    supported, named and read. A new kind is one ``register`` (``cumulo.deploy.kinds`` holds the lines)."""

    def __init__(self, kinds: Iterable[ResourceKind] = ()) -> None:
        self._kinds: list[ResourceKind] = []
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ResourceKind) -> ResourceKind:
        if any(k.name == kind.name for k in self._kinds):
            raise ValueError(f"a kind named {kind.name!r} is already registered")
        taken = [t for t in kind.types if self.of_type(t) is not None]
        if taken:
            raise ValueError(f"{taken[0]} is already read by another kind")
        self._kinds.append(kind)
        return kind

    def unregister(self, kind: ResourceKind) -> None:
        self._kinds.remove(kind)

    def __iter__(self) -> Iterator[ResourceKind]:
        return iter(list(self._kinds))

    def __getitem__(self, name: str) -> ResourceKind:
        for kind in self._kinds:
            if kind.name == name:
                return kind
        raise KeyError(name)

    @property
    def types(self) -> tuple[str, ...]:
        """Every type a template may declare, in registration order."""
        return tuple(t for kind in self._kinds for t in kind.types)

    def of_type(self, type_: str) -> ResourceKind | None:
        return next((kind for kind in self._kinds if type_ in kind.types), None)

    def deploy_order(self) -> list[ResourceKind]:
        """Every kind after the kinds it names in ``after``; otherwise in registration order."""
        done: list[ResourceKind] = []
        waiting = list(self._kinds)
        while waiting:
            ready = next((k for k in waiting if all(self[a] in done for a in k.after)), None)
            if ready is None:
                raise ValueError(f"kinds {[k.name for k in waiting]} wait for each other (after)")
            done.append(ready)
            waiting.remove(ready)
        return done

    def expand(self, read: Mapping[str, list[Any]]) -> list[tuple[ResourceKind, Any]]:
        """Every resource: those read (kinds in registration order), then the implicit ones each makes
        (``expand``), in the same order, and theirs after them."""
        out = [(kind, spec) for kind in self._kinds for spec in read.get(kind.name, ())]
        for kind, spec in out:          # grows while it is walked: implicit resources may make others
            out.extend((self[name], implicit) for name, implicit in kind.expand(spec))
        return out


def quietly(action: Callable[..., Any], *args: Any) -> None:
    """Best effort, for undo and cleanup: what is already gone needs no removing."""
    try:
        action(*args)
    except (CumuloError, SqsError):
        pass


def undo(steps: Undo) -> None:
    """Run undo steps, last first; each is best effort."""
    for step in reversed(steps):
        quietly(step)
