"""Handshake tokens: a static list for simple set-ups, or short-lived signed tokens.

With ``METAHUMAN_TOKEN_SECRET`` set, a client's handshake ``token`` may be a JWT (HS256) that binds
the ``sessionId`` and ``role`` it may connect as, and an expiry — like LiveKit's room tokens or
OpenAI's ephemeral client secrets: a back end that holds the secret mints one per user and session
(``metahuman-chat-token --session ID --role sender --ttl 600``), and a leaked token opens only that
session, as that role, until it expires. ``METAHUMAN_TOKENS`` (comma-separated) still lists static
tokens that open any session as any role. With neither, the server is open (and says so at start).
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import jwt

ALGORITHM = "HS256"
ISSUER = "metahuman-ai-chat"
MIN_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits)."""
ROLES = ("sender", "receiver")

RefusalCode = Literal["unauthorized", "token_expired", "token_mismatch"]


class TokenRefused(Exception):
    """The handshake token does not open this session as this role; ``code`` says why."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code: RefusalCode = code
        self.message = message


class TokenSecretError(ValueError):
    """``METAHUMAN_TOKEN_SECRET`` is unusable (too short to sign with)."""


def _check_secret(secret: str) -> bytes:
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise TokenSecretError(
            f"METAHUMAN_TOKEN_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            f" (it has {len(key)}); for example: python -c 'import secrets;"
            " print(secrets.token_urlsafe(48))'"
        )
    return key


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Which handshake tokens open which sessions."""

    static_tokens: frozenset[str] = field(default=frozenset(), repr=False)
    secret: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TokenPolicy:
        static = frozenset(
            t.strip() for t in env.get("METAHUMAN_TOKENS", "").split(",") if t.strip()
        )
        raw_secret = env.get("METAHUMAN_TOKEN_SECRET") or None
        return cls(static, _check_secret(raw_secret) if raw_secret else None)

    @property
    def open(self) -> bool:
        """No token is required: anyone who reaches the port may connect."""
        return not self.static_tokens and self.secret is None

    def describe(self) -> str:
        """For the start-up banner: counts and kinds, never a secret."""
        if self.open:
            return "none: the server is open to anyone who can reach it"
        kinds = []
        if self.secret is not None:
            kinds.append("signed tokens (METAHUMAN_TOKEN_SECRET)")
        if self.static_tokens:
            kinds.append(f"{len(self.static_tokens)} static token(s) (METAHUMAN_TOKENS)")
        return " and ".join(kinds)

    def check(self, token: str | None, session_id: str, role: str) -> None:
        """Return if ``token`` opens ``session_id`` as ``role``; raise TokenRefused otherwise."""
        if self.open:
            return
        if not token:
            raise TokenRefused("unauthorized", "a token is required")
        if self._is_static(token):
            return
        if self.secret is None:
            raise TokenRefused("unauthorized", "invalid token")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iss", "sessionId", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("token_expired", "the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused("unauthorized", "invalid token") from exc
        if claims["sessionId"] != session_id:
            raise TokenRefused("token_mismatch", "the token is for another session")
        if claims["role"] != role:
            raise TokenRefused("token_mismatch", f"the token is not for the {role} role")

    def _is_static(self, token: str) -> bool:
        # Compare against every token so timing does not tell which one nearly matched.
        matches = [
            hmac.compare_digest(token.encode(), known.encode()) for known in self.static_tokens
        ]
        return any(matches)


def mint(
    secret: str | bytes, session_id: str, role: str, ttl_s: float, now: float | None = None
) -> str:
    """A signed token that opens ``session_id`` as ``role`` for ``ttl_s`` seconds."""
    key = _check_secret(secret) if isinstance(secret, str) else secret
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": ISSUER,
        "sessionId": session_id,
        "role": role,
        "iat": issued,
        "exp": issued + int(ttl_s),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """``metahuman-chat-token``: print a signed handshake token."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="metahuman-chat-token",
        description="Print a signed handshake token for one session and role, signed with"
        " METAHUMAN_TOKEN_SECRET (the server must have the same secret).",
    )
    parser.add_argument("--session", required=True, help="the sessionId the token opens")
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--ttl", type=float, default=600.0, help="seconds until it expires")
    args = parser.parse_args(argv)
    secret = env.get("METAHUMAN_TOKEN_SECRET")
    if not secret:
        print("metahuman-chat-token: METAHUMAN_TOKEN_SECRET is not set", file=sys.stderr)
        return 2
    try:
        print(mint(secret, args.session, args.role, args.ttl))
    except (TokenSecretError, ValueError) as exc:
        print(f"metahuman-chat-token: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
