//! What makes two usernames one name: their Unicode TR39 confusable skeleton (the
//! `unicode-security` crate). `аda` with a Cyrillic а, `bοb` with a Greek ο, `ada_1ook` with a
//! digit one, all have the skeleton of the name they imitate.

/// The TR39 skeleton of `form` (a username in its RFC 8265 form): look-alikes have the same one.
/// Stored with each user under a unique index, so that a look-alike of a taken name is taken,
/// and the key under which the throttle counts a name's failed logins, so that look-alikes count
/// as one. Case stays apart: `Ada` and `ada` are two names, as RFC 8265's profile keeps them.
pub fn skeleton(form: &str) -> String {
    unicode_security::skeleton(form).collect()
}
