"""Secrets Manager, pure: names, ARNs, errors, staging labels and random passwords.

Staging labels (Secrets Manager User Guide, "Secrets Manager concepts: version"): each label is on
at most one version of a secret. Moving ``AWSCURRENT`` to a version moves ``AWSPREVIOUS`` to the
version it came from; the first version with a value is ``AWSCURRENT`` whatever it asks for.
Versions left without a label are deprecated and, past ``MAX_VERSIONS``, dropped oldest first.

A secret's ARN ends in ``-`` and six characters. AWS draws them at random; Cumulo derives them from
the account and the name, so that a policy or a request that names a secret by its name reaches
the same ARN without a lookup (``api/authz/secretsmanager.py`` computes the same; a test holds them
together). docs/secrets.md lists this among the differences.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
import secrets as random
import string
from typing import Any, Iterable

from cumulo.errors import ServiceError, ValidationException
from cumulo.model import cron

__all__ = ["SecretsError", "not_found", "invalid_parameter", "invalid_request", "exists", "check_name",
           "arn_suffix", "secret_arn", "name_of", "CURRENT", "PREVIOUS", "PENDING", "MAX_VERSIONS",
           "MAX_VALUE_BYTES", "stage_new_version", "move_stage", "prune", "random_password", "PUNCTUATION",
           "check_rotation_rules", "rotation_window", "STEPS"]

CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
MAX_VERSIONS = 100                # versions kept; beyond, the oldest without a label go
MAX_VALUE_BYTES = 65_536          # SecretString / SecretBinary
MAX_STAGES_PER_VERSION = 20
_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_STAGE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,256}")
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_SUFFIX_ALPHABET = string.ascii_letters + string.digits


class SecretsError(ServiceError):
    """Secrets Manager's errors, by the name boto3 reports."""


def not_found(message: str = "Secrets Manager can't find the specified secret.") -> SecretsError:
    return SecretsError("ResourceNotFoundException", message)


def invalid_parameter(message: str) -> SecretsError:
    return SecretsError("InvalidParameterException", message)


def invalid_request(message: str) -> SecretsError:
    return SecretsError("InvalidRequestException", message)


def exists(message: str) -> SecretsError:
    return SecretsError("ResourceExistsException", message)


def marked_for_deletion() -> SecretsError:
    return invalid_request("You can't perform this operation on the secret because it was marked for deletion.")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise SecretsError("ValidationException", "Invalid name. Must be a valid name containing alphanumeric "
                           "characters, or any of the following: -/_+=.@!")
    return name


def arn_suffix(account: str, name: str) -> str:
    """The six characters after the name in the secret's ARN (see the module's text)."""
    digest = hashlib.sha256(f"{account}\0{name}".encode()).digest()
    return "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:6])


def secret_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{arn_suffix(account, name)}"


def name_of(secret_id: str, account: str) -> str:
    """The secret's name a SecretId means: a name, a full ARN, or a partial ARN (without the suffix)."""
    if not secret_id.startswith("arn:"):
        return secret_id
    parts = secret_id.split(":", 6)
    if len(parts) != 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
        raise not_found()
    rest = parts[6]
    if len(rest) > 7 and rest[-7] == "-" and arn_suffix(account, rest[:-7]) == rest[-6:]:
        return rest[:-7]
    return rest


def check_stages(stages: Any) -> list[str]:
    if not isinstance(stages, list) or not 1 <= len(stages) <= MAX_STAGES_PER_VERSION or \
            not all(isinstance(s, str) and _STAGE.fullmatch(s) for s in stages):
        raise invalid_parameter("VersionStages must be 1 to 20 staging labels of 1 to 256 characters.")
    return list(dict.fromkeys(stages))


def stage_new_version(versions: dict[str, list[str]], version_id: str, stages: Iterable[str] | None) -> None:
    """Adds ``version_id`` (not in ``versions``) with ``stages`` (``[AWSCURRENT]`` when None), moving
    each label from the version that had it; in place. The first version is always AWSCURRENT."""
    wanted = list(dict.fromkeys(stages if stages is not None else [CURRENT]))
    if not any(CURRENT in labels for labels in versions.values()) and CURRENT not in wanted:
        wanted.append(CURRENT)
    versions[version_id] = []
    # AWSCURRENT first: the AWSPREVIOUS it moves gives way to a version that asks for AWSPREVIOUS itself
    for stage in sorted(wanted, key=lambda s: s != CURRENT):
        move_stage(versions, stage, version_id)


def move_stage(versions: dict[str, list[str]], stage: str, to: str | None, remove_from: str | None = None) -> None:
    """Puts ``stage`` on ``to`` (None: only takes it off ``remove_from``), taking it off the version
    that has it; moving AWSCURRENT moves AWSPREVIOUS to the version it leaves. In place."""
    holder = next((v for v, labels in versions.items() if stage in labels), None)
    if holder == to:
        return
    if holder is not None:
        versions[holder].remove(stage)
    if to is not None:
        versions[to].append(stage)
        if stage == CURRENT and holder is not None:
            move_stage(versions, PREVIOUS, holder)


def prune(versions: dict[str, Any], order: list[str], labels: dict[str, list[str]]) -> list[str]:
    """Which versions to drop (oldest first in ``order``) so at most ``MAX_VERSIONS`` remain, never a labelled one."""
    excess = len(versions) - MAX_VERSIONS
    out: list[str] = []
    for vid in order:
        if excess <= 0:
            break
        if not labels.get(vid):
            out.append(vid)
            excess -= 1
    return out


