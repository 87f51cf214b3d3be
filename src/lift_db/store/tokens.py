"""Verify a Supabase access token, as PostgREST does before it runs a request as the token's user.

Both kinds of Supabase signing are accepted: the legacy shared secret (HS256), and the
asymmetric signing keys a project publishes as a JWKS (ES256, RS256), given as a URL (fetched,
then cached) or as a local file or dict. A token passes only if its signature is valid under a
configured key, `exp` is in the future, `nbf` (if present) has passed, `aud` (if present, and
always for `authenticated`) is the configured audience, and its `role` is one the API serves
(`authenticated` or `anon`): a `service_role` token is refused here, since service mode is an
explicit, separate call. What passes is the token's complete claims, which the store then sets
as `request.jwt.claims` with the role from the `role` claim, exactly as PostgREST does.

PyJWT (with `cryptography` for ES256/RS256) does the cryptography; it comes with the `auth` extra.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from lift_db.store.errors import AuthenticationError

# The roles PostgREST switches to for a signed-in user and for the anon key.
API_ROLES = ("authenticated", "anon")
DEFAULT_AUDIENCE = "authenticated"
HMAC_ALGORITHMS = ("HS256",)
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
JWKS_CACHE_SECONDS = 300.0
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_REFETCH_COOLDOWN_SECONDS = 30.0


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked: act as `role` with `claims`."""

    claims: Mapping[str, Any]
    role: str
    user_id: UUID | None  # the `sub` of an `authenticated` token; None for `anon`

    def claims_json(self) -> str:
        return json.dumps(dict(self.claims), separators=(",", ":"), sort_keys=True)


@dataclass
class TokenVerifier:
    """Checks tokens against the project's JWT secret and/or its signing keys (JWKS).

    `jwks` is a JWKS as a dict, a path to a JSON file, or an `https://…/.well-known/jwks.json`
    URL (fetched on first use and cached for `jwks_cache_seconds`; a `kid` not in the cache
    triggers a refetch, at most once per `jwks_refetch_cooldown_seconds`). At least one of
    `jwt_secret` and `jwks` is required.
    """

    jwt_secret: str | None = None
    jwks: Mapping[str, Any] | str | Path | None = None
    audience: str = DEFAULT_AUDIENCE
    issuer: str | None = None
    leeway_seconds: float = 0.0
    roles: Sequence[str] = API_ROLES
    jwks_cache_seconds: float = JWKS_CACHE_SECONDS
    # A kid not in the cache refetches the JWKS, at most once per this many seconds, so forged
    # kids cannot make every request fetch.
    jwks_refetch_cooldown_seconds: float = JWKS_REFETCH_COOLDOWN_SECONDS
    _keys: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.jwt_secret and self.jwks is None:
            raise ValueError("a TokenVerifier needs jwt_secret, jwks, or both")
        if "service_role" in self.roles:
            raise ValueError("service_role is never accepted from a token: use service mode")

    def verify(self, token: str) -> VerifiedToken:
        jwt = _pyjwt()
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthenticationError("not a JWT: expected three base64url parts", "malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"unreadable token header: {exc}", "malformed") from None
        algorithm = header.get("alg")
        key = self._key_for(algorithm, header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={
                    "require": ["exp", "role"],
                    # `aud` is checked below: anon keys carry none, user tokens must.
                    "verify_aud": False,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired", "expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationError("the token is not valid yet (nbf)", "not_yet_valid") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError(
                "the token's signature is not valid", "bad_signature"
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("the token's issuer is not accepted", "bad_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(
                f"the token has no {exc.claim!r} claim", "malformed"
            ) from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"the token is not valid: {exc}", "malformed") from None
        return self._checked(claims)

    def _checked(self, claims: dict[str, Any]) -> VerifiedToken:
        role = claims.get("role")
        if role == "service_role":
            raise AuthenticationError(
                "a service_role token is refused: service mode is the explicit "
                "make_store().service() call, never a token",
                "forbidden_role",
            )
        if not isinstance(role, str) or role not in self.roles:
            raise AuthenticationError(f"role {role!r} is not served by the API", "forbidden_role")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud] if aud is not None else []
        if (role == "authenticated" or audiences) and self.audience not in audiences:
            raise AuthenticationError(
                f"the token's audience {aud!r} is not {self.audience!r}", "bad_audience"
            )
        user_id: UUID | None = None
        if role == "authenticated":
            try:
                user_id = UUID(str(claims.get("sub")))
            except ValueError:
                raise AuthenticationError(
                    "an authenticated token needs a user id (uuid) in 'sub'", "malformed"
                ) from None
        return VerifiedToken(claims=claims, role=role, user_id=user_id)

    def _key_for(self, algorithm: object, kid: object) -> Any:
        if algorithm in HMAC_ALGORITHMS:
            if not self.jwt_secret:
                raise AuthenticationError(
                    "an HS256 token, but no JWT secret is configured", "unknown_key"
                )
            return self.jwt_secret
        if algorithm in ASYMMETRIC_ALGORITHMS:
            if self.jwks is None:
                raise AuthenticationError(
                    f"an {algorithm} token, but no signing keys (JWKS) are configured",
                    "unknown_key",
                )
            return self._signing_key(str(algorithm), kid)
        # "none", and algorithms Supabase does not sign with, never pass.
        raise AuthenticationError(
            f"signing algorithm {algorithm!r} is not accepted", "bad_algorithm"
        )

    def _signing_key(self, algorithm: str, kid: object) -> Any:
        jwt = _pyjwt()
        if isinstance(self.jwks, str) and self.jwks.startswith(("https://", "http://")):
            if self._keys is None:
                self._keys = jwt.PyJWKClient(
                    self.jwks,
                    cache_jwk_set=True,
                    lifespan=self.jwks_cache_seconds,
                    timeout=JWKS_TIMEOUT_SECONDS,
                    cooldown_duration=self.jwks_refetch_cooldown_seconds,
                )
            if not isinstance(kid, str):
                raise AuthenticationError("an asymmetric token without a 'kid'", "unknown_key")
            try:
                found = self._keys.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError as exc:
                raise AuthenticationError(
                    f"the signing keys could not be fetched: {exc}", "keys_unavailable"
                ) from None
            except jwt.PyJWKClientError:
                raise AuthenticationError(
                    f"no signing key with kid {kid!r}", "unknown_key"
                ) from None
        else:
            if self._keys is None:
                self._keys = jwt.PyJWKSet.from_dict(_load_jwks(self.jwks))
            matches = [k for k in self._keys.keys if k.key_id == kid]
            if not matches:
                raise AuthenticationError(f"no signing key with kid {kid!r}", "unknown_key")
            found = matches[0]
        if found.algorithm_name != algorithm:
            raise AuthenticationError(
                f"key {kid!r} signs with {found.algorithm_name}, the token says {algorithm}",
                "bad_algorithm",
            )
        return found.key


def _load_jwks(source: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    if source is None:
        raise ValueError("no JWKS configured")
    loaded = json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(loaded, dict) or not isinstance(loaded.get("keys"), list):
        raise ValueError(f"{source} is not a JWKS (an object with a 'keys' list)")
    return loaded


def _pyjwt() -> Any:
    try:
        import jwt  # optional (the auth extra): only token users need it
    except ImportError:
        raise AuthenticationError(
            "verifying tokens needs PyJWT: install lift-sys-db with the 'auth' extra",
            "unavailable",
        ) from None
    return jwt
