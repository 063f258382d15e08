"""Gradual deployments of a function's alias, as CodeDeploy does them for SAM's ``AutoPublishAlias`` with
``DeploymentPreference`` (docs/deployments.md).

A deployment moves an alias from its current version to a new one: the ``BeforeAllowTraffic`` hook
function runs (invoked asynchronously with ``DeploymentId`` and ``LifecycleEventHookExecutionId``, it
answers with ``PutLifecycleEventHookExecutionStatus``), then the alias's weights shift to the new
version as the configuration says (canary: a share, then all after the interval; linear: a share more
every interval; all at once), then the ``AfterAllowTraffic`` hook runs. A hook that reports
``Failed`` (or gives no answer within an hour), or one of the deployment's alarms in ALARM while it
runs, stops it and puts the alias back on the old version.

Time is the injected clock's: ``tick`` moves every deployment in progress as far as the clock allows
(the ``DeploymentTicker`` worker calls it each second; tests call it after moving a fake clock).
Deployments are documents (kind ``codedeploy-deployment``), so one in progress survives a restart.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import threading
from dataclasses import dataclass
from typing import Any, Callable

from cumulo.errors import CumuloError, ResourceNotFoundException, ServiceError
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents
from cumulo.store.health import log_failure

__all__ = ["Deployments", "DeploymentConfig", "DeploymentError", "DeploymentTicker", "PREDEFINED", "config_named",
           "KIND", "HOOK_TIMEOUT_S"]

log = logging.getLogger("cumulo.deployments")

KIND = "codedeploy-deployment"
HOOK_TIMEOUT_S = 3600.0        # CodeDeploy's: a hook that never reports fails the deployment after an hour
BEFORE, ALLOW, AFTER = "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"
_ID = re.compile(r"^d-[A-Z0-9]{9}$")
_STATUSES = frozenset({"Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready"})


@dataclass(frozen=True)
class DeploymentConfig:
    """How traffic shifts: ``AllAtOnce``, ``TimeBasedCanary`` (``percentage``, then the rest after
    ``interval_min``) or ``TimeBasedLinear`` (``percentage`` more every ``interval_min``)."""

    name: str
    type: str
    percentage: int = 100
    interval_min: int = 0

    def weight(self, elapsed_s: float) -> float:
        """The new version's share of traffic ``elapsed_s`` after shifting began."""
        if self.type == "AllAtOnce":
            return 1.0
        steps = int(elapsed_s // (self.interval_min * 60))
        if self.type == "TimeBasedCanary":
            return self.percentage / 100 if steps == 0 else 1.0
        return min(1.0, self.percentage * (steps + 1) / 100)

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "percentage": self.percentage, "interval_min": self.interval_min}

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> "DeploymentConfig":
        return DeploymentConfig(doc["name"], doc["type"], doc["percentage"], doc["interval_min"])


def _predefined() -> dict[str, DeploymentConfig]:
    configs = {"AllAtOnce": DeploymentConfig("CodeDeployDefault.LambdaAllAtOnce", "AllAtOnce")}
    for minutes in (5, 10, 15, 30):
        name = f"Canary10Percent{minutes}Minutes"
        configs[name] = DeploymentConfig(f"CodeDeployDefault.Lambda{name}", "TimeBasedCanary", 10, minutes)
    for minutes in (1, 2, 3, 10):
        name = f"Linear10PercentEvery{minutes}Minute{'s' if minutes > 1 else ''}"
        configs[name] = DeploymentConfig(f"CodeDeployDefault.Lambda{name}", "TimeBasedLinear", 10, minutes)
    return configs


# SAM's DeploymentPreference Types, each CodeDeploy's predefined configuration of that name.
PREDEFINED = _predefined()


def config_named(name: str, custom: dict[str, DeploymentConfig] | None = None) -> DeploymentConfig | None:
    """A SAM ``Type`` (``Canary10Percent5Minutes``), CodeDeploy's full name of a predefined
    configuration, or the name of a custom one (``AWS::CodeDeploy::DeploymentConfig``)."""
    if name in PREDEFINED:
        return PREDEFINED[name]
    by_full = {c.name: c for c in PREDEFINED.values()}
    return by_full.get(name) or (custom or {}).get(name)


class DeploymentError(ServiceError):
    """CodeDeploy's errors, named by their ``__type`` (400)."""


