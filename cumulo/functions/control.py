"""Function management: create, update, publish, delete — Lambda's control plane.

Validation comes from ``cumulo.model``; durable state from the store; code
goes to content-addressed blobs before the configuration that names it is
committed, so a committed configuration never points at missing code.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from os import PathLike
from typing import Callable

from cumulo.errors import InvalidParameterValueException, ResourceNotFoundException
from cumulo.model import limits
from cumulo.model import function as fn
from cumulo.model.alias import Alias, validate_alias_name, validate_routing
from cumulo.model.code import CodePackage, load_code
from cumulo.model.function import LATEST, Arns, FunctionConfiguration
from cumulo.model.layer import LayerRef
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.runtime import catalog
from cumulo.store.base import FunctionRecord, Store
from cumulo.store.blobs import CodeBlobs

__all__ = ["FunctionService", "CodeSource"]

CodeSource = str | PathLike[str] | bytes | CodePackage


def _stamp(now: float) -> str:
    """AWS's LastModified format: 2024-01-31T12:00:00.000+0000."""
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class FunctionService:
    def __init__(self, store: Store, blobs: CodeBlobs, arns: Arns,
                 on_change: Callable[[str], None] = lambda name: None,
                 resolve_layers: Callable[[list[str]], tuple[LayerRef, ...]] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._blobs, self._arns = store, blobs, arns
        self._clock = clock           # LastModified
        self._on_change = on_change   # told after a function's code/config changed or it was deleted
        self._resolve_layers = resolve_layers   # layer version ARNs -> refs (InvalidParameterValue if unknown)

    # -- create / read --------------------------------------------------------
    def create(self, name: str, code: CodeSource, handler: str, runtime: str = "python3.11",
               memory_size: int = 128, timeout: int = 3, environment: dict[str, str] | None = None,
               description: str = "", ephemeral_storage: int = 512, role: str = "",
               dead_letter_arn: str = "", publish: bool = False,
               snap_start: str | None = None, layers: list[str] | None = None,
               architecture: str = "x86_64", vpc_config: dict | None = None,
               kms_key_arn: str = "", tracing: str | dict = "PassThrough",
               logging_config: dict | None = None) -> FunctionConfiguration:
        config = FunctionConfiguration(
            name=fn.validate_function_name(name),
            handler=fn.validate_handler(handler),
            runtime=fn.validate_runtime(runtime, _runnable(runtime)),
            memory_size=fn.validate_memory(memory_size),
            timeout=fn.validate_timeout(timeout),
            environment=fn.validate_environment(environment or {}),
            description=fn.validate_description(description),
            ephemeral_storage=fn.validate_ephemeral_storage(ephemeral_storage),
            role=role or self._arns.default_role(),
            dead_letter_arn=fn.validate_dead_letter_arn(dead_letter_arn),
            snap_start=None if snap_start is None else fn.validate_snap_start(snap_start),
            architecture=fn.validate_architecture(architecture),
            vpc_config=fn.validate_vpc_config(vpc_config),
            kms_key_arn=fn.validate_kms_key_arn(kms_key_arn),
            tracing=fn.validate_tracing(tracing),
            logging_config=fn.validate_logging_config(logging_config or {}),
            code_sha256="", code_size=0,
            revision_id=str(uuid.uuid4()), last_modified=_stamp(self._clock.now()),
            layers=self._layers(layers or []),
        )
        package = code if isinstance(code, CodePackage) else load_code(code)
        _check_total_size(package.unzipped_size, config.layers)
        package = self._store_code(package)
        config = config.replace(code_sha256=package.code_sha256, code_size=package.size)
        self._store.create_function(config)
        return self.publish_version(name) if publish else config

    def deploy(self, name: str, code: CodeSource, handler: str, **options: object) -> FunctionConfiguration:
        """Create the function, or bring an existing one to this code and configuration."""
        try:
            current = self._store.get_function(fn.validate_function_name(name)).latest
        except ResourceNotFoundException:
            return self.create(name, code, handler, **options)  # type: ignore[arg-type]
        package = code if isinstance(code, CodePackage) else load_code(code)
        if package.code_sha256 != current.code_sha256:
            self.update_code(name, package)
        wanted = {"handler": handler, **{k: v for k, v in options.items() if k != "publish"}}
        if any((getattr(current, k) if k != "layers" else [r.arn for r in current.layers]) != v
               for k, v in wanted.items()):
            self.update_configuration(name, **wanted)  # type: ignore[arg-type]
        return self.publish_version(name) if options.get("publish") else self._store.get_function(name).latest

    def get(self, ref: str, qualifier: str | None = None) -> FunctionConfiguration:
        """The configuration a FunctionName (+ qualifier) names: ``$LATEST``, a version, or an
        alias's primary version."""
        name, q = fn.parse_function_ref(ref, qualifier)
        if q is None or q == LATEST:
            return self._store.get_function(name).latest
        if not fn.is_version_number(q):
            q = self._store.get_alias(name, q).function_version
            if q == LATEST:
                return self._store.get_function(name).latest
        return self._store.get_version(name, q)

    def resolve_for_invoke(self, ref: str, qualifier: str | None = None) -> tuple[FunctionConfiguration, str]:
        """The configuration one invocation runs and the ARN it was invoked by; an alias with
        routing weights picks its version here, per invocation."""
        name, q = fn.parse_function_ref(ref, qualifier)
        arn = self._arns.function(name, q)
        if q is None or q == LATEST:
            return self._store.get_function(name).latest, arn
        if fn.is_version_number(q):
            return self._store.get_version(name, q), arn
        version = self._store.get_alias(name, q).pick_version()
        config = self._store.get_function(name).latest if version == LATEST else self._store.get_version(name, version)
        return config, arn

    # -- aliases --------------------------------------------------------------
    def create_alias(self, ref: str, alias: str, function_version: str, description: str = "",
                     weights: dict[str, float] | None = None) -> Alias:
        name, _ = fn.parse_function_ref(ref)
        item = self._checked_alias(name, alias, function_version, description, weights or {})
        self._store.put_alias(item, create=True)
        return item

    def update_alias(self, ref: str, alias: str, function_version: str | None = None,
                     description: str | None = None, weights: dict[str, float] | None = None,
                     revision_id: str | None = None) -> Alias:
        name, _ = fn.parse_function_ref(ref)
        current = self._store.get_alias(name, validate_alias_name(alias))
        item = self._checked_alias(
            name, alias, current.function_version if function_version is None else function_version,
            current.description if description is None else description,
            current.weights if weights is None else weights)
        self._store.put_alias(item, create=False, expected_revision=revision_id)
        return item

    def get_alias(self, ref: str, alias: str) -> Alias:
        name, _ = fn.parse_function_ref(ref)
        return self._store.get_alias(name, alias)

    def list_aliases(self, ref: str, function_version: str | None = None) -> list[Alias]:
        name, _ = fn.parse_function_ref(ref)
        return [a for a in self._store.list_aliases(name) if function_version in (None, a.function_version)]

    def delete_alias(self, ref: str, alias: str) -> None:
        name, _ = fn.parse_function_ref(ref)
        self._store.delete_alias(name, alias)

    def _checked_alias(self, name: str, alias: str, version: str, description: str,
                       weights: dict[str, float]) -> Alias:
        validate_alias_name(alias)
        fn.validate_description(description)
        routing = validate_routing(version, weights)
        for v in [version, *routing]:
            if v != LATEST:
                self._store.get_version(name, v)   # ResourceNotFoundException when missing
            else:
                self._store.get_function(name)
        return Alias(name, alias, version, description, routing, str(uuid.uuid4()))

    def record(self, ref: str) -> FunctionRecord:
        name, _ = fn.parse_function_ref(ref)
        return self._store.get_function(name)

    def list_all(self, after: str | None = None, limit: int | None = None) -> list[FunctionConfiguration]:
        """By name; with ``after`` and ``limit``, one page (a range of the store's index)."""
        return [r.latest for r in self._store.list_functions(after, limit)]

    def list_versions(self, ref: str) -> list[FunctionConfiguration]:
        name, _ = fn.parse_function_ref(ref)
        return self._store.list_versions(name)

    # -- update ---------------------------------------------------------------
    def update_code(self, ref: str, code: CodeSource, publish: bool = False,
                    revision_id: str | None = None, architecture: str | None = None) -> FunctionConfiguration:
        """New code (and, as UpdateFunctionCode's ``Architectures`` does, the architecture)."""
        current = self._latest(ref)
        arch = current.architecture if architecture is None else fn.validate_architecture(architecture)
        package = code if isinstance(code, CodePackage) else load_code(code)
        _check_total_size(package.unzipped_size, current.layers)
        package = self._store_code(package)
        config = current.replace(code_sha256=package.code_sha256, code_size=package.size, architecture=arch,
                                 revision_id=str(uuid.uuid4()), last_modified=_stamp(self._clock.now()))
        self._store.update_latest(config, revision_id)
        self._changed(current)
        return self.publish_version(ref) if publish else config

    def update_configuration(self, ref: str, *, handler: str | None = None, runtime: str | None = None,
                             memory_size: int | None = None, timeout: int | None = None,
                             environment: dict[str, str] | None = None, description: str | None = None,
                             ephemeral_storage: int | None = None, role: str | None = None,
                             dead_letter_arn: str | None = None, snap_start: str | None = None,
                             layers: list[str] | None = None, architecture: str | None = None,
                             vpc_config: dict | None = None, kms_key_arn: str | None = None,
                             tracing: str | dict | None = None, logging_config: dict | None = None,
                             revision_id: str | None = None) -> FunctionConfiguration:
        """``architecture`` is the Python API's (templates change it in place); the Lambda API
        changes it with UpdateFunctionCode, as AWS's does."""
        current = self._latest(ref)
        changes: dict[str, object] = {}
        if handler is not None:
            changes["handler"] = fn.validate_handler(handler)
        if runtime is not None:
            changes["runtime"] = fn.validate_runtime(runtime, _runnable(runtime))
        if memory_size is not None:
            changes["memory_size"] = fn.validate_memory(memory_size)
        if timeout is not None:
            changes["timeout"] = fn.validate_timeout(timeout)
        if environment is not None:
            changes["environment"] = fn.validate_environment(environment)
        if description is not None:
            changes["description"] = fn.validate_description(description)
        if ephemeral_storage is not None:
            changes["ephemeral_storage"] = fn.validate_ephemeral_storage(ephemeral_storage)
        if role is not None:
            changes["role"] = role
        if dead_letter_arn is not None:
            changes["dead_letter_arn"] = fn.validate_dead_letter_arn(dead_letter_arn)
        if snap_start is not None:
            changes["snap_start"] = fn.validate_snap_start(snap_start)
        if architecture is not None:
            changes["architecture"] = fn.validate_architecture(architecture)
        if kms_key_arn is not None:
            changes["kms_key_arn"] = fn.validate_kms_key_arn(kms_key_arn)
        if vpc_config is not None:   # {} or empty lists: out of the VPC, as on AWS
            changes["vpc_config"] = fn.validate_vpc_config(vpc_config)
        if tracing is not None:
            changes["tracing"] = fn.validate_tracing(tracing)
        if logging_config is not None:   # the whole LoggingConfig, as given
            changes["logging_config"] = fn.validate_logging_config(logging_config)
        if layers is not None:
            refs = changes["layers"] = self._layers(layers)
            _check_total_size(self._blobs.unzipped_size(current.code_hex), refs)
        config = current.replace(**changes, revision_id=str(uuid.uuid4()), last_modified=_stamp(self._clock.now()))
        self._store.update_latest(config, revision_id)
        self._changed(current)
        return config

    def publish_version(self, ref: str, description: str | None = None,
                        revision_id: str | None = None) -> FunctionConfiguration:
        name, _ = fn.parse_function_ref(ref)
        if description is not None:
            fn.validate_description(description)
        return self._store.publish_version(name, description, str(uuid.uuid4()), _stamp(self._clock.now()), revision_id)

    # -- delete ---------------------------------------------------------------
    def delete(self, ref: str, qualifier: str | None = None) -> None:
        name, q = fn.parse_function_ref(ref, qualifier)
        if q == LATEST:
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        configs = self._store.list_versions(name)
        if q is None:
            self._store.delete_function(name)
            doomed = configs
        else:
            self._store.delete_version(name, q)
            doomed = [c for c in configs if c.version == q]
        self._on_change(name)
        for code_hex in {c.code_hex for c in doomed}:
            if not self._store.code_in_use(code_hex):
                self._blobs.remove(code_hex)

    # -- helpers --------------------------------------------------------------
    def _latest(self, ref: str) -> FunctionConfiguration:
        name, q = fn.parse_function_ref(ref)
        if q not in (None, LATEST):
            raise InvalidParameterValueException("Only $LATEST can be updated; versions are immutable.")
        return self._store.get_function(name).latest

    def _store_code(self, code: CodeSource) -> CodePackage:
        package = code if isinstance(code, CodePackage) else load_code(code)
        self._blobs.put(package)
        return package

    def _layers(self, arns: list[str]) -> tuple[LayerRef, ...]:
        if not arns:
            return ()
        if self._resolve_layers is None:
            raise InvalidParameterValueException("Layers are not available here.")
        return self._resolve_layers(arns)

    def _changed(self, previous: FunctionConfiguration) -> None:
        self._on_change(previous.name)
        if previous.code_hex and not self._store.code_in_use(previous.code_hex):
            self._blobs.remove(previous.code_hex)


def _check_total_size(code_unzipped: int, layers: tuple[LayerRef, ...]) -> None:
    """AWS's 250 MB counts the function's code and all its layers, unzipped."""
    total = code_unzipped + sum(r.unzipped_size for r in layers)
    if layers and total > limits.UNZIPPED_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {limits.UNZIPPED_MAX_BYTES} "
            f"bytes. The actual size is {total} bytes.")


def _runnable(runtime: str) -> str | None:
    """Why a supported runtime cannot run here (a missing Node.js major is installed first)."""
    return catalog.provide(runtime) if runtime in fn.SUPPORTED_RUNTIMES else None
