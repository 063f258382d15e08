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
import secrets as random
import string
from typing import Any, Iterable

from cumulo.errors import ServiceError

__all__ = ["SecretsError", "not_found", "invalid_parameter", "invalid_request", "exists", "check_name",
           "arn_suffix", "secret_arn", "name_of", "CURRENT", "PREVIOUS", "PENDING", "MAX_VERSIONS",
           "MAX_VALUE_BYTES", "stage_new_version", "move_stage", "prune", "random_password", "PUNCTUATION"]

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