AliasSetter = Callable[[str, str, str, dict[str, float]], object]    # (function, alias, version, weights)
HookInvoker = Callable[[str, bytes], object]                        # (function ARN or name, payload): Event
AlarmState = Callable[[str], "str | None"]                          # an alarm's StateValue (None: no such alarm)


class Deployments:
    def __init__(self, store: Documents, set_alias: AliasSetter, invoke_hook: HookInvoker, alarm_state: AlarmState,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._set_alias, self._invoke_hook = store, set_alias, invoke_hook
        self._alarm_state, self._clock = alarm_state, clock
        self._lock = threading.RLock()
        self._active: set[str] | None = None     # ids in progress (None: not read from the store yet)
        self._generation = -1                    # the store's generation when they were read

    # -- starting ----------------------------------------------------------------------------------
    def start(self, function: str, alias: str, current: str, target: str, config: DeploymentConfig,
              application: str, group: str, hooks: dict[str, str] | None = None,
              alarms: list[str] | None = None) -> str:
        """Start moving ``alias`` of ``function`` from version ``current`` to ``target``; its id.
        A deployment of the same alias still in progress is stopped first (its alias put back)."""
        now = self._clock.now()
        with self._lock:
            for other in self._in_progress():
                if other["function"] == function and other["alias"] == alias:
                    self._fail(other, "DEPLOYMENT_STOPPED", "A newer deployment of the alias replaced this one",
                               now, status="Stopped")
            deployment_id = "d-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
            doc = {"deploymentId": deployment_id, "applicationName": application, "deploymentGroupName": group,
                   "deploymentConfigName": config.name, "config": config.to_doc(), "function": function,
                   "alias": alias, "currentVersion": current, "targetVersion": target,
                   "hooks": {k: v for k, v in (hooks or {}).items() if v}, "alarms": list(alarms or []),
                   "status": "InProgress", "phase": BEFORE, "createTime": now, "weight": 0.0,
                   "hook": None, "events": {}}
            self._store.put_document(KIND, deployment_id, doc)
            self._active_ids().add(deployment_id)
            log.warning("deployment %s: alias %s of %s from version %s to %s (%s)", deployment_id, alias, function,
                        current, target, config.name)
            self._advance(doc, now)
            return deployment_id

    # -- CodeDeploy's API --------------------------------------------------------------------------
    def get(self, deployment_id: Any) -> dict[str, Any]:
        """GetDeployment's ``deploymentInfo``."""
        doc = self._find(deployment_id)
        info: dict[str, Any] = {
            "applicationName": doc["applicationName"], "deploymentGroupName": doc["deploymentGroupName"],
            "deploymentConfigName": doc["deploymentConfigName"], "deploymentId": doc["deploymentId"],
            "status": doc["status"], "createTime": doc["createTime"], "computePlatform": "Lambda",
            "creator": "user", "deploymentStyle": {"deploymentType": "BLUE_GREEN",
                                                   "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "additionalDeploymentStatusInfo": f"{doc['phase']}: {doc['weight']:.0%} of traffic on version "
                                              f"{doc['targetVersion']}",
        }
        if "completeTime" in doc:
            info["completeTime"] = doc["completeTime"]
        if "error" in doc:
            info["errorInformation"] = doc["error"]
            info["rollbackInfo"] = {"rollbackMessage": f"Alias {doc['alias']} put back on version "
                                                       f"{doc['currentVersion']}"}
        return info

    def put_hook_status(self, deployment_id: Any, execution_id: Any, status: Any) -> str:
        """PutLifecycleEventHookExecutionStatus: a hook's verdict; moves the deployment on at once."""
        if status not in ("Succeeded", "Failed"):
            raise DeploymentError("InvalidLifecycleEventHookExecutionStatusException",
                                  f"The status {str(status)[:64]} is not valid: Succeeded or Failed")
        if not isinstance(execution_id, str) or not execution_id:
            raise DeploymentError("InvalidLifecycleEventHookExecutionIdException",
                                  "A lifecycle event hook execution ID is required")
        with self._lock:
            doc = self._find(deployment_id)
            hook = doc.get("hook")
            if hook is None or hook["id"] != execution_id:
                raise DeploymentError("LifecycleEventAlreadyCompletedException" if execution_id in doc["events"]
                                      else "InvalidLifecycleEventHookExecutionIdException",
                                      f"The lifecycle event hook execution ID {execution_id[:64]} is not waiting "
                                      f"for a status in deployment {doc['deploymentId']}")
            if hook["status"] != "Pending":
                raise DeploymentError("LifecycleEventAlreadyCompletedException",
                                      f"The lifecycle event hook execution {execution_id[:64]} already reported "
                                      f"{hook['status']}")
            if doc["status"] != "InProgress":
                raise DeploymentError("DeploymentAlreadyCompletedException",
                                      f"The deployment {doc['deploymentId']} is already {doc['status']}")
            hook["status"] = status
            self._store.put_document(KIND, doc["deploymentId"], doc)
            self._advance(doc, self._clock.now())
            return execution_id

    def group_of(self, deployment_id: Any) -> str | None:
        """``application/group`` of a deployment (None: no such deployment), as IAM names its resource."""
        if not isinstance(deployment_id, str) or not _ID.match(deployment_id):
            return None
        doc = self._store.get_document(KIND, deployment_id)
        return None if doc is None else f"{doc['applicationName']}/{doc['deploymentGroupName']}"

    def stop(self, deployment_id: str, reason: str = "The deployment was stopped") -> None:
        """Stop a deployment in progress and put its alias back (a deploy rolled back)."""
        with self._lock:
            doc = self._store.get_document(KIND, deployment_id)
            if doc is not None and doc["status"] == "InProgress":
                self._fail(doc, "DEPLOYMENT_STOPPED", reason, self._clock.now(), status="Stopped")

    def list_ids(self, application: Any = None, group: Any = None, statuses: Any = None) -> list[str]:
        """ListDeployments: the ids of a group's deployments (or all), newest first, of these statuses."""
        if group is not None and application is None:
            raise DeploymentError("ApplicationNameRequiredException", "The application name must be specified "
                                  "when a deployment group name is given")
        if statuses is not None and (not isinstance(statuses, list) or not set(statuses) <= _STATUSES):
            raise DeploymentError("InvalidDeploymentStatusException", f"The deployment statuses {statuses!r} are "
                                  f"not valid: {', '.join(sorted(_STATUSES))}")
        docs = sorted(self._store.list_documents(KIND), key=lambda d: d["createTime"], reverse=True)
        return [d["deploymentId"] for d in docs if application in (None, d["applicationName"])
                and group in (None, d["deploymentGroupName"]) and (not statuses or d["status"] in statuses)]

    # -- moving on ---------------------------------------------------------------------------------
    def tick(self) -> int:
        """Move every deployment in progress as far as the clock allows; how many are still in progress."""
        now = self._clock.now()
        with self._lock:
            for doc in self._in_progress():
                try:
                    self._advance(doc, now)
                except Exception:
                    log_failure(log, f"deployment {doc['deploymentId']} could not move on")
            return len(self._active_ids())

    def _advance(self, doc: dict[str, Any], now: float) -> None:
        while doc["status"] == "InProgress":
            ringing = [name for name in doc["alarms"] if self._alarm_state(name) == "ALARM"]
            if ringing:
                self._fail(doc, "ALARM_ACTIVE", "One or more alarms have been activated according to the Amazon "
                           f"CloudWatch metrics you selected, and the affected deployments have been stopped. "
                           f"Activated alarms: <{', '.join(ringing)}>", now)
                return
            phase = doc["phase"]
            if phase in (BEFORE, AFTER):
                if not self._hook_done(doc, phase, now):
                    return
                if doc["status"] != "InProgress":
                    return
                if phase == BEFORE:
                    doc["phase"], doc["shiftStarted"] = ALLOW, now
                else:
                    doc.update(status="Succeeded", completeTime=now, phase="Done")
                    self._active_ids().discard(doc["deploymentId"])
                    log.warning("deployment %s succeeded: alias %s of %s is on version %s", doc["deploymentId"],
                                doc["alias"], doc["function"], doc["targetVersion"])
                self._store.put_document(KIND, doc["deploymentId"], doc)
                continue
            config = DeploymentConfig.from_doc(doc["config"])
            weight = config.weight(now - doc["shiftStarted"])
            if weight != doc["weight"]:
                try:
                    self._route(doc, weight)
                except ResourceNotFoundException as exc:
                    self._fail(doc, "RESOURCE_MISSING", f"The alias can no longer be moved: {exc.message}", now)
                    return
                doc["weight"] = weight
                doc["events"][f"shift-{weight:.2f}"] = now
                self._store.put_document(KIND, doc["deploymentId"], doc)
            if weight < 1.0:
                return
            doc["phase"] = AFTER
            self._store.put_document(KIND, doc["deploymentId"], doc)

    def _hook_done(self, doc: dict[str, Any], phase: str, now: float) -> bool:
        """Whether the phase's hook has succeeded (or there is none); a failed one fails the deployment."""
        function = doc["hooks"].get(phase)
        if function is None:
            return True
        hook = doc.get("hook")
        if hook is None or hook["phase"] != phase:
            hook = doc["hook"] = {"phase": phase, "id": _execution_id(), "status": "Pending", "started": now}
            doc["events"][hook["id"]] = phase
            self._store.put_document(KIND, doc["deploymentId"], doc)
            payload = json.dumps({"DeploymentId": doc["deploymentId"], "LifecycleEventHookExecutionId": hook["id"]})
            try:
                self._invoke_hook(function, payload.encode())
            except CumuloError as exc:
                self._fail(doc, "HOOK_EXECUTION_FAILURE", f"The {phase} hook function {function} could not be "
                           f"invoked: {exc.message}", now)
                return False
            return False
        if hook["status"] == "Succeeded":
            return True
        if hook["status"] == "Failed":
            self._fail(doc, "HOOK_EXECUTION_FAILURE", f"The {phase} hook function {function} reported Failed", now)
        elif now - hook["started"] >= HOOK_TIMEOUT_S:
            self._fail(doc, "HOOK_EXECUTION_FAILURE", f"The {phase} hook function {function} reported no status "
                       f"within {HOOK_TIMEOUT_S / 60:.0f} minutes", now)
        return False

    def _route(self, doc: dict[str, Any], weight: float) -> None:
        if weight >= 1.0:
            self._set_alias(doc["function"], doc["alias"], doc["targetVersion"], {})
        else:
            self._set_alias(doc["function"], doc["alias"], doc["currentVersion"], {doc["targetVersion"]: weight})

    def _fail(self, doc: dict[str, Any], code: str, message: str, now: float, status: str = "Failed") -> None:
        """Stop it, the alias back on the old version (CodeDeploy's automatic rollback)."""
        doc.update(status=status, completeTime=now, error={"code": code, "message": message})
        self._active_ids().discard(doc["deploymentId"])
        self._store.put_document(KIND, doc["deploymentId"], doc)
        try:
            self._set_alias(doc["function"], doc["alias"], doc["currentVersion"], {})
        except ResourceNotFoundException:
            pass      # the function or alias is gone: nothing to put back
        log.warning("deployment %s %s, alias %s of %s back on version %s: %s", doc["deploymentId"], status.lower(),
                    doc["alias"], doc["function"], doc["currentVersion"], message)

    # -- the store -----------------------------------------------------------------------------------
    def _active_ids(self) -> set[str]:
        """The ids in progress, read again whenever the store changed (a ``cumulo deploy`` beside the server
        starts deployments the server's ticker moves on)."""
        generation = self._store.generation
        if self._active is None or generation != self._generation:
            self._active = {d["deploymentId"] for d in self._store.list_documents(KIND) if d["status"] == "InProgress"}
            self._generation = generation
        return self._active

    def _in_progress(self) -> list[dict[str, Any]]:
        docs = [self._store.get_document(KIND, i) for i in sorted(self._active_ids())]
        return [d for d in docs if d is not None and d["status"] == "InProgress"]

    def _find(self, deployment_id: Any) -> dict[str, Any]:
        if not isinstance(deployment_id, str) or not _ID.match(deployment_id):
            raise DeploymentError("InvalidDeploymentIdException", f"Specified DeploymentId is not in the valid "
                                  f"format: {str(deployment_id)[:64]}")
        doc = self._store.get_document(KIND, deployment_id)
        if doc is None:
            raise DeploymentError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not "
                                  "be found")
        return doc


def _execution_id() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(64))


class DeploymentTicker:
    """The worker moving deployments on: ``Deployments.tick`` every ``interval_s``."""

    def __init__(self, deployments: Deployments, interval_s: float = 1.0) -> None:
        self._deployments, self._interval_s = deployments, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cumulo-deployments", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._deployments.tick()
            except Exception:
                log_failure(log, "moving deployments on failed")
