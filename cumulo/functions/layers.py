"""Layers: publish, read, list and delete layer versions; resolve and merge them for functions.

A layer version is a document in the store (``layer-version``, id
``<name>:<version, zero-padded>`` so the store's order is version order) plus a
content-addressed zip in its own blob folder, checked as hostile input exactly
like function code. Version numbers come from a per-layer counter document and
are never reused, even after deletes, as on AWS.

What an environment sees under /opt is one *merged tree* per ordered list of
layers: each layer extracted once (by content hash), then hard-linked (copied
across file systems) into a folder keyed by the hash of the ordered hashes,
later layers replacing earlier ones' files, and made read-only. A function
keeps a ``LayerRef`` (ARN, size, content hash) for each of its layers, so a
layer version deleted while functions use it leaves its blob in place: they
keep working, as on AWS, which keeps a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import shutil
import sys
import tempfile
import threading
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Callable

from cumulo.errors import (
    InvalidParameterValueException, PreconditionFailedException, ResourceConflictException, ResourceNotFoundException,
)
from cumulo.model import layer as ly
from cumulo.model.code import CodePackage, load_code
from cumulo.model.function import Arns
from cumulo.model.layer import LayerRef, LayerVersion
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.base import Store
from cumulo.store.blobs import CodeBlobs, make_read_only, remove_tree

__all__ = ["LayerService", "LayerSource"]

LayerSource = str | PathLike[str] | bytes | CodePackage

_VERSION_KIND = "layer-version"
_COUNTER_KIND = "layer"
_POLICY_KIND = "layer-policy"


def _stamp(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _doc_id(name: str, version: int) -> str:
    return f"{name}:{version:010d}"


class LayerService:
    def __init__(self, store: Store, blobs: CodeBlobs, merged_root: Path, arns: Arns,
                 in_use: Callable[[str], bool] = lambda code_hex: False, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._blobs, self._arns = store, blobs, arns
        self._clock = clock              # CreatedDate
        self._merged_root = merged_root
        merged_root.mkdir(parents=True, exist_ok=True)
        self._in_use = in_use            # whether any function configuration still names this blob
        self._lock = threading.Lock()    # version numbering within this process
        self._provided: dict[str, CodePackage] = {}     # AWS's layers built here (Powertools), by requirement
        self._provided_lock = threading.Lock()           # one build at a time, without holding up publishes

    # -- publish / read -------------------------------------------------------
    def publish(self, name: str, content: LayerSource, compatible_runtimes: list[str] | None = None,
                compatible_architectures: list[str] | None = None, description: str = "",
                license_info: str | None = None) -> LayerVersion:
        name = ly.validate_layer_name(name)
        runtimes = ly.validate_compatible_runtimes(compatible_runtimes)
        architectures = ly.validate_compatible_architectures(compatible_architectures)
        license_info = ly.validate_license_info(license_info)
        description = ly.validate_layer_description(description)
        package = content if isinstance(content, CodePackage) else load_code(content)
        self._blobs.put(package)
        with self._lock:
            counter = self._store.get_document(_COUNTER_KIND, name) or {"name": name, "last_version": 0}
            version = int(counter["last_version"]) + 1
            item = LayerVersion(name, version, package.sha256_hex, package.size, package.unzipped_size, _stamp(self._clock.now()),
                                description, tuple(runtimes), tuple(architectures), license_info)
            self._store.put_document(_VERSION_KIND, _doc_id(name, version), item.to_dict())
            self._store.put_document(_COUNTER_KIND, name, {**counter, "last_version": version})
        return item

    def get(self, name: str, version: int | str) -> LayerVersion:
        name = ly.validate_layer_name(name)
        number = ly.validate_version_number(version)
        doc = self._store.get_document(_VERSION_KIND, _doc_id(name, number)) if number > 0 else None
        if doc is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return LayerVersion.from_dict(doc)

    def get_by_arn(self, arn: str) -> LayerVersion:
        name, version = ly.parse_layer_version_arn(arn)
        if arn != self._arns.layer(name, version):
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return self.get(name, version)

    def versions(self, name: str, runtime: str | None = None, architecture: str | None = None) -> list[LayerVersion]:
        """A layer's versions, newest first (AWS's order), filtered as ListLayerVersions does."""
        name = ly.validate_layer_name(name)
        found = [LayerVersion.from_dict(d) for d in self._store.list_documents(_VERSION_KIND)
                 if d.get("name") == name]
        return sorted((v for v in found if v.matches(runtime, architecture)), key=lambda v: -v.version)

    def all_versions(self) -> list[LayerVersion]:
        return [LayerVersion.from_dict(d) for d in self._store.list_documents(_VERSION_KIND)]

    def layers(self, runtime: str | None = None, architecture: str | None = None) -> list[tuple[str, LayerVersion]]:
        """``(name, latest matching version)`` for each layer with a matching version, by name."""
        latest: dict[str, LayerVersion] = {}
        for doc in self._store.list_documents(_VERSION_KIND):
            v = LayerVersion.from_dict(doc)
            if v.matches(runtime, architecture) and (v.name not in latest or v.version > latest[v.name].version):
                latest[v.name] = v
        return sorted(latest.items())

    def delete(self, name: str, version: int | str) -> None:
        """DeleteLayerVersion: idempotent, as on AWS. The blob stays while anything uses it."""
        name = ly.validate_layer_name(name)
        number = ly.validate_version_number(version)
        doc = self._store.get_document(_VERSION_KIND, _doc_id(name, number))
        if doc is None:
            return
        self._store.delete_document(_VERSION_KIND, _doc_id(name, number))
        self._store.delete_document(_POLICY_KIND, _doc_id(name, number))
        self.release(doc["code_hex"])

    # -- resource policies ----------------------------------------------------
    def add_permission(self, name: str, version: int | str, statement_id: str, action: str, principal: str,
                       organization_id: str | None = None, revision_id: str | None = None) -> dict[str, str]:
        """AddLayerVersionPermission: ``{"Statement": <JSON>, "RevisionId"}``."""
        item = self.get(name, version)
        statement = ly.permission_statement(self._arns.layer(item.name, item.version), statement_id, action,
                                            principal, organization_id)
        with self._lock:
            policy = self._policy(item, revision_id) or {"statements": []}
            if any(s["Sid"] == statement_id for s in policy["statements"]):
                raise ResourceConflictException(
                    f"The statement id ({statement_id}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement.")
            policy = {"statements": [*policy["statements"], statement], "revision_id": str(uuid.uuid4())}
            self._store.put_document(_POLICY_KIND, _doc_id(item.name, item.version), policy)
        return {"Statement": json.dumps(statement), "RevisionId": policy["revision_id"]}

    def get_policy(self, name: str, version: int | str) -> dict[str, str]:
        """GetLayerVersionPolicy: ``{"Policy": <JSON>, "RevisionId"}``."""
        item = self.get(name, version)
        policy = self._policy(item, None)
        if not policy or not policy["statements"]:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["statements"]}
        return {"Policy": json.dumps(document), "RevisionId": policy["revision_id"]}

    def remove_permission(self, name: str, version: int | str, statement_id: str,
                          revision_id: str | None = None) -> None:
        item = self.get(name, version)
        with self._lock:
            policy = self._policy(item, revision_id)
            kept = [s for s in (policy or {"statements": []})["statements"] if s["Sid"] != statement_id]
            if policy is None or len(kept) == len(policy["statements"]):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            self._store.put_document(_POLICY_KIND, _doc_id(item.name, item.version),
                                     {"statements": kept, "revision_id": str(uuid.uuid4())})

    def _policy(self, item: LayerVersion, revision_id: str | None) -> dict | None:
        policy = self._store.get_document(_POLICY_KIND, _doc_id(item.name, item.version))
        if revision_id is not None and (policy or {}).get("revision_id") != revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy "
                "API to retrieve the latest Revision Id")
        return policy

    def release(self, code_hex: str) -> None:
        """Remove a layer's blob, and the merged trees built from it, once nothing names it:
        no published version and no function configuration (functions keep deleted layers)."""
        if any(d.get("code_hex") == code_hex for d in self._store.list_documents(_VERSION_KIND)):
            return
        if self._in_use(code_hex):
            return
        self._blobs.remove(code_hex)
        for sidecar in self._merged_root.glob("*.layers"):
            if code_hex in sidecar.read_text().split():
                tree = self._merged_root / sidecar.stem
                if tree.exists():
                    remove_tree(tree)
                sidecar.unlink(missing_ok=True)

    def location(self, item: LayerVersion) -> str:
        return str(self._blobs.zip_path(item.code_hex).resolve())

    def layer_arn(self, name: str) -> str:
        return self._arns.layer(name)

    def to_aws(self, item: LayerVersion) -> dict[str, object]:
        return item.to_aws(self._arns.layer(item.name), self.location(item))

    # -- functions' side ------------------------------------------------------
    def resolve(self, arns: list[str]) -> tuple[LayerRef, ...]:
        """The layers a function asks for, in order; each must be a published version of ours, or one of
        AWS's that Cumulo provides (``model.layer.provided_layer``: nothing to mount; Powertools for AWS
        Lambda (Python): built from PyPI, ``_powertools``)."""
        refs = []
        for arn in ly.check_function_layers(arns):
            if ly.provided_layer(arn):   # AWS's, provided by Cumulo itself: nothing to mount
                refs.append(LayerRef(arn, 0, "", 0))
                continue
            if (major := ly.powertools_major(arn)) is not None:
                package = self._powertools(arn, major)
                refs.append(LayerRef(arn, package.size, package.sha256_hex, package.unzipped_size))
                continue
            account = ly.layer_account(arn)
            if account is not None and account != self._arns.account:
                raise InvalidParameterValueException(
                    f"Layer version {arn} does not exist. It belongs to AWS account {account}, whose layers Cumulo "
                    f"cannot fetch (it has this account's, {self._arns.account}, and provides AWS's Powertools for "
                    "AWS Lambda (Python), Parameters and Secrets extension and Lambda Insights layers); publish "
                    "its content here (cumulo layer publish) and use that version's ARN.")
            name, version = ly.parse_layer_version_arn(arn, self._arns.region, self._arns.account)
            doc = self._store.get_document(_VERSION_KIND, _doc_id(name, version))
            if doc is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            refs.append(LayerVersion.from_dict(doc).ref(arn))
        return tuple(refs)

    def _powertools(self, arn: str, major: int) -> CodePackage:
        """AWS's Powertools for AWS Lambda (Python) layer, provided by building it: ``aws-lambda-powertools``
        of that major version with its tracer extra (aws-xray-sdk), installed with pip under python/ (as the
        layer lays it out) for the host's Python, and cached by content as ``cumulo package`` builds are."""
        from cumulo.packaging import build_package

        requirement = f"aws-lambda-powertools[tracer]>={major},<{major + 1}\n"
        with self._provided_lock:
            package = self._provided.get(requirement)
            if package is None:
                with tempfile.TemporaryDirectory(prefix=".powertools-", dir=self._merged_root) as src:
                    Path(src, "requirements.txt").write_text(requirement)
                    try:
                        built = build_package(Path(src), f"python{sys.version_info.major}.{sys.version_info.minor}",
                                              layer=True)
                    except InvalidParameterValueException as exc:
                        raise InvalidParameterValueException(
                            f"Layer version {arn} is AWS's Powertools for AWS Lambda (Python) {major}.x layer, which "
                            f"Cumulo provides by installing aws-lambda-powertools {major}.x from PyPI, and that "
                            f"failed: {exc.message}") from None
                package = load_code(built.zip_path)
                self._blobs.put(package)
                self._provided[requirement] = package
        return package

    def merged(self, refs: tuple[LayerRef, ...]) -> Path | None:
        """The read-only tree an environment sees as /opt for these layers (None without layers)."""
        refs = tuple(r for r in refs if r.code_hex)   # not those Cumulo provides (resolve)
        if not refs:
            return None
        key = hashlib.sha256("\n".join(r.code_hex for r in refs).encode()).hexdigest()
        folder = self._merged_root / key
        if folder.is_dir():
            return folder
        sources = [self._blobs.extracted(r.code_hex) for r in refs]
        staging = Path(tempfile.mkdtemp(dir=self._merged_root, prefix=".merge-"))
        try:
            for source in sources:
                overlay(source, staging)
            make_read_only(staging)
            (self._merged_root / f"{key}.layers").write_text("\n".join(r.code_hex for r in refs) + "\n")
            try:
                os.rename(staging, folder)
            except OSError:
                if not folder.is_dir():
                    raise
        finally:
            if staging.exists():
                remove_tree(staging)
        return folder


def overlay(source: Path, dest: Path) -> None:
    """Put ``source``'s files into ``dest``, replacing what is there (a file by a folder and
    the other way round too), as extracting one more layer into /opt does on AWS."""
    for dirpath, dirnames, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        here = dest / rel
        for d in dirnames:
            target = here / d
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(mode=0o755, exist_ok=True)
        for f in filenames:
            target = here / f
            if target.is_dir() and not target.is_symlink():
                remove_tree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            src = Path(dirpath, f)
            try:
                os.link(src, target)
            except OSError:
                shutil.copy2(src, target)
