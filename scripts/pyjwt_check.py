#!/usr/bin/env python3
"""The Flask original's token code, run through real PyJWT: the other side of tests/interop.rs.

`encode_token` and `decode_token` are the Flask "API login manager" code, line for line:

    jwt.encode({"exp": datetime.utcnow() + timedelta(minutes=minutes),
                "iat": datetime.utcnow(), "user_id": user_id}, secret, algorithm="HS256")
    jwt.decode(token, secret, algorithms=["HS256"])

with `ExpiredSignatureError` answered "Expired token. Please login to get a new token" and any
other `InvalidTokenError` "Invalid token. Please register or login".

Usage (every command prints one JSON document on stdout and exits 0 unless it crashes, except
`check-fixtures`, which exits 1 when PyJWT no longer behaves as the fixture file records):

    pyjwt_check.py version
    pyjwt_check.py mint SECRET USER_ID MINUTES
    pyjwt_check.py decode SECRET TOKEN
    pyjwt_check.py check-fixtures [PATH]     (default: tests/data/pyjwt_tokens.json)
    pyjwt_check.py mint-key ALG KID USER_ID MINUTES
    pyjwt_check.py decode-key ALG PUBLIC_KEY TOKEN

`mint-key` generates a fresh key for ALG (ES256 on P-256, EdDSA on Ed25519, RS256 of 2048 bits),
signs the original's claims with it under the header `kid` KID (none if KID is empty) and prints
the token with the public key as SPKI PEM and as a JWK (`kid` set). `decode-key` verifies TOKEN
with PUBLIC_KEY, SPKI PEM or a JWK, allowing ALG only, as the original decodes.

Needs PyJWT 2.x, and `cryptography` for the `-key` commands: scripts/install-test-deps.sh
installs both.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt

EXPIRED_MESSAGE = "Expired token. Please login to get a new token"
INVALID_MESSAGE = "Invalid token. Please register or login"

DEFAULT_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "pyjwt_tokens.json"


def encode_token(user_id: str, secret: str, minutes: int, now: datetime | None = None) -> str:
    """The Flask original's `encode_token`; `now` only lets the fixtures pin the clock."""
    if now is None:
        # Kept exactly as the original writes it (naive UTC); deprecated since Python 3.12.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            exp = datetime.utcnow() + timedelta(minutes=minutes)
            iat = datetime.utcnow()
    else:
        exp = now + timedelta(minutes=minutes)
        iat = now
    return jwt.encode({"exp": exp, "iat": iat, "user_id": user_id}, secret, algorithm="HS256")


def decode_token(token: str, secret: str) -> dict:
    """The Flask original's `decode_token`, reporting what PyJWT said and what Flask answers.

    `outcome` is "ok", "expired" or "invalid", the three answers the original can give.
    """
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.ExpiredSignatureError as e:
        return {"outcome": "expired", "error": type(e).__name__, "detail": str(e),
                "message": EXPIRED_MESSAGE}
    except jwt.InvalidTokenError as e:
        return {"outcome": "invalid", "error": type(e).__name__, "detail": str(e),
                "message": INVALID_MESSAGE}
    return {"outcome": "ok", "payload": payload}


def mint_key(alg: str, kid: str, user_id: str, minutes: int) -> dict:
    """A fresh key for `alg`, a token signed with it, and its public half as PEM and JWK."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    if alg == "ES256":
        private, to_jwk = ec.generate_private_key(ec.SECP256R1()), ECAlgorithm.to_jwk
    elif alg == "EdDSA":
        private, to_jwk = ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm.to_jwk
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        to_jwk = RSAAlgorithm.to_jwk
    else:
        raise SystemExit(f"mint-key: no key type for {alg}")
    now = datetime.now(timezone.utc)
    claims = {"exp": now + timedelta(minutes=minutes), "iat": now, "user_id": user_id}
    headers = {"kid": kid} if kid else None
    token = jwt.encode(claims, private, algorithm=alg, headers=headers)
    public = private.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    jwk = to_jwk(public, as_dict=True)
    if kid:
        jwk["kid"] = kid
    return {"token": token, "public_pem": pem, "public_jwk": jwk}


def decode_with_key(alg: str, public_key: str, token: str) -> dict:
    """`jwt.decode` with a public key (SPKI PEM, or a JWK when it starts with `{`), `alg` only."""
    key = jwt.PyJWK(json.loads(public_key)).key if public_key.startswith("{") else public_key
    try:
        payload = jwt.decode(token, key, algorithms=[alg])
    except jwt.ExpiredSignatureError as e:
        return {"outcome": "expired", "error": type(e).__name__, "detail": str(e)}
    except jwt.InvalidTokenError as e:
        return {"outcome": "invalid", "error": type(e).__name__, "detail": str(e)}
    return {"outcome": "ok", "payload": payload, "header": jwt.get_unverified_header(token)}


def json_safe_user_id(value):
    """The user id as recorded in the fixture file: a string Python's json accepts but UTF-8 (and
    so serde_json) cannot hold, a lone surrogate, is recorded as its ascii() repr."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return ascii(value)
    return value


def check_fixtures(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    secret = data["secret"]
    mismatches = []
    for fx in data["fixtures"]:
        got = decode_token(fx["token"], secret)
        want = fx["pyjwt"]
        same = got["outcome"] == want["outcome"] and got.get("error") == want.get("error")
        if same and got["outcome"] == "ok":
            same = json_safe_user_id(got["payload"].get("user_id")) == want.get("user_id")
        if not same:
            mismatches.append({"name": fx["name"], "recorded": want, "now": got})
    print(json.dumps({
        "pyjwt_version": jwt.__version__,
        "recorded_with": data["pyjwt_version"],
        "checked": len(data["fixtures"]),
        "mismatches": mismatches,
    }, indent=2, default=str))
    return 1 if mismatches else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] == "version":
        print(json.dumps({"pyjwt_version": jwt.__version__, "python": sys.version.split()[0]}))
        return 0
    if len(argv) == 5 and argv[1] == "mint":
        _, _, secret, user_id, minutes = argv
        print(json.dumps({"token": encode_token(user_id, secret, int(minutes))}))
        return 0
    if len(argv) == 4 and argv[1] == "decode":
        _, _, secret, token = argv
        print(json.dumps(decode_token(token, secret), default=str))
        return 0
    if len(argv) == 6 and argv[1] == "mint-key":
        _, _, alg, kid, user_id, minutes = argv
        print(json.dumps(mint_key(alg, kid, user_id, int(minutes))))
        return 0
    if len(argv) == 5 and argv[1] == "decode-key":
        _, _, alg, public_key, token = argv
        print(json.dumps(decode_with_key(alg, public_key, token), default=str))
        return 0
    if len(argv) in (2, 3) and argv[1] == "check-fixtures":
        return check_fixtures(Path(argv[2]) if len(argv) == 3 else DEFAULT_FIXTURES)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
