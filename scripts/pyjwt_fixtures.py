#!/usr/bin/env python3
"""Generates tests/data/pyjwt_tokens.json: tokens minted by real PyJWT, the Flask original's way,
and what tower-login-manager must make of each.

    python3 scripts/pyjwt_fixtures.py [OUTPUT]      (needs PyJWT 2.x: scripts/install-test-deps.sh)

Every token is deterministic (HS256 is deterministic and every time is pinned), so re-running with
the same PyJWT version rewrites the same file.

Each fixture records:
  name, token, note
  expect     what our `LoginManager::decode_token` must answer: "ok", "expired" or "invalid"
  error      for "expired"/"invalid": the TokenError variant, as `Variant` or `Variant(claim)`
  user_id, exp, iat   for "ok": the claims our crate must return
  pyjwt      what the Flask original (`jwt.decode(token, secret, algorithms=["HS256"])`) answered
             when the file was generated: {"outcome": "ok"|"expired"|"invalid", "error"?,
             "user_id"?}. Where it differs from `expect`, the note says why. The live test re-checks
             these against the installed PyJWT (`scripts/pyjwt_check.py check-fixtures`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import jwt

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pyjwt_check import decode_token, encode_token, json_safe_user_id  # noqa: E402

# The test secret (>= 32 bytes, as our crate requires). Only ever used by tests.
SECRET = "tower-login-manager interop test secret: never use in production"
OTHER_SECRET = "a different secret of more than thirty-two bytes, also for tests"

# utcnow() has microseconds: PyJWT truncates datetimes to whole seconds.
ISSUED = datetime(2024, 1, 1, 12, 0, 0, 987654)
# Minutes from ISSUED to 2100-01-01T12:00:00.987654Z: exp = 4102488000.
FAR_MINUTES = (datetime(2100, 1, 1, 12, 0, 0, 987654) - ISSUED) // timedelta(minutes=1)
ISSUED_TS = 1704110400  # int(ISSUED), UTC
FAR_EXP = 4102488000  # 2100-01-01T12:00:00Z
FAR_NBF = 4102444800  # 2100-01-01T00:00:00Z
PAST_ISSUED = datetime(2020, 1, 1, 0, 0, 0, 250000)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_raw(header: dict, payload: bytes, secret: str = SECRET) -> str:
    """An HS256 token over exactly these payload bytes, for what `jwt.encode` will not write."""
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(payload)
    mac = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def raw(payload: bytes) -> str:
    """PyJWS signs raw payload bytes with the same header `jwt.encode` writes."""
    return jwt.api_jws.encode(payload, SECRET, algorithm="HS256")


def claims(**extra) -> dict:
    return {"exp": FAR_EXP, "iat": ISSUED_TS, "user_id": "1", **extra}


def fixtures() -> list[dict]:
    out = []

    def ok(name, token, user_id, exp, iat, note):
        out.append({"name": name, "token": token, "expect": "ok", "user_id": user_id,
                    "exp": exp, "iat": iat, "note": note})

    def bad(name, token, expect, error, note):
        out.append({"name": name, "token": token, "expect": expect, "error": error, "note": note})

    # --- Minted exactly as the Flask original does -------------------------------------------
    ok("flask_user_1", encode_token("1", SECRET, FAR_MINUTES, now=ISSUED), "1", FAR_EXP,
       ISSUED_TS, "str(user.id) for user 1, minted by the original's encode_token")
    ok("flask_user_uuid",
       encode_token("5f0c1c3e-8d5b-4a57-9b8e-2d1f4f6a7b90", SECRET, FAR_MINUTES, now=ISSUED),
       "5f0c1c3e-8d5b-4a57-9b8e-2d1f4f6a7b90", FAR_EXP, ISSUED_TS, "a UUID primary key")
    ok("flask_user_unicode", encode_token("zoë 用户 \"q\"", SECRET, FAR_MINUTES, now=ISSUED),
       "zoë 用户 \"q\"", FAR_EXP, ISSUED_TS,
       "PyJWT writes non-ASCII as \\u escapes (ensure_ascii) and escapes quotes")
    bad("flask_expired", encode_token("1", SECRET, 60, now=PAST_ISSUED), "expired", "Expired",
        "minted the Flask way in 2020 with a 60 minute lifetime")

    # --- The negative fixtures ------------------------------------------------------------------
    bad("other_secret", jwt.encode(claims(), OTHER_SECRET, algorithm="HS256"), "invalid",
        "BadSignature", "signed with another secret")
    bad("alg_hs512", jwt.encode(claims(), SECRET, algorithm="HS512"), "invalid", "WrongAlgorithm",
        "HS512 with the right secret: only HS256 is accepted")
    bad("alg_none", jwt.encode(claims(), None, algorithm="none"), "invalid", "WrongAlgorithm",
        "unsecured JWS (alg none, empty signature), as PyJWT writes it")
    bad("numeric_user_id", jwt.encode(claims(user_id=42), SECRET, algorithm="HS256"), "invalid",
        "InvalidClaim(user id)",
        "DIVERGES: PyJWT accepts and the original would call load_user(42); our crate refuses "
        "numeric user ids by design (the original always writes str(user.id))")
    bad("nbf_future", jwt.encode(claims(nbf=FAR_NBF), SECRET, algorithm="HS256"), "invalid",
        "NotYetValid", "nbf in 2100")
    bad("aud_set", jwt.encode(claims(aud="orders-api"), SECRET, algorithm="HS256"), "invalid",
        "InvalidAudience", "aud present while no audience is configured: both refuse")

    # --- Where PyJWT and our crate agree, on edges -----------------------------------------------
    ok("float_exp", jwt.encode(claims(exp=FAR_EXP + 0.75), SECRET, algorithm="HS256"), "1",
       FAR_EXP, ISSUED_TS, "a fractional exp: both truncate it to whole seconds")
    bad("huge_int_exp", jwt.encode(claims(exp=10**30), SECRET, algorithm="HS256"), "invalid",
        "InvalidClaim(exp)",
        "DIVERGES: an exp beyond u64: PyJWT takes the Python int; our crate refuses it, as "
        "jsonwebtoken (its reference) does, rather than read it as the far future")
    ok("extra_claims", jwt.encode(claims(jti="abc", fresh=True, roles=["admin"]), SECRET,
                                  algorithm="HS256"), "1", FAR_EXP, ISSUED_TS,
       "unknown claims are ignored by both")
    bad("iat_future", jwt.encode(claims(iat=FAR_NBF), SECRET, algorithm="HS256"), "invalid",
        "NotYetValid", "iat in 2100: PyJWT 2.x raises ImmatureSignatureError, our crate NotYetValid")
    bad("negative_exp", jwt.encode(claims(exp=-1), SECRET, algorithm="HS256"), "expired",
        "Expired", "exp before the epoch")
    bad("exp_nan", raw(b'{"exp":NaN,"iat":1704110400,"user_id":"1"}'), "invalid",
        "InvalidClaims", "NaN is not JSON: Python's json reads it, then PyJWT refuses int(nan)")
    bad("crit_header", sign_raw({"alg": "HS256", "typ": "JWT", "crit": ["exp"]},
                                json.dumps(claims()).encode()), "invalid",
        "UnsupportedCritical", "an unknown critical header extension")
    bad("payload_not_object", raw(b'["user_id","1"]'), "invalid", "InvalidClaims",
        "the claims are a JSON array")

    # --- Where they disagree (our crate is stricter unless the note says otherwise) -------------
    bad("no_exp", jwt.encode({"iat": ISSUED_TS, "user_id": "1"}, SECRET, algorithm="HS256"),
        "invalid", "MissingClaim(exp)",
        "DIVERGES: PyJWT does not require exp by default and accepts a token valid forever")
    bad("exp_numeric_string", jwt.encode(claims(exp=str(FAR_EXP)), SECRET, algorithm="HS256"),
        "invalid", "InvalidClaim(exp)",
        "DIVERGES: PyJWT validates int(payload['exp']), so the string \"4102488000\" passes")
    bad("exp_true", jwt.encode(claims(exp=True), SECRET, algorithm="HS256"), "invalid",
        "InvalidClaim(exp)",
        "DIVERGES in the message: PyJWT reads int(True) == 1 and answers 'Expired token'")
    bad("aud_empty_string", jwt.encode(claims(aud=""), SECRET, algorithm="HS256"), "invalid",
        "InvalidAudience",
        "DIVERGES: with no audience configured PyJWT ignores a falsy aud (\"\", [], null)")
    bad("aud_null", jwt.encode(claims(aud=None), SECRET, algorithm="HS256"), "invalid",
        "InvalidAudience", "DIVERGES: as aud_empty_string, with aud null")
    bad("expired_and_nbf_future", jwt.encode(claims(exp=1000, nbf=FAR_NBF), SECRET,
                                             algorithm="HS256"), "expired", "Expired",
        "DIVERGES in the message: PyJWT checks iat and nbf before exp (ImmatureSignatureError, "
        "'Invalid token'); our crate checks exp first ('Expired token')")
    bad("expired_and_iat_future", jwt.encode(claims(exp=1000, iat=FAR_NBF), SECRET,
                                             algorithm="HS256"), "expired", "Expired",
        "DIVERGES in the message: as expired_and_nbf_future, with a future iat")
    bad("duplicate_user_id", raw(b'{"exp":4102488000,"iat":1704110400,"user_id":"1","user_id":"2"}'),
        "invalid", "InvalidClaims",
        "DIVERGES: Python's json keeps the last duplicate (user 2); our crate refuses repeated claims")
    bad("empty_user_id", jwt.encode(claims(user_id=""), SECRET, algorithm="HS256"), "invalid",
        "InvalidClaim(user id)",
        "DIVERGES: PyJWT accepts; the original would then look up user \"\"")
    bad("control_char_user_id", jwt.encode(claims(user_id="1\n"), SECRET, algorithm="HS256"),
        "invalid", "InvalidClaim(user id)", "DIVERGES: PyJWT accepts a user id with a newline")
    bad("lone_surrogate_user_id", raw(b'{"exp":4102488000,"iat":1704110400,"user_id":"\\ud800"}'),
        "invalid", "InvalidClaims",
        "DIVERGES: Python's json accepts a lone UTF-16 surrogate; serde_json refuses it")
    bad("payload_utf8_bom", raw(b'\xef\xbb\xbf' + json.dumps(claims()).encode()), "invalid",
        "InvalidClaims", "DIVERGES: Python's json.loads(bytes) skips a UTF-8 BOM; serde_json does not")
    bad("kid_not_string", sign_raw({"alg": "HS256", "typ": "JWT", "kid": 1},
                                   json.dumps(claims()).encode()), "invalid", "Malformed",
        "RFC 7515 section 4.1.4: kid must be a string; PyJWT refuses it too")
    good = encode_token("1", SECRET, FAR_MINUTES, now=ISSUED)
    bad("signature_padded", good + "=", "invalid", "BadSignature",
        "DIVERGES: PyJWT 2.10+ accepts '=' padding on a segment (for AWS ALB); our crate takes "
        "only unpadded base64url (RFC 7515 section 2)")
    bad("too_large", jwt.encode(claims(pad="x" * 9000), SECRET, algorithm="HS256"), "invalid",
        "TooLarge", "DIVERGES: PyJWT has no size limit; our crate refuses tokens over 8 KiB")
    return out


def pyjwt_outcome(token: str) -> dict:
    got = decode_token(token, SECRET)
    rec = {"outcome": got["outcome"]}
    if got["outcome"] == "ok":
        rec["user_id"] = json_safe_user_id(got["payload"].get("user_id"))
    else:
        rec["error"] = got["error"]
    return rec


def main(argv: list[str]) -> int:
    if not jwt.__version__.startswith("2."):
        print(f"PyJWT 2.x is required, found {jwt.__version__}", file=sys.stderr)
        return 1
    out_path = Path(argv[1]) if len(argv) > 1 else (
        Path(__file__).resolve().parent.parent / "tests" / "data" / "pyjwt_tokens.json")
    fxs = fixtures()
    names = [f["name"] for f in fxs]
    assert len(names) == len(set(names)), "fixture names must be unique"
    for fx in fxs:
        fx["pyjwt"] = pyjwt_outcome(fx["token"])
    doc = {
        "generator": "scripts/pyjwt_fixtures.py",
        "pyjwt_version": jwt.__version__,
        "python_version": sys.version.split()[0],
        "algorithm": "HS256",
        "secret": SECRET,
        "fixtures": fxs,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    diverging = [f["name"] for f in fxs if f["pyjwt"]["outcome"] != f["expect"]]
    print(f"wrote {len(fxs)} fixtures to {out_path} (PyJWT {jwt.__version__}); "
          f"PyJWT answers differently on: {', '.join(diverging) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
