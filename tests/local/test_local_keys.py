"""The local stack's keys and test tokens: Supabase's local values, verifiable by the store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from lift_db.errors import ConfigError
from lift_db.local.keys import DEFAULT_JWT_SECRET, LocalKeys
from lift_db.local.project import Project
from lift_db.store.errors import AuthenticationError
from lift_db.store.tokens import TokenVerifier
from tests.conftest import ROOT

# The keys `supabase status` prints for a default local stack (public, documented values).
SUPABASE_LOCAL_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAi"
    "OjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
ADA = uuid.UUID("a0da0da0-0000-4000-8000-000000000001")


@pytest.fixture
def scratch_project(tmp_path: Path) -> Project:
    (tmp_path / "supabase").mkdir()
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    return Project(tmp_path)


def add_auth_config(project: Project, lines: str) -> None:
    config = project.config_file
    config.write_text(config.read_text().replace("[auth]\n", f"[auth]\n{lines}\n"))


def test_the_api_keys_are_the_supabase_cli_local_ones(project: Project) -> None:
    keys = LocalKeys.for_project(project)
    assert keys.jwt_secret == DEFAULT_JWT_SECRET
    assert keys.anon_key() == SUPABASE_LOCAL_ANON_KEY
    service = jwt.decode(keys.service_role_key(), DEFAULT_JWT_SECRET, algorithms=["HS256"])
    assert service == {"iss": "supabase-demo", "role": "service_role", "exp": 1983812996}


def test_a_user_token_passes_the_store_verifier_and_service_role_does_not(
    project: Project,
) -> None:
    keys = LocalKeys.for_project(project)
    verifier = TokenVerifier(jwt_secret=keys.jwt_secret)
    verified = verifier.verify(keys.user_token(ADA, email="ada@demo.lift-sys.dev"))
    assert verified.user_id == ADA
    assert verified.claims["email"] == "ada@demo.lift-sys.dev"
    assert verified.claims["iss"] == "http://127.0.0.1:54321/auth/v1"
    assert verifier.verify(keys.anon_key()).role == "anon"
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(keys.service_role_key())
    assert caught.value.reason == "forbidden_role"


def test_an_expiry_outside_one_week_and_other_roles_are_refused(project: Project) -> None:
    keys = LocalKeys.for_project(project)
    with pytest.raises(ConfigError, match="expires-in"):
        keys.user_token(ADA, expires_in=0)
    with pytest.raises(ConfigError, match="expires-in"):
        keys.user_token(ADA, expires_in=8 * 24 * 3600)
    with pytest.raises(ConfigError, match="service_role"):
        keys.user_token(ADA, role="service_role")


def test_the_secret_comes_from_config_or_its_env_reference(
    scratch_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_auth_config(scratch_project, 'jwt_secret = "env(LIFT_TEST_JWT_SECRET)"')
    with pytest.raises(ConfigError, match="LIFT_TEST_JWT_SECRET"):
        LocalKeys.for_project(scratch_project)
    monkeypatch.setenv("LIFT_TEST_JWT_SECRET", "x" * 40)
    keys = LocalKeys.for_project(scratch_project)
    assert TokenVerifier(jwt_secret="x" * 40).verify(keys.user_token(ADA)).user_id == ADA
    monkeypatch.setenv("LIFT_TEST_JWT_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        LocalKeys.for_project(scratch_project)


def test_signing_keys_sign_user_tokens_and_publish_only_their_public_half(
    scratch_project: Project,
) -> None:
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    private.update(kid="local-1", alg="ES256", use="sig")
    (scratch_project.supabase_dir / "signing_keys.json").write_text(json.dumps([private]))
    add_auth_config(scratch_project, 'signing_keys_path = "./signing_keys.json"')
    keys = LocalKeys.for_project(scratch_project)
    jwks = keys.jwks()
    assert "d" not in jwks["keys"][0]
    token = keys.user_token(ADA)
    assert jwt.get_unverified_header(token)["kid"] == "local-1"
    assert TokenVerifier(jwks=jwks).verify(token).user_id == ADA


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lift_db.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.usefixtures("local_server")
def test_the_token_command_names_a_seeded_user_by_email_or_id(project: Project) -> None:
    verifier = TokenVerifier(jwt_secret=LocalKeys.for_project(project).jwt_secret)
    by_email = run_cli("token", "--user", "ADA@demo.lift-sys.dev", "--expires-in", "60")
    assert by_email.returncode == 0, by_email.stderr
    claims = verifier.verify(by_email.stdout.strip()).claims
    assert (claims["sub"], claims["email"]) == (str(ADA), "ada@demo.lift-sys.dev")
    assert claims["exp"] - claims["iat"] == 60
    by_id = run_cli("token", "--user", str(ADA), "--role", "anon")
    assert by_id.returncode == 0, by_id.stderr
    assert verifier.verify(by_id.stdout.strip()).role == "anon"


@pytest.mark.usefixtures("local_server")
def test_the_token_command_refuses_an_unknown_user() -> None:
    result = run_cli("token", "--user", "nobody@example.com")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no user 'nobody@example.com' in auth.users" in result.stderr
