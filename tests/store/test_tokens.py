"""Access tokens are verified as PostgREST verifies them, before any query runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lift_db.store.errors import AuthenticationError
from lift_db.store.tokens import TokenVerifier

SECRET = "a-test-secret-of-at-least-thirty-two-characters"
USER = uuid.UUID("6a1c1b1e-7d1f-4c59-9a53-3b7c1b0f4e21")


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": str(USER),
        "role": "authenticated",
        "aud": "authenticated",
        # A day: the parametrized tokens below are minted at collection, and the suite may run
        # for more than ten minutes before it reaches them.
        "exp": int(time.time()) + 86_400,
        "email": "ann@example.com",
        "app_metadata": {"provider": "github"},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


class Keys:
    def __init__(self) -> None:
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk.update(kid="ec-1", alg="ES256", use="sig")
        rsa_jwk.update(kid="rsa-1", alg="RS256", use="sig")
        return {"keys": [ec_jwk, rsa_jwk]}

    def es256(self, payload: dict[str, Any], kid: str = "ec-1") -> str:
        return jwt.encode(payload, self.ec, algorithm="ES256", headers={"kid": kid})

    def rs256(self, payload: dict[str, Any], kid: str = "rsa-1") -> str:
        return jwt.encode(payload, self.rsa, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def refused(verifier: TokenVerifier, token: str, reason: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    assert caught.value.reason == reason, caught.value
    return caught.value


def test_a_user_token_yields_its_complete_claims_and_role() -> None:
    verified = TokenVerifier(jwt_secret=SECRET).verify(hs256(claims()))
    assert verified.role == "authenticated"
    assert verified.user_id == USER
    assert verified.claims["app_metadata"] == {"provider": "github"}
    assert json.loads(verified.claims_json()) == claims() | {"exp": verified.claims["exp"]}


def test_the_anon_key_acts_as_anon_with_no_user() -> None:
    token = hs256({"iss": "supabase-demo", "role": "anon", "exp": int(time.time()) + 60})
    verified = TokenVerifier(jwt_secret=SECRET).verify(token)
    assert (verified.role, verified.user_id) == ("anon", None)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(claims(exp=int(time.time()) - 5)), "expired"),
        (hs256(claims(nbf=int(time.time()) + 86_400)), "not_yet_valid"),
        (hs256(claims(), secret="another-secret-of-at-least-thirty-two-chars!"), "bad_signature"),
        (hs256(claims(role="service_role", aud=None)), "forbidden_role"),
        (hs256(claims(role="supabase_admin")), "forbidden_role"),
        (hs256(claims(aud="someone-else")), "bad_audience"),
        (hs256(claims(aud=None)), "bad_audience"),
        (hs256(claims(sub="not-a-uuid")), "malformed"),
        (hs256(claims(exp=None)), "malformed"),
        (hs256(claims(role=None)), "malformed"),
        ("not.a.token", "malformed"),
        ("", "malformed"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token: str, reason: str) -> None:
    refused(TokenVerifier(jwt_secret=SECRET), token, reason)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(claims(), key="", algorithm="none")
    refused(TokenVerifier(jwt_secret=SECRET), unsigned, "bad_algorithm")


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = hs256(claims()).split(".")
    forged = jwt.utils.base64url_encode(json.dumps(claims(sub=str(uuid.uuid4()))).encode())
    refused(
        TokenVerifier(jwt_secret=SECRET), f"{header}.{forged.decode()}.{signature}", "bad_signature"
    )


def test_signing_keys_from_a_jwks_dict_and_file(keys: Keys, tmp_path: Path) -> None:
    by_dict = TokenVerifier(jwks=keys.jwks())
    assert by_dict.verify(keys.es256(claims())).user_id == USER
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    assert TokenVerifier(jwks=path).verify(keys.rs256(claims())).user_id == USER


def test_asymmetric_tokens_are_refused_when_the_key_does_not_match(keys: Keys) -> None:
    verifier = TokenVerifier(jwks=keys.jwks())
    refused(verifier, keys.es256(claims(), kid="unknown"), "unknown_key")
    # Signed by the EC key but naming the RSA key's kid.
    header = jwt.encode(claims(), keys.ec, algorithm="ES256", headers={"kid": "rsa-1"})
    refused(verifier, header, "bad_algorithm")
    other = Keys()
    refused(verifier, other.es256(claims()), "bad_signature")


def test_no_key_of_the_token_kind_is_configured(keys: Keys) -> None:
    refused(TokenVerifier(jwks=keys.jwks()), hs256(claims()), "unknown_key")
    refused(TokenVerifier(jwt_secret=SECRET), keys.es256(claims()), "unknown_key")


def test_the_public_key_is_not_accepted_as_an_hmac_secret(keys: Keys) -> None:
    # Key confusion: an HS256 token "signed" with the public key (anyone has it) never passes.
    public_pem = keys.ec.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    segments = [
        jwt.utils.base64url_encode(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": "ec-1"}, claims())
    ]
    signing_input = b".".join(segments)
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    confused = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    refused(TokenVerifier(jwt_secret=SECRET, jwks=keys.jwks()), confused, "bad_signature")
    refused(TokenVerifier(jwks=keys.jwks()), confused, "unknown_key")


class _JwksServer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                data = json.dumps(outer.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/auth/v1/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def jwks_server(keys: Keys) -> Iterator[_JwksServer]:
    server = _JwksServer(keys.jwks())
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_jwks_url_is_fetched_once_and_cached(keys: Keys, jwks_server: _JwksServer) -> None:
    verifier = TokenVerifier(jwks=jwks_server.url)
    for _ in range(5):
        assert verifier.verify(keys.es256(claims())).user_id == USER
    assert verifier.verify(keys.rs256(claims())).role == "authenticated"
    assert jwks_server.requests == 1


def test_a_rotated_key_is_found_by_refetching(keys: Keys, jwks_server: _JwksServer) -> None:
    verifier = TokenVerifier(jwks=jwks_server.url, jwks_refetch_cooldown_seconds=0)
    verifier.verify(keys.es256(claims()))
    rotated = Keys()
    body = rotated.jwks()
    body["keys"][0]["kid"] = "ec-2"
    jwks_server.body = body
    assert verifier.verify(rotated.es256(claims(), kid="ec-2")).user_id == USER
    assert jwks_server.requests == 2


def test_an_unreachable_jwks_url_is_a_typed_refusal(keys: Keys) -> None:
    verifier = TokenVerifier(jwks="http://127.0.0.1:9/jwks.json")
    refused(verifier, keys.es256(claims()), "keys_unavailable")


def test_service_role_cannot_be_configured_as_a_token_role() -> None:
    with pytest.raises(ValueError, match="service_role"):
        TokenVerifier(jwt_secret=SECRET, roles=("authenticated", "service_role"))
    with pytest.raises(ValueError, match="needs jwt_secret, jwks"):
        TokenVerifier()
