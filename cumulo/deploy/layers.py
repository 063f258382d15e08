"""``AWS::Serverless::LayerVersion`` in templates, and functions' ``Layers: [!Ref MyLayer]``.

Reading (pure, used by the ``layer`` kind, ``cumulo.deploy.kinds.layer``): ``LayerName`` (default: the
logical id, as SAM does), ``ContentUri`` (a local folder or .zip; S3 is
refused), ``CompatibleRuntimes``, ``CompatibleArchitectures``, ``Description``,
``LicenseInfo`` and ``RetentionPolicy`` (``Retain``, the default, or ``Delete``); ``Globals.LayerVersion``
merges in as SAM merges globals. ``Metadata: BuildMethod: pythonX.Y`` builds the layer as
``cumulo package --layer`` does (``requirements.txt`` installed, everything under ``python/``,
cached by content); ``nodejsN.x`` (``package.json``'s dependencies installed, everything under
``nodejs/``) and ``makefile`` (``make build-<LogicalId>`` with ``ARTIFACTS_DIR``) are built by the
deploy's build step (``cumulo.deploy.build``; with ``--no-build`` the folder is published as it is);
other build methods are refused.

A layer version's ARN is only known once it is published, so while the
template is read ``!Ref MyLayer`` resolves to a stand-in (``ref_token``); the
deploy engine publishes the template's layers before its functions and puts
the real version ARNs in their place (``with_layer_arns``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, Node, Scope, resolve, to_str
from cumulo.errors import CumuloError
from cumulo.model import function as fn
from cumulo.model import layer as ly

__all__ = ["LAYER_TYPE", "LayerSpec", "read_layer", "merge_layer_globals", "ref_token", "layer_attributes",
           "with_layer_arns", "has_stand_in", "layers_differ"]

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
    build_method: str | None = None     # Metadata.BuildMethod: pythonX.Y builds it as `cumulo package --layer`;
    #                                     nodejsN.x and makefile: cumulo.deploy.build (or published as it is)
    notes: list[str] = field(default_factory=list, compare=False)

    def content(self) -> Path:
        """The folder or zip to publish: ContentUri, or its build when a BuildMethod asks for one."""
        if self.build_method not in fn.PYTHON_RUNTIMES:
            return self.content_uri     # none, or built by the deploy's build step (not with --no-build)
        from cumulo.packaging import build_package

        return build_package(self.content_uri, self.build_method, layer=True).zip_path


def ref_token(logical_id: str) -> str:
    """What ``!Ref <layer>`` is while the template is read; replaced by the version ARN at deploy. It ends with a
    character no logical id has, so one layer's stand-in is never the start of another's (``Shared``,
    ``SharedTools``)."""
    return f"{_TOKEN}{logical_id};"


def layer_attributes(logical_id: str) -> dict[tuple[str, str], Any]:
    """``Ref`` (and CloudFormation's ``LayerVersionArn``, the same) while the template is read."""
    return {(logical_id, "Ref"): ref_token(logical_id), (logical_id, "LayerVersionArn"): ref_token(logical_id)}


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
    """SAM's ``Metadata: BuildMethod``: Python and Node.js runtimes, and ``makefile``; others need a
    build Cumulo does not do."""
    if not isinstance(metadata, dict) or "BuildMethod" not in metadata:
        return None
    method = str(metadata["BuildMethod"])
    if method not in fn.PYTHON_RUNTIMES | fn.NODE_RUNTIMES | {"makefile"}:
        raise IntrinsicError(f"Metadata BuildMethod '{method}' is not supported: Cumulo builds Python and Node.js "
                             "layers (a runtime's name) and runs makefiles (makefile); build others first and "
                             "point ContentUri at the result")
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


def with_layer_arns(value: str, arns: Mapping[tuple[str, str], Any]) -> str:
    """``value`` (a function's layer, or an environment variable, where ``!Ref``/``!Sub`` may have put a
    stand-in) with each stand-in whose layer's version ARN ``arns`` holds (as its ``Ref``) replaced by it;
    a stand-in whose layer is not published yet stays."""
    for (logical_id, attribute), arn in arns.items():
        if attribute == "Ref" and arn:
            value = value.replace(ref_token(logical_id), arn)
    return value


def has_stand_in(value: str) -> bool:
    return _TOKEN in value


def layers_differ(current_arns: list[str], wanted: list[str]) -> bool:
    return current_arns != wanted or any(_TOKEN in v for v in wanted)