def random_password(length: Any = 32, exclude: Any = "", numbers: bool = True, upper: bool = True,
                    lower: bool = True, punctuation: bool = True, space: bool = False,
                    each_type: bool = True) -> str:
    """GetRandomPassword's password (and GenerateSecretString's), drawn with ``secrets``."""
    if length is None:
        length = 32
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 4096:
        raise invalid_parameter("PasswordLength must be between 1 and 4096.")
    exclude = exclude if isinstance(exclude, str) else ""
    groups = [g for g, on in ((string.ascii_lowercase, lower), (string.ascii_uppercase, upper),
                               (string.digits, numbers), (PUNCTUATION, punctuation), (" ", space)) if on]
    groups = ["".join(c for c in g if c not in exclude) for g in groups]
    if each_type and any(not g for g in groups):
        raise invalid_parameter("The excluded characters leave no character of a type the password must include.")
    groups = [g for g in groups if g]
    if not groups:
        raise invalid_parameter("The password can't be generated: every character is excluded.")
    if each_type and length < len(groups):
        raise invalid_parameter(f"PasswordLength must be at least {len(groups)} to include each type of character.")
    alphabet = "".join(groups)
    chars = [random.choice(g) for g in groups] if each_type else []
    chars += [random.choice(alphabet) for _ in range(length - len(chars))]
    random.SystemRandom().shuffle(chars)
    return "".join(chars)


# -- rotation ----------------------------------------------------------------------------------------
# Secrets Manager API Reference, RotationRulesType: a schedule is ``AutomaticallyAfterDays`` (1–1000)
# or a ``ScheduleExpression`` (``rate(N hours)``, at least 4, or ``rate(N days)``, at most 1000, or a
# six-field ``cron(...)``), not both; ``Duration`` (``1h``–``24h``) is the window's length. Without a
# Duration a window of a schedule in hours closes after one hour, one in days at the end of the UTC
# day; a window never reaches into the next UTC day.
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
_DURATION = re.compile(r"([0-9]{1,2})h")
_HOUR, _DAY_S = 3600, 86_400


def check_rotation_rules(rules: Any) -> dict[str, Any]:
    """RotationRules as given, checked (InvalidParameterException otherwise), without empty members."""
    if not isinstance(rules, dict):
        raise invalid_parameter("RotationRules must be a structure.")
    days, expression, duration = rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression"), \
        rules.get("Duration")
    out: dict[str, Any] = {}
    if days is not None and expression is not None:
        raise invalid_parameter("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
    if days is None and expression is None:
        raise invalid_parameter("RotationRules must have AutomaticallyAfterDays or ScheduleExpression.")
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 1000:
            raise invalid_parameter("AutomaticallyAfterDays must be between 1 and 1000.")
        out["AutomaticallyAfterDays"] = days
    else:
        if not isinstance(expression, str):
            raise invalid_parameter("ScheduleExpression must be a string.")
        schedule = _schedule(expression)
        if isinstance(schedule, cron.Rate):
            if "day" in expression:
                if schedule.seconds // _DAY_S > 1000:
                    raise invalid_parameter("A rate in days must be at most 1000 days.")
            elif "minute" in expression or schedule.seconds < 4 * _HOUR:
                raise invalid_parameter("A rotation schedule's rate must be at least 4 hours, in hours or days.")
        out["ScheduleExpression"] = expression
    if duration is not None:
        found = _DURATION.fullmatch(duration) if isinstance(duration, str) else None
        if found is None or not 1 <= int(found.group(1)) <= 24:
            raise invalid_parameter("Duration must be 1h to 24h.")
        out["Duration"] = duration
    return out


def _schedule(expression: str) -> cron.Schedule:
    try:
        schedule = cron.parse(expression)
    except ValidationException as exc:
        raise invalid_parameter(str(exc)) from None
    if isinstance(schedule, cron.At):
        raise invalid_parameter("A rotation schedule is a rate() or cron() expression.")
    return schedule


def rotation_window(rules: dict[str, Any], last: float, now: float) -> tuple[float, float]:
    """The next rotation window (start, end; epoch seconds) of ``rules`` (checked): a rate counts from
    ``last`` (the last rotation, or when rotation was set up), a cron from ``now``; a window already
    open at ``now`` is the next one. Cumulo rotates at a window's start."""
    utc = timezone.utc
    if "AutomaticallyAfterDays" in rules:
        day = datetime.fromtimestamp(last, utc).replace(hour=0, minute=0, second=0, microsecond=0)
        start = (day + timedelta(days=rules["AutomaticallyAfterDays"])).timestamp()
        hours = False
    else:
        schedule = _schedule(rules["ScheduleExpression"])
        if isinstance(schedule, cron.Rate):
            hours = "hour" in rules["ScheduleExpression"]
            base = datetime.fromtimestamp(last, utc)
            if not hours:
                base = base.replace(hour=0, minute=0, second=0, microsecond=0)
            start = (base + timedelta(seconds=schedule.seconds)).timestamp()
        else:
            hours = False
            nxt = schedule.next_after(datetime.fromtimestamp(now, utc), utc)
            start = nxt.timestamp() if nxt is not None else now + 1000 * _DAY_S
    end_of_day = (start // _DAY_S + 1) * _DAY_S
    if "Duration" in rules:
        end = min(start + int(rules["Duration"][:-1]) * _HOUR, end_of_day)
    else:
        end = min(start + _HOUR, end_of_day) if hours else end_of_day
    return start, end
