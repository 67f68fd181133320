"""Handshake tokens: static tokens, signed tokens bound to a session, a role and an expiry."""

from __future__ import annotations

import time

import jwt
import pytest

from handlers.auth import TokenPolicy, TokenRefused, TokenSecretError, main, mint

SECRET = "s3cret-for-tests-only-0123456789-abcdefghijkl"


def policy(**env: str) -> TokenPolicy:
    return TokenPolicy.from_env(env)


def refusal(pol: TokenPolicy, token: str | None, session: str, role: str) -> str:
    with pytest.raises(TokenRefused) as info:
        pol.check(token, session, role)
    return info.value.code


def test_open_without_configuration() -> None:
    pol = policy()
    assert pol.open
    pol.check(None, "any", "sender")
    assert "open" in pol.describe()


def test_static_tokens_open_any_session_and_role() -> None:
    pol = policy(METAHUMAN_TOKENS="alpha, beta")
    pol.check("beta", "s1", "receiver")
    assert refusal(pol, "gamma", "s1", "sender") == "unauthorized"
    assert refusal(pol, None, "s1", "sender") == "unauthorized"
    assert "2 static" in pol.describe() and "alpha" not in pol.describe()


def test_signed_token_opens_only_its_session_and_role() -> None:
    pol = policy(METAHUMAN_TOKEN_SECRET=SECRET)
    token = mint(SECRET, "kiosk-7", "sender", 60)
    pol.check(token, "kiosk-7", "sender")
    assert refusal(pol, token, "kiosk-8", "sender") == "token_mismatch"
    assert refusal(pol, token, "kiosk-7", "receiver") == "token_mismatch"


def test_expired_token_is_refused_as_expired() -> None:
    pol = policy(METAHUMAN_TOKEN_SECRET=SECRET)
    token = mint(SECRET, "s", "sender", 10, now=time.time() - 3600)
    assert refusal(pol, token, "s", "sender") == "token_expired"


def test_tampered_or_foreign_tokens_are_unauthorized() -> None:
    pol = policy(METAHUMAN_TOKEN_SECRET=SECRET)
    other = mint("another-secret-of-enough-length-0123456789", "s", "sender", 60)
    assert refusal(pol, other, "s", "sender") == "unauthorized"
    good = mint(SECRET, "s", "sender", 60)
    header, payload, signature = good.split(".")
    assert refusal(pol, f"{header}.{payload}.{signature[::-1]}", "s", "sender") == "unauthorized"
    # "none" algorithm and a token without the binding claims are refused too.
    unsigned = jwt.encode({"sessionId": "s", "role": "sender", "exp": time.time() + 60}, "", "none")
    assert refusal(pol, unsigned, "s", "sender") == "unauthorized"
    unbound = jwt.encode(
        {"iss": "metahuman-ai-chat", "exp": int(time.time()) + 60}, SECRET, "HS256"
    )
    assert refusal(pol, unbound, "s", "sender") == "unauthorized"
    assert refusal(pol, "not-a-jwt", "s", "sender") == "unauthorized"


def test_short_secret_is_refused_at_configuration() -> None:
    with pytest.raises(TokenSecretError, match="at least 32 bytes"):
        policy(METAHUMAN_TOKEN_SECRET="short")


def test_mint_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--session", "abc", "--role", "receiver", "--ttl", "30"],
        {"METAHUMAN_TOKEN_SECRET": SECRET},
    )
    assert code == 0
    token = capsys.readouterr().out.strip()
    policy(METAHUMAN_TOKEN_SECRET=SECRET).check(token, "abc", "receiver")
    assert main(["--session", "abc", "--role", "sender"], {}) == 2
    assert "METAHUMAN_TOKEN_SECRET is not set" in capsys.readouterr().err
