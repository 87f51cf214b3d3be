"""The local stack's JWT secret, API keys and test tokens, as `supabase start` has them.

The Supabase CLI's local stack signs with a fixed, public secret (`[auth] jwt_secret` of
config.toml overrides it) and hands out an anon key and a service_role key signed with it; with
`[auth] signing_keys_path` it signs user tokens with the asymmetric keys of that JWK file
instead. This module gives the same values, so code and tests written against the local stack
see what they will see against `supabase start`, and it mints user tokens shaped as Supabase
Auth issues them (`lift-db token`). None of this is a production secret: production keys come
from the project's dashboard.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lift_db.errors import ConfigError
from lift_db.local.project import Project

# Public defaults of the Supabase CLI's local stack.
DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"  # noqa: S105
DEMO_ISSUER = "supabase-demo"
DEMO_KEY_EXPIRY = 1983812996
API_PORT_DEFAULT = 54321
DEFAULT_TOKEN_SECONDS = 3600
MAX_TOKEN_SECONDS = 7 * 24 * 3600
_ENV_REFERENCE = re.compile(r"^env\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)$")


@dataclass(frozen=True)
class LocalKeys:
    jwt_secret: str
    # Private JWKs from [auth] signing_keys_path; user tokens are signed with the first one.
    signing_keys: tuple[dict[str, Any], ...]
    issuer: str

    @classmethod
    def for_project(cls, project: Project) -> LocalKeys:
        config = project.config()
        auth = config.get("auth", {})
        auth = auth if isinstance(auth, dict) else {}
        secret = _resolve(auth.get("jwt_secret"), project, "[auth] jwt_secret")
        if secret is not None and len(secret) < 32:
            raise ConfigError(
                "[auth] jwt_secret must have at least 32 characters", "use a longer secret"
            )
        api = config.get("api", {})
        port = api.get("port", API_PORT_DEFAULT) if isinstance(api, dict) else API_PORT_DEFAULT
        keys_path = auth.get("signing_keys_path")
        signing_keys: tuple[dict[str, Any], ...] = ()
        if isinstance(keys_path, str) and keys_path:
            signing_keys = _read_signing_keys(project.supabase_dir / keys_path.removeprefix("./"))
        return cls(
            jwt_secret=secret or DEFAULT_JWT_SECRET,
            signing_keys=signing_keys,
            issuer=f"http://127.0.0.1:{port}/auth/v1",
        )

    def anon_key(self) -> str:
        return self._hs256({"iss": DEMO_ISSUER, "role": "anon", "exp": DEMO_KEY_EXPIRY})

    def service_role_key(self) -> str:
        return self._hs256({"iss": DEMO_ISSUER, "role": "service_role", "exp": DEMO_KEY_EXPIRY})

    def jwks(self) -> dict[str, Any]:
        """The public half of the signing keys, as `/auth/v1/.well-known/jwks.json` serves it."""
        public = []
        for key in self.signing_keys:
            public.append(
                {k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
            )
        return {"keys": public}

    def user_token(
        self,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        role: str = "authenticated",
        expires_in: int = DEFAULT_TOKEN_SECONDS,
        now: int | None = None,
    ) -> str:
        """An access token shaped as Supabase Auth issues one."""
        if role not in ("authenticated", "anon"):
            raise ConfigError(
                f"cannot mint a token for role {role!r}",
                "use --role authenticated or anon; service_role has its own key",
            )
        if not 1 <= expires_in <= MAX_TOKEN_SECONDS:
            raise ConfigError(f"--expires-in must be 1 to {MAX_TOKEN_SECONDS} seconds")
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user_id),
            "aud": "authenticated",
            "exp": issued + expires_in,
            "iat": issued,
            "role": role,
            "email": email or "",
            "phone": "",
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": issued}],
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
        }
        if self.signing_keys:
            return _sign_with_jwk(claims, self.signing_keys[0])
        return self._hs256(claims)

    def _hs256(self, claims: dict[str, Any]) -> str:
        jwt = _pyjwt()
        token: str = jwt.encode(claims, self.jwt_secret, algorithm="HS256")
        return token


def _resolve(value: object, project: Project, what: str) -> str | None:
    """A config value, following `env(NAME)` as the Supabase CLI does."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{what} in {project.config_file} must be a string")
    reference = _ENV_REFERENCE.match(value.strip())
    if reference is None:
        return value
    resolved = os.environ.get(reference["name"])
    if not resolved:
        raise ConfigError(f"{what} names env({reference['name']}), which is not set")
    return resolved


def _read_signing_keys(path: Path) -> tuple[dict[str, Any], ...]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the signing keys {path}: {exc}") from exc
    keys = loaded.get("keys") if isinstance(loaded, dict) else loaded
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise ConfigError(f"{path} must hold a non-empty list of JWKs")
    for key in keys:
        if key.get("alg") not in ("ES256", "RS256") or "kid" not in key or "d" not in key:
            raise ConfigError(
                f"{path}: every key needs kid, alg ES256 or RS256 and its private part"
            )
    return tuple(keys)


def _sign_with_jwk(claims: dict[str, Any], key: dict[str, Any]) -> str:
    jwt = _pyjwt()
    private = jwt.PyJWK.from_dict(key)
    token: str = jwt.encode(claims, private.key, algorithm=key["alg"], headers={"kid": key["kid"]})
    return token


def _pyjwt() -> Any:
    try:
        import jwt  # the auth extra; `make db` installs it
    except ImportError:
        raise ConfigError(
            "signing tokens needs PyJWT", "install lift-sys-db with the 'auth' extra"
        ) from None
    return jwt
