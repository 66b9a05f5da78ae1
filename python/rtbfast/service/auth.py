"""Bearer tokens, stored hashed: a JSON list of ``{"name": ..., "sha256": ..., "roles": [...]}``
(the file a Kubernetes secret mounts). A request's token is hashed (SHA-256) and looked up;
the token itself is never kept, logged or compared in the clear.

Roles: ``reader`` (check, expand, plan, audit, catalog, jobs, runs), ``operator`` (apply) and
``metrics`` (``/metrics`` with ``--metrics-auth``). No valid token: 401; a valid token without
the role: 403.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtbfast.service.config import ConfigError

ROLES = ("reader", "operator", "metrics")


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]


OPEN = Principal("anonymous (no --tokens: loopback only)", frozenset(ROLES))
"""Who every request is when the server runs without tokens (on loopback only)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(name: str, roles: list[str]) -> tuple[str, dict[str, Any]]:
    """A fresh random token and its entry for the tokens file."""
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ConfigError(f"roles {roles}: each one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    return token, {"name": name, "sha256": token_hash(token), "roles": sorted(set(roles))}


class Tokens:
    """The tokens file, read once at start."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_hash = entries

    @classmethod
    def load(cls, path: Path) -> Tokens:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the tokens file: {err.strerror}", str(path)) from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: the tokens file is not JSON: {err}", str(path)) from err
        if not isinstance(data, list):
            raise ConfigError(f"{path}: the tokens file is a JSON list of {{name, sha256, roles}}", str(path))
        entries: dict[str, Principal] = {}
        for i, item in enumerate(data):
            where = f"{path}: entry {i + 1}"
            if not isinstance(item, dict) or set(item) - {"name", "sha256", "roles"}:
                raise ConfigError(f"{where}: an object with name, sha256 and roles only", str(path))
            name, digest, roles = item.get("name"), item.get("sha256"), item.get("roles")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: name is a non-empty string", str(path))
            if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where} ({name}): sha256 is 64 lower-case hex digits (never the token)", str(path))
            if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
                raise ConfigError(f"{where} ({name}): roles is a list of {', '.join(ROLES)}", str(path))
            if digest in entries:
                raise ConfigError(f"{where} ({name}): the same token as {entries[digest].name}", str(path))
            entries[digest] = Principal(name, frozenset(roles))
        return cls(entries)

    def who(self, authorization: str | None) -> Principal | None:
        """The holder of the bearer token of an ``Authorization`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = token_hash(token.strip())
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None
