"""Building functions at deploy, as ``sam build`` does before ``sam deploy``.

A function whose ``CodeUri`` is a folder is built when it has something to build:

- a Python runtime with ``requirements.txt``: the requirements are installed into a copy of the
  folder (``cumulo package``);
- a Node.js runtime with ``package.json`` naming ``dependencies``: ``npm ci --omit=dev`` (with a
  lock file) or ``npm install --omit=dev`` in a copy of the folder.

``Metadata: BuildMethod`` names the build explicitly, as in SAM: a Python or Node.js runtime name
builds as above; ``makefile`` runs ``make build-<LogicalId>`` in a copy of the folder with
``ARTIFACTS_DIR`` set and deploys what the target put there (``cumulo.packaging.build_makefile``);
a method Cumulo cannot run (``esbuild``, ``rust-cargolambda``, ``go1.x``, ``dotnet…``, ``java…``)
is refused with its name, never skipped. Layers (``AWS::Serverless::LayerVersion``) with a
``makefile`` or Node.js ``BuildMethod`` are built here too (Python layers are built by the layer kind,
with or without a build). Builds are cached by content (``cumulo.packaging``); ``--no-build`` deploys
the folders as they are.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError
from cumulo.deploy.template import Template, TemplateError
from cumulo.errors import CumuloError
from cumulo.model.function import NODE_RUNTIMES, PYTHON_RUNTIMES
from cumulo.packaging import build_makefile, build_package

__all__ = ["MAKEFILE", "build_method", "build_functions"]

MAKEFILE = "makefile"


def build_method(runtime: str, code_uri: Path | bytes, metadata: Any) -> str | None:
    """How the function is built: a runtime name (Python or Node.js), or None (deployed as it is)."""
    if not isinstance(code_uri, Path):
        return None          # InlineCode: one file, nothing to install
    if isinstance(metadata, dict) and "BuildMethod" in metadata:
        method = str(metadata["BuildMethod"])
        if method not in PYTHON_RUNTIMES | NODE_RUNTIMES | {MAKEFILE}:
            raise IntrinsicError(
                f"Metadata BuildMethod '{method}' cannot be run by Cumulo, which builds Python "
                "(requirements.txt) and Node.js (package.json) functions and runs makefiles; build it "
                "yourself, point CodeUri at the result, and deploy with --no-build")
        return method if code_uri.is_dir() else None
    if not code_uri.is_dir():
        return None          # a .zip is deployed as it is
    if runtime in PYTHON_RUNTIMES and (code_uri / "requirements.txt").is_file():
        return runtime
    if runtime in NODE_RUNTIMES and _has_dependencies(code_uri / "package.json"):
        return runtime
    return None


def _has_dependencies(package_json: Path) -> bool:
    if not package_json.is_file():
        return False
    try:
        manifest = json.loads(package_json.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntrinsicError(f"{package_json} is not valid JSON: {exc}") from None
    return isinstance(manifest, dict) and bool(manifest.get("dependencies"))


def build_functions(template: Template) -> Template:
    """The template with each function that needs a build pointing at its built package."""
    functions = []
    for fn in template.functions:
        try:
            method = build_method(fn.runtime, fn.code_uri, fn.metadata)
            if method == MAKEFILE and isinstance(fn.code_uri, Path):
                fn = replace(fn, code_uri=build_makefile(fn.code_uri, fn.logical_id).zip_path)
            elif method is not None and isinstance(fn.code_uri, Path):
                fn = replace(fn, code_uri=build_package(fn.code_uri, method).zip_path)
        except (IntrinsicError, CumuloError) as exc:
            raise TemplateError(f"Resource {fn.logical_id} (line {fn.line}): build failed: {exc.message}",
                                logical_id=fn.logical_id, line=fn.line) from None
        functions.append(fn)
    layers = []
    for layer in template.resources.get("layer", []):
        if layer.build_method not in PYTHON_RUNTIMES | {None} and layer.content_uri.is_dir():
            try:
                zip_path = (build_makefile(layer.content_uri, layer.logical_id) if layer.build_method == MAKEFILE
                            else build_package(layer.content_uri, layer.build_method, layer=True)).zip_path
            except CumuloError as exc:
                raise TemplateError(f"Resource {layer.logical_id} (line {layer.line}): build failed: {exc.message}",
                                    logical_id=layer.logical_id, line=layer.line) from None
            layer = replace(layer, content_uri=zip_path, build_method=None)
        layers.append(layer)
    return template.with_resources("function", functions).with_resources("layer", layers)
