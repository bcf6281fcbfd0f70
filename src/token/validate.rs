//! The rules a token's claims must meet besides its MAC (RFC 7519 section 4.1), and the
//! verified `Claims` they become.

use std::borrow::Cow;

use super::parse::{Date, RawClaims, Value};
use super::{Claims, TokenKind, UserId};
use crate::error::TokenError;

/// What a token must satisfy besides its MAC.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) leeway: u64,
    /// The longest lifetime of the tokens of a pair (access or refresh), whole seconds: how long
    /// a session's or a user's revocation must be kept.
    pub(crate) longest_ttl: u64,
    pub(crate) user_id_claim: Cow<'static, str>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            leeway: 0,
            longest_ttl: 0,
            user_id_claim: Cow::Borrowed("user_id"),
            issuer: None,
            audience: None,
        }
    }
}

impl RawClaims<'_> {
    pub(super) fn validate(self, rules: &Rules, now: u64) -> Result<Claims, TokenError> {
        let leeway = rules.leeway;
        // RFC 7519 section 4.1.4: the current time must be before `exp` (PyJWT: exp <= now - leeway
        // is expired). From `refused_from` on, the token is refused by this check alone.
        let (exp, refused_from) = match &self.exp {
            Some(v) => match v.date("exp")? {
                Date::Secs(exp) if exp.saturating_add(leeway) > now => {
                    (exp, exp.saturating_add(leeway))
                }
                _ => return Err(TokenError::Expired),
            },
            // `exp` is optional in RFC 7519, but a token without it would be valid forever:
            // always refused.
            None => return Err(TokenError::MissingClaim("exp")),
        };
        // RFC 7519 section 4.1.5: not before `nbf`; an `iat` in the future is refused the same way,
        // as PyJWT does.
        let nbf = future_date(self.nbf.as_ref(), "nbf", now, leeway)?;
        let iat = future_date(self.iat.as_ref(), "iat", now, leeway)?;

        if let Some(want) = &rules.issuer {
            match &self.iss {
                Some(Value::Str(iss)) if iss == want => {}
                Some(Value::Str(_)) => return Err(TokenError::InvalidIssuer),
                Some(_) => return Err(TokenError::InvalidClaim("iss")),
                None => return Err(TokenError::MissingClaim("iss")),
            }
        }
        match (&rules.audience, &self.aud) {
            (None, None) => {}
            (None, Some(_)) => return Err(TokenError::InvalidAudience),
            (Some(_), None) => return Err(TokenError::MissingClaim("aud")),
            (Some(want), Some(Value::Str(aud))) if aud == want => {}
            (Some(want), Some(Value::Strs(auds))) if auds.iter().any(|a| a == want) => {}
            (Some(_), Some(Value::Str(_) | Value::Strs(_))) => {
                return Err(TokenError::InvalidAudience);
            }
            (Some(_), Some(_)) => return Err(TokenError::InvalidClaim("aud")),
        }

        let kind = match self.kind.as_ref() {
            None => TokenKind::Access,
            Some(Value::Str(k)) if k == "access" => TokenKind::Access,
            Some(Value::Str(k)) if k == "refresh" => TokenKind::Refresh,
            Some(_) => return Err(TokenError::InvalidClaim("type")),
        };
        let jti = match self.jti {
            None => None,
            Some(Value::Str(jti)) if !jti.is_empty() => Some(UserId::new(&jti)),
            Some(_) => return Err(TokenError::InvalidClaim("jti")),
        };
        let sid = match self.sid {
            None => None,
            Some(Value::Str(sid)) if !sid.is_empty() => Some(UserId::new(&sid)),
            Some(_) => return Err(TokenError::InvalidClaim("sid")),
        };
        let user_id = match self.user_id {
            Some(Value::Str(id)) if valid_user_id(&id) => UserId::new(&id),
            Some(_) => return Err(TokenError::InvalidClaim("user id")),
            None => return Err(TokenError::MissingClaim("user id")),
        };
        Ok(Claims {
            user_id,
            exp,
            iat,
            nbf,
            jti,
            sid,
            kind,
            refused_from,
            all_refused_from: now.saturating_add(rules.longest_ttl).saturating_add(leeway),
            verified_at: now,
            raw: None,
            noted: self.noted,
            location: None,
        })
    }
}

/// Whole seconds, rounded up: JWT times are whole seconds (RFC 7519 section 2), and a lifetime or
/// leeway rounded down would issue tokens that expire early (500 ms: already expired).
pub(crate) fn whole_secs(d: std::time::Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// A user id is a non-empty string without control characters. Numbers are refused: the Flask
/// original always writes `str(user.id)`, and `1`, `1.0` and `"1"` must not name one user.
pub(crate) fn valid_user_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(char::is_control)
}

fn future_date(
    value: Option<&Value<'_>>,
    claim: &'static str,
    now: u64,
    leeway: u64,
) -> Result<Option<u64>, TokenError> {
    match value {
        None => Ok(None),
        Some(v) => match v.date(claim)? {
            Date::BeforeEpoch => Ok(Some(0)),
            Date::Secs(t) if t > now.saturating_add(leeway) => Err(TokenError::NotYetValid),
            Date::Secs(t) => Ok(Some(t)),
        },
    }
}
