"""``AWS::Serverless::LayerVersion`` in templates, and functions' ``Layers: [!Ref MyLayer]``.

Reading (pure, used by ``cumulo.deploy.template``): ``LayerName`` (default: the
logical id, as SAM does), ``ContentUri`` (a local folder or .zip; S3 is
refused), ``CompatibleRuntimes``, ``CompatibleArchitectures``, ``Description``,
``LicenseInfo`` and ``RetentionPolicy`` (``Retain``, the default, or ``Delete``); ``Globals.LayerVersion``
merges in as SAM merges globals. ``Metadata: BuildMethod: pythonX.Y`` builds the layer as
``cumulo package --layer`` does (``requirements.txt`` installed, everything under ``python/``,
cached by content); other build methods are refused.

A layer version's ARN is only known once it is published, so while the
template is read ``!Ref MyLayer`` resolves to a stand-in (``ref_token``); the
deploy engine publishes the template's layers before its functions and puts
the real version ARNs in their place (``with_layer_arns``). A layer whose
content and settings equal its latest published version is not published
again: re-deploying an unchanged template publishes nothing.

Applying (the shell, used by ``cumulo.deploy.engine``): ``plan_layers``,
``apply_layers`` (undo deletes what it published), ``record`` for the stack,
and ``delete_replaced`` — after a successful deploy, versions a ``Delete``
retention policy no longer needs are deleted (functions that still use one keep
working: a deleted layer version's content stays while something names it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, Scope, resolve, to_str
from cumulo.deploy.kinds.base import Change
from cumulo.errors import CumuloError
from cumulo.model import function as fn
from cumulo.model import layer as ly
from cumulo.model.layer import LayerVersion

if TYPE_CHECKING:
    from cumulo.app import Cumulo
    from cumulo.deploy.template import FunctionResource, Template

__all__ = ["LAYER_TYPE", "LayerSpec", "read_layer", "merge_layer_globals", "ref_token", "layer_attributes", "with_layer_arns",
           "plan_layers", "apply_layers", "record", "delete_replaced", "expected_arns", "layers_differ"]

LAYER_TYPE = "AWS::Serverless::LayerVersion"
_TOKEN = "cumulo-layer-ref:"
_PROPERTIES = frozenset({"LayerName", "ContentUri", "CompatibleRuntimes", "CompatibleArchitectures", "Description",
                         "LicenseInfo", "RetentionPolicy"})
# What SAM's Globals.LayerVersion may set.
_GLOBAL_PROPERTIES = frozenset({"CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo", "RetentionPolicy"})


@dataclass(frozen=True)
class LayerSpec:
    logical_id: str
    line: int
    name: str
    content_uri: Path
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    description: str = ""
    license_info: str | None = None
    retention_policy: str = "Retain"
    build_method: str | None = None     # Metadata.BuildMethod: pythonX.Y builds it as `cumulo package --layer`
    notes: list[str] = field(default_factory=list, compare=False)

    def content(self) -> Path:
        """The folder or zip to publish: ContentUri, or its build when a BuildMethod asks for one."""
        if self.build_method is None:
            return self.content_uri
        from cumulo.packaging import build_package

        return build_package(self.content_uri, self.build_method, layer=True).zip_path


def ref_token(logical_id: str) -> str:
    """What ``!Ref <layer>`` is while the template is read; replaced by the version ARN at deploy."""
    return f"{_TOKEN}{logical_id}"


def layer_attributes(logical_id: str) -> dict[tuple[str, str], Any]:
    return {(logical_id, "Ref"): ref_token(logical_id)}


def merge_layer_globals(section: Any, properties: Node) -> Node:
    """``Globals.LayerVersion`` merged into one layer's properties, by SAM's rules (as functions')."""
    if section is None:
        return properties
    if not isinstance(section, Node):
        raise IntrinsicError("Globals.LayerVersion must be a map")
    for key in section:
        if key not in _GLOBAL_PROPERTIES:
            raise IntrinsicError(f"Globals.LayerVersion: property '{key}' cannot be set in Globals",
                                 section.line_of(key))
    from cumulo.deploy.properties import merge_globals

    return merge_globals(section, properties)


def read_layer(logical_id: str, line: int, properties: Node, scope: Scope, base: Path,
               metadata: Any = None) -> LayerSpec:
    """One layer resource's properties, checked with the Lambda API's validators."""
    for key in properties:
        if key not in _PROPERTIES:
            raise IntrinsicError(f"property {key}: unknown or unsupported property", properties.line_of(key))

    def get(key: str, convert: Callable[[Any], Any], default: Any = None) -> Any:
        where = properties.line_of(key)
        try:
            value = resolve(properties[key], scope) if key in properties else NO_VALUE
            return default if value is NO_VALUE else convert(value)
        except (IntrinsicError, CumuloError) as exc:
            raise IntrinsicError(f"property {key}: {exc.message}", getattr(exc, "line", None) or where) from None

    if "ContentUri" not in properties:
        raise IntrinsicError("property ContentUri is required", properties.line)
    return LayerSpec(
        logical_id, line,
        name=get("LayerName", lambda v: ly.validate_layer_name(to_str(v)), logical_id),
        content_uri=get("ContentUri", lambda v: _content_uri(base, v)),
        compatible_runtimes=tuple(get("CompatibleRuntimes", lambda v: ly.validate_compatible_runtimes(_strings(v)), [])),
        compatible_architectures=tuple(get("CompatibleArchitectures",
                                           lambda v: ly.validate_compatible_architectures(_strings(v)), [])),
        description=get("Description", lambda v: ly.validate_layer_description(to_str(v)), ""),
        license_info=get("LicenseInfo", lambda v: ly.validate_license_info(to_str(v))),
        retention_policy=get("RetentionPolicy", _retention, "Retain"),
        build_method=_build_method(metadata),
    )


def _build_method(metadata: Any) -> str | None:
    """SAM's ``Metadata: BuildMethod``: Python runtimes are built here (requirements.txt installed,
    everything under python/); others need a build Cumulo does not do."""
    if not isinstance(metadata, dict) or "BuildMethod" not in metadata:
        return None
    method = str(metadata["BuildMethod"])
    if method not in fn.PYTHON_RUNTIMES:
        raise IntrinsicError(f"Metadata BuildMethod '{method}' is not supported: Cumulo builds Python layers "
                             f"({', '.join(sorted(fn.PYTHON_RUNTIMES))}); build others first and point ContentUri "
                             "at the result")
    return method


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise IntrinsicError(f"must be a list, got {type(value).__name__}")
    return [to_str(item) for item in value]


def _content_uri(base: Path, value: Any) -> Path:
    text = "" if isinstance(value, dict) else to_str(value)
    if isinstance(value, dict) or text.startswith("s3://"):
        raise IntrinsicError("only a local folder or .zip is supported; S3 locations are not")
    path = (base / text).resolve()
    if not path.exists():
        raise IntrinsicError(f"'{text}' does not exist (looked for {path})")
    return path


def _retention(value: Any) -> str:
    text = to_str(value)
    for policy in ("Retain", "Delete"):
        if text.lower() == policy.lower():
            return policy
    raise IntrinsicError(f"must be Retain or Delete, got '{text}'")


def with_layer_arns(functions: list["FunctionResource"], arns: dict[str, str | None]) -> list["FunctionResource"]:
    """The functions with each layer stand-in (in ``Layers`` and in environment variables, where
    ``!Ref``/``!Sub`` may have put one) replaced by its version ARN; a stand-in whose layer is
    not published yet (None) stays."""
    def real(value: str) -> str:
        for logical_id, arn in arns.items():
            if arn:
                value = value.replace(ref_token(logical_id), arn)
        return value

    out = []
    for resource in functions:
        if any(_TOKEN in v for v in [*resource.layers, *resource.environment.values()]):
            resource = replace(resource, layers=[real(v) for v in resource.layers],
                               environment={k: real(v) for k, v in resource.environment.items()})
        out.append(resource)
    return out


# --- the shell ----------------------------------------------------------------------------------

def _latest(c: "Cumulo", name: str) -> LayerVersion | None:
    versions = c.layers.versions(name)
    return versions[0] if versions else None


def _same(spec: LayerSpec, current: LayerVersion | None, code_hex: str) -> bool:
    return current is not None and (current.code_hex, current.compatible_runtimes, current.compatible_architectures,
                                    current.description, current.license_info) == \
        (code_hex, spec.compatible_runtimes, spec.compatible_architectures, spec.description, spec.license_info)


def expected_arns(c: "Cumulo", template: "Template") -> dict[str, str | None]:
    """Each layer's version ARN if a deploy would reuse its latest version; None if it would publish."""
    from cumulo.model.code import load_code

    return {spec.logical_id: _reused(c, spec, load_code(spec.content()).sha256_hex)
            for spec in template_layers(template)}


def _reused(c: "Cumulo", spec: LayerSpec, code_hex: str) -> str | None:
    """The ARN of the layer's latest version if it equals ``spec`` with content ``code_hex``; else None."""
    current = _latest(c, spec.name)
    if current is None or not _same(spec, current, code_hex):
        return None
    return c.arns.layer(spec.name, current.version)


def layers_differ(current_arns: list[str], wanted: list[str]) -> bool:
    return current_arns != wanted or any(_TOKEN in v for v in wanted)


def plan_layers(c: "Cumulo", template: "Template", expected: dict[str, str | None]) -> list[Change]:
    """The layers' changes, given ``expected_arns`` of the same template."""
    changes = []
    for spec in template_layers(template):
        if expected[spec.logical_id]:
            action = "unchanged"
        else:
            action = "create" if _latest(c, spec.name) is None else "update"
        changes.append(Change(spec.logical_id, spec.name, action,
                              ["new version"] if action == "update" else [], kind="layer"))
    return changes


def apply_layers(c: "Cumulo", template: "Template", undo: list[Callable[[], object]]) -> dict[str, str | None]:
    """Publish the layers whose content or settings changed; their ARNs by logical id."""
    from cumulo.model.code import CodePackage, load_code

    arns: dict[str, str | None] = {}
    publish: list[tuple[LayerSpec, CodePackage]] = []
    for spec in template_layers(template):      # each layer's content zipped and hashed once
        package = load_code(spec.content())
        arns[spec.logical_id] = _reused(c, spec, package.sha256_hex)
        if not arns[spec.logical_id]:
            publish.append((spec, package))
    for spec, package in publish:
        doc = c.publish_layer_version(spec.name, package, list(spec.compatible_runtimes), spec.description,
                                      list(spec.compatible_architectures), spec.license_info)
        arns[spec.logical_id] = doc["LayerVersionArn"]
        undo.append(_deleter(c, spec.name, int(doc["Version"])))
    return arns


def _deleter(c: "Cumulo", name: str, version: int) -> Callable[[], None]:
    return lambda: c.delete_layer_version(name, version)


def record(template: "Template", arns: dict[str, str | None]) -> dict[str, Any]:
    """What the stack remembers of its layers, for the next deploy's ``delete_replaced``."""
    return {spec.logical_id: {"arn": arns[spec.logical_id], "retention": spec.retention_policy}
            for spec in template_layers(template)}


def delete_replaced(c: "Cumulo", previous: dict[str, Any], arns: dict[str, str | None]) -> None:
    """Versions a ``Delete`` retention policy no longer needs: replaced, or their resource removed."""
    for logical_id, old in (previous.get("layers") or {}).items():
        if old.get("retention") == "Delete" and old.get("arn") and old["arn"] != arns.get(logical_id):
            name, version = ly.parse_layer_version_arn(old["arn"])
            c.delete_layer_version(name, version)


def template_layers(template: "Template") -> list[LayerSpec]:
    return list(template.layers)
