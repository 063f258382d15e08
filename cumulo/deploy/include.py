"""``Fn::Transform`` with ``Name: AWS::Include``: a snippet file put in the template where it is named.

CloudFormation's ``AWS::Include`` transform reads a YAML or JSON file (``Parameters: {Location: ...}``)
and puts its content where the ``Fn::Transform`` stood, before anything else is read (SAM's transform
runs after it): as a whole value (``DefinitionBody: {Fn::Transform: ...}``), or merged into the map
that holds the ``Fn::Transform`` key beside others (a snippet of resources in ``Resources``). On AWS the
location is an S3 URL; as people write templates before ``aws cloudformation package`` it is a path
relative to the template, and that is what Cumulo reads here (``CreateStack`` copies ``s3://`` snippets
of its own S3 beside the template first: ``cumulo.deploy.change_sets``). Snippets may include others;
intrinsic functions inside them are evaluated with the template's.

Pure apart from reading the files; faults are ``IntrinsicError``s naming the location.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cumulo.deploy.intrinsics import IntrinsicError, Node, parse

__all__ = ["INCLUDE", "expand_includes", "include_location"]

INCLUDE = "AWS::Include"
_TRANSFORM = "Fn::Transform"
_DEPTH = 10        # snippets including snippets: a cycle is refused rather than followed


def include_location(value: Any) -> Any:
    """The ``Location`` of an ``AWS::Include`` transform call's arguments, or None when it is not one."""
    if isinstance(value, dict) and value.get("Name") == INCLUDE and isinstance(value.get("Parameters"), dict):
        return value["Parameters"].get("Location")
    return None


def expand_includes(doc: Any, base: Path, depth: int = 0) -> Any:
    """``doc`` with every ``AWS::Include`` replaced by its snippet (paths relative to ``base``); other
    ``Fn::Transform`` calls are left for evaluation to refuse (Cumulo runs no macros)."""
    if isinstance(doc, list):
        return [expand_includes(item, base, depth) for item in doc]
    if not isinstance(doc, dict):
        return doc
    call = doc.get(_TRANSFORM)
    if call is not None and include_location(call) is not None:
        snippet = _snippet(call, base, depth, getattr(doc, "line", 0))
        if len(doc) == 1:
            return snippet
        if not isinstance(snippet, dict):
            raise IntrinsicError(f"{_TRANSFORM} {INCLUDE} beside other keys must include a map, got "
                                 f"{type(snippet).__name__}", getattr(doc, "line", None))
        rest = Node({k: v for k, v in doc.items() if k != _TRANSFORM}, line=getattr(doc, "line", 0))
        rest.key_lines.update(getattr(doc, "key_lines", {}))
        for key, value in snippet.items():
            if key in rest:
                raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: key '{key}' is both in the snippet and beside it",
                                     getattr(doc, "line", None))
            rest[key] = value
            rest.key_lines[key] = snippet.line_of(key) if isinstance(snippet, Node) else rest.line
        doc = rest
    out = Node(line=getattr(doc, "line", 0))
    out.key_lines.update(getattr(doc, "key_lines", {}))
    for key, value in doc.items():
        out[key] = expand_includes(value, base, depth)
    return out


def _snippet(call: dict[str, Any], base: Path, depth: int, line: int) -> Any:
    location = include_location(call)
    if depth >= _DEPTH:
        raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: snippets include each other more than {_DEPTH} deep", line)
    if not isinstance(location, str) or not location:
        raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: Parameters.Location must be a string (intrinsic functions "
                             "are not evaluated there, as on AWS)", line)
    if location.startswith(("s3://", "https://", "http://")):
        raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: Location {location} is in S3: Cumulo reads snippets of its "
                             "own S3 when the template is given to CreateStack or a change set (aws cloudformation "
                             "deploy); `cumulo deploy` reads them from a path beside the template", line)
    path = (base / location).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: Location {location} cannot be read ({path}): "
                             f"{exc.strerror if isinstance(exc, OSError) else exc}", line) from None
    try:
        snippet = parse(text)
    except IntrinsicError as exc:
        raise IntrinsicError(f"{_TRANSFORM} {INCLUDE}: {location} (line {exc.line}): {exc.message}", line) from None
    return expand_includes(snippet, path.parent, depth + 1)
