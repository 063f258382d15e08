"""KMS grants, the pure rules (KMS Developer Guide, "Grants in AWS KMS"; API Reference, CreateGrant
and GrantConstraints): which operations a grant may allow, its constraints, whether a request's
encryption context satisfies them, whether one grant's constraints are at least as strict as
another's (a grantee's CreateGrant), whether a caller is a grant's grantee, and grant tokens.

- Operations: KMS's grant operations; ``DescribeKey``, ``RetireGrant`` and ``CreateGrant`` are not
  cryptographic: a constraint does not apply to the first two (CreateGrant passes it on).
- Constraints: ``EncryptionContextEquals`` (the request's context is exactly these pairs) or
  ``EncryptionContextSubset`` (it holds at least these pairs), up to 8 pairs each, values ≤ 384
  characters; keys compare without case, values with case, as AWS documents.
- A grant token is ``base64url("CG1" ‖ key id ‖ grant id ‖ 16 random bytes)``: the key and the
  grant it names can be read from it (the authorization mapping reads the key), and the random
  part makes each CreateGrant's token unique, as AWS's are.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Any, Iterable, Mapping

from cumulo.errors import ServiceError

__all__ = ["OPERATIONS", "CRYPTOGRAPHIC", "check_operations", "check_constraints", "check_principal",
           "satisfies", "as_strict", "is_grantee", "make_token", "read_token", "check_tokens", "GrantError"]

OPERATIONS = ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
              "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
              "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
              "DeriveSharedSecret")
CRYPTOGRAPHIC = frozenset(("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                           "ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyPair",
                           "GenerateDataKeyPairWithoutPlaintext"))
_CONSTRAINTS = ("EncryptionContextEquals", "EncryptionContextSubset")
_MAX_PAIRS, _MAX_VALUE = 8, 384
_PRINCIPAL = re.compile(r"^[\w+=,.@:/-]{1,256}$")
_MAGIC = b"CG1"
_KEY_ID, _GRANT_ID = 36, 64
MAX_TOKENS, MAX_TOKEN = 10, 8192


class GrantError(ServiceError):
    """KMS's errors about grants, by the name boto3 reports."""


def _invalid(message: str) -> GrantError:
    return GrantError("ValidationException", message)


def check_operations(operations: Any) -> list[str]:
    if not isinstance(operations, list) or not operations:
        raise _invalid("Operations must list at least one grant operation.")
    out: list[str] = []
    for op in operations:
        if op not in OPERATIONS:
            raise _invalid(f"1 validation error detected: Value '{op}' at 'operations' failed to satisfy constraint: "
                           f"Member must satisfy enum value set: [{', '.join(OPERATIONS)}]")
        if op not in out:
            out.append(op)
    return out


def check_principal(principal: Any, member: str) -> str:
    if not isinstance(principal, str) or _PRINCIPAL.match(principal) is None:
        raise _invalid(f"{member} must be an AWS principal: an ARN or a service principal, 1 to 256 characters.")
    return principal


def check_constraints(constraints: Any) -> dict[str, dict[str, str]]:
    """Constraints as given, checked (``ValidationException`` otherwise); {} for none."""
    if constraints is None:
        return {}
    if not isinstance(constraints, dict) or set(constraints) - set(_CONSTRAINTS):
        raise _invalid("Constraints may hold EncryptionContextEquals and EncryptionContextSubset only.")
    out: dict[str, dict[str, str]] = {}
    for name in _CONSTRAINTS:
        pairs = constraints.get(name)
        if pairs is None:
            continue
        if not isinstance(pairs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
            raise _invalid(f"{name} must map strings to strings.")
        if len(pairs) > _MAX_PAIRS or any(len(v) > _MAX_VALUE for v in pairs.values()):
            raise _invalid(f"{name} holds at most {_MAX_PAIRS} pairs, each value at most {_MAX_VALUE} characters.")
        out[name] = dict(pairs)
    return out


def _folded(pairs: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in pairs.items()}


def satisfies(constraints: Mapping[str, Mapping[str, str]], operation: str, context: Mapping[str, str]) -> bool:
    """Whether a request of ``operation`` with encryption context ``context`` meets the grant's
    constraints (keys without case, values with case; non-cryptographic operations always do)."""
    if not constraints or operation not in CRYPTOGRAPHIC:
        return True
    given = _folded(context)
    equals = constraints.get("EncryptionContextEquals")
    if equals is not None and _folded(equals) != given:
        return False
    subset = constraints.get("EncryptionContextSubset")
    if subset is not None and any(given.get(k) != v for k, v in _folded(subset).items()):
        return False
    return True


def as_strict(child: Mapping[str, Mapping[str, str]], parent: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a grant with constraints ``child`` allows nothing that ``parent``'s constraints refuse
    (what a grant made with a grant's CreateGrant must be)."""
    if not parent:
        return True
    if not child:
        return False
    child_equals = child.get("EncryptionContextEquals")
    child_subset = _folded(child.get("EncryptionContextSubset") or {})
    parent_equals = parent.get("EncryptionContextEquals")
    parent_subset = _folded(parent.get("EncryptionContextSubset") or {})
    if parent_equals is not None:
        if child_equals is None or _folded(child_equals) != _folded(parent_equals):
            return False
    if child_equals is not None:          # every context the child allows is exactly child_equals
        return all(_folded(child_equals).get(k) == v for k, v in parent_subset.items())
    return all(child_subset.get(k) == v for k, v in parent_subset.items())


def is_grantee(grantee: str, callers: Iterable[str]) -> bool:
    """Whether a caller known by any of ``callers`` (its session's ARN, its role's ARN, its account's
    root) is ``grantee``."""
    return grantee in callers


def make_token(key_id: str, grant_id: str) -> str:
    raw = _MAGIC + key_id.encode() + grant_id.encode() + secrets.token_bytes(16)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: Any) -> tuple[str, str] | None:
    """The (key id, grant id) a grant token of Cumulo's names; None for anything else."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_MAGIC) or len(raw) != len(_MAGIC) + _KEY_ID + _GRANT_ID + 16:
        return None
    try:
        return (raw[3:3 + _KEY_ID].decode("ascii"), raw[3 + _KEY_ID:3 + _KEY_ID + _GRANT_ID].decode("ascii"))
    except UnicodeDecodeError:
        return None


def check_tokens(tokens: Any) -> None:
    """``GrantTokens`` of any request: at most 10, each 1 to 8,192 characters. Cumulo's grants take
    effect at once (no eventual consistency), so a token adds nothing beyond being well formed."""
    if tokens is None:
        return
    if not isinstance(tokens, list) or len(tokens) > MAX_TOKENS or \
            not all(isinstance(t, str) and 1 <= len(t) <= MAX_TOKEN for t in tokens):
        raise _invalid(f"GrantTokens holds at most {MAX_TOKENS} tokens of 1 to {MAX_TOKEN} characters.")
