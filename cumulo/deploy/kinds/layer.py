"""``AWS::Serverless::LayerVersion``: read by ``cumulo.deploy.layers`` (``Globals.LayerVersion`` merged in),
published before the functions that use it; CloudFormation's ``AWS::Lambda::LayerVersion`` the same way, its
properties written as SAM's (``cumulo.deploy.lambda_resources``; ``!GetAtt LayerVersionArn`` is its ``Ref``).

While the template is read, ``!Ref MyLayer`` is a stand-in; planning finds the version ARN a deploy
would reuse and applying the one it publishes (``Deploy.attributes``), which the function kind puts in
the stand-ins' place. A layer whose content and settings equal its latest published version is not
published again: re-deploying an unchanged template publishes nothing; undo deletes what a failed
deploy published. After a successful deploy, versions a ``Delete`` retention policy no longer needs
are deleted (functions that still use one keep working: a deleted layer version's content stays
while something names it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cumulo.deploy import lambda_resources as lr
from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.layers import LAYER_TYPE, LayerSpec, layer_attributes, merge_layer_globals, read_layer
from cumulo.model import layer as ly
from cumulo.model.code import load_code
from cumulo.model.function import Arns
from cumulo.model.layer import LayerVersion

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Layer"]


class Layer(Kind):
    name = "layer"
    types = (LAYER_TYPE, lr.LAYER)
    listed = 80
    record_key = "layers"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        return {}, {k: v for entry in entries for k, v in layer_attributes(entry.logical_id).items()}

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            if entry.type == lr.LAYER:          # plain CloudFormation: no Globals
                try:
                    properties = lr.layer_properties(entry.properties)
                except IntrinsicError as exc:
                    raise property_error(entry, exc) from None
            else:
                try:
                    properties = merge_layer_globals(load.globals.get("LayerVersion"), entry.properties)
                except IntrinsicError as exc:
                    raise error(f"Globals (line {exc.line})", exc.message, line=exc.line) from None
            try:
                specs.append(read_layer(entry.logical_id, entry.line, properties, load.scope, load.base,
                                        entry.metadata))
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
        return specs

    def warnings(self, spec: LayerSpec) -> list[str]:
        return []

    def attributes(self, spec: LayerSpec, arns: Arns) -> Attributes:
        return layer_attributes(spec.logical_id)

    def deployed(self, spec: LayerSpec, deploy: Deploy) -> Attributes:
        arn = deploy.attributes.get((spec.logical_id, "Ref"))
        return {(spec.logical_id, "Ref"): arn, (spec.logical_id, "LayerVersionArn"): arn} if arn else {}

    def plan(self, spec: LayerSpec, deploy: Deploy) -> Change:
        """Whether a deploy would publish a version; the one it would reuse goes in ``deploy.attributes``."""
        arn = _reused(deploy.c, spec, load_code(spec.content()).sha256_hex)
        deploy.attributes[(spec.logical_id, "Ref")] = arn
        if arn:
            action = "unchanged"
        else:
            action = "create" if _latest(deploy.c, spec.name) is None else "update"
        return Change(spec.logical_id, spec.name, action, ["new version"] if action == "update" else [],
                      kind=self.name)

    def apply(self, spec: LayerSpec, change: Change | None, deploy: Deploy) -> str:
        """Publish the layer if its content or settings changed (as planned: versions this deploy publishes
        are not compared with each other); its version ARN."""
        c = deploy.c
        package = load_code(spec.content())
        arn = _reused(c, spec, package.sha256_hex) if change is not None and change.action == "unchanged" else None
        if not arn:
            doc = c.publish_layer_version(spec.name, package, list(spec.compatible_runtimes), spec.description,
                                          list(spec.compatible_architectures), spec.license_info)
            arn = str(doc["LayerVersionArn"])
            deploy.undo.append(_deleter(c, spec.name, int(doc["Version"])))
        deploy.attributes[(spec.logical_id, "Ref")] = arn
        return arn

    def record(self, applied: list[tuple[LayerSpec, Any]]) -> dict[str, Any]:
        """What the stack remembers of its layers, for the next deploy's ``remove``."""
        return {spec.logical_id: {"arn": arn, "retention": spec.retention_policy} for spec, arn in applied}

    def remove(self, previous: Any, current: dict[str, Any], deploy: Deploy) -> None:
        """Versions a ``Delete`` retention policy no longer needs: replaced, or their resource removed."""
        for logical_id, old in (previous or {}).items():
            if old.get("retention") == "Delete" and old.get("arn") and \
                    old["arn"] != (current.get(logical_id) or {}).get("arn"):
                name, version = ly.parse_layer_version_arn(old["arn"])
                deploy.c.delete_layer_version(name, version)


def _latest(c: Cumulo, name: str) -> LayerVersion | None:
    versions = c.layers.versions(name)
    return versions[0] if versions else None


def _same(spec: LayerSpec, current: LayerVersion | None, code_hex: str) -> bool:
    return current is not None and (current.code_hex, current.compatible_runtimes, current.compatible_architectures,
                                    current.description, current.license_info) == \
        (code_hex, spec.compatible_runtimes, spec.compatible_architectures, spec.description, spec.license_info)


def _reused(c: Cumulo, spec: LayerSpec, code_hex: str) -> str | None:
    """The ARN of the layer's latest version if it equals ``spec`` with content ``code_hex``; else None."""
    current = _latest(c, spec.name)
    if current is None or not _same(spec, current, code_hex):
        return None
    return c.arns.layer(spec.name, current.version)


def _deleter(c: Cumulo, name: str, version: int) -> Any:
    return lambda: c.delete_layer_version(name, version)
