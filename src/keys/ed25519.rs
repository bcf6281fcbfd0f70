//! EdDSA on Ed25519 (RFC 8032, RFC 8037): the public keys a verifier accepts and the signature
//! check, with `verify_strict`'s verdicts.

/// An Ed25519 public key that is the canonical encoding of its point and not of small order:
/// the only kind a [`super::VerifyingKey`] holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// RFC 8032 section 5.1.3: the key is the canonical encoding of its point (y below p, no
    /// sign bit on x = 0), which `ed25519_dalek` decodes without checking; and it is not of small
    /// order, for which `verify_strict` would refuse every signature (RFC 8032 section 5.1.7).
    pub(crate) fn new(key: ed25519_dalek::VerifyingKey) -> Result<Self, &'static str> {
        if key.to_edwards().compress().as_bytes() != key.as_bytes() {
            return Err(
                "an Ed25519 public key that is not canonically encoded (RFC 8032 section 5.1.3)",
            );
        }
        if key.is_weak() {
            return Err("an Ed25519 public key of small order");
        }
        Ok(Self(key))
    }

    /// The key's 32 bytes, as a JWK's `x` carries them.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// `signature` (64 bytes, `R || S`) is this key's over `message`, by `verify_strict`'s rules:
    /// RFC 8032 section 5.1.7's equation without the cofactor, `S` below the group order, and
    /// neither `R` nor the key of small order.
    ///
    /// `verify_strict` decompresses `R` to test its order, and tests the key's on every call:
    /// 1.18x the cost of `verify` (median, `benches/keys.rs`, `verify_strict_eddsa` against
    /// `verify_eddsa`), about 6 µs a token on the bench machine. Here the key was tested when
    /// loaded ([`Self::new`]), and `verify` compares `R`'s bytes with the canonical encoding of
    /// the point it computes, so an `R` it accepts is canonical: of small order exactly when it
    /// is one of the eight encodings of the small-order points, which libsodium refuses the same
    /// way. `verdicts_are_verify_strict_verdicts` below holds the two to the same answers.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        <&[u8; 64]>::try_from(signature).is_ok_and(|signature| {
            let signature = ed25519_dalek::Signature::from_bytes(signature);
            signature::Verifier::verify(&self.0, message, &signature).is_ok()
                && !small_order_encodings().contains(signature.r_bytes())
        })
    }
}

/// The canonical encodings of the eight points of small order (the 8-torsion subgroup), made
/// once from `curve25519_dalek`'s own table of them.
fn small_order_encodings() -> &'static [[u8; 32]; 8] {
    static ENCODINGS: std::sync::LazyLock<[[u8; 32]; 8]> = std::sync::LazyLock::new(|| {
        curve25519_dalek::constants::EIGHT_TORSION.map(|point| point.compress().to_bytes())
    });
    &ENCODINGS
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_TABLE, EIGHT_TORSION};
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use rand::{RngExt as _, SeedableRng as _};
    use sha2::{Digest as _, Sha512};

    use super::PublicKey;

    /// RFC 8032 section 5.1.7's challenge: SHA-512(R || A || M) reduced modulo the group order.
    fn challenge(r: &[u8; 32], key: &[u8; 32], message: &[u8]) -> Scalar {
        let digest = Sha512::new()
            .chain_update(r)
            .chain_update(key)
            .chain_update(message)
            .finalize();
        Scalar::from_bytes_mod_order_wide(&digest.into())
    }

    /// A key of mixed order, `[a]B + T` with `T` of order 8: not of small order, so a verifier
    /// takes it; and a signature under it whose `R` is of small order, which `verify` (the
    /// cofactorless equation alone) accepts and `verify_strict` refuses ("Taming the many
    /// EdDSAs", Chalkias et al. 2020, table 6 vector 4's construction).
    fn mixed_order_key_and_small_order_r() -> (ed25519_dalek::VerifyingKey, Vec<u8>, [u8; 64]) {
        let a = Scalar::from_bytes_mod_order([7; 32]);
        let key = (&a * ED25519_BASEPOINT_TABLE + EIGHT_TORSION[1]).compress();
        // [S]B = R + [k]A holds with S = k·a when R = -[k]T: try messages until the challenge
        // k, which hashes R, meets that (one in eight does).
        for n in 0u32.. {
            let message = format!("message {n}").into_bytes();
            for r in EIGHT_TORSION.iter().map(EdwardsPoint::compress) {
                let k = challenge(r.as_bytes(), key.as_bytes(), &message);
                if (-(k * EIGHT_TORSION[1])).compress() == r {
                    let mut signature = [0; 64];
                    signature[..32].copy_from_slice(r.as_bytes());
                    signature[32..].copy_from_slice((k * a).as_bytes());
                    let key = ed25519_dalek::VerifyingKey::from_bytes(key.as_bytes()).unwrap();
                    return (key, message, signature);
                }
            }
        }
        unreachable!()
    }

    #[test]
    fn small_order_r_is_refused_under_a_mixed_order_key_rfc8032_section5_1_7() {
        let (key, message, signature) = mixed_order_key_and_small_order_r();
        // The premise: the key is taken, and the cofactorless equation holds.
        let dalek_signature = ed25519_dalek::Signature::from_bytes(&signature);
        assert!(
            signature::Verifier::verify(&key, &message, &dalek_signature).is_ok(),
            "verify accepts it"
        );
        assert!(key.verify_strict(&message, &dalek_signature).is_err());
        let ours = PublicKey::new(key).expect("a mixed-order key is not of small order");
        assert!(!ours.verify(&message, &signature));
    }

    /// Our verdict is `verify_strict`'s, over a real key's signature with random bits of `R` and
    /// `S` flipped, `R` replaced by each small-order point, and the mixed-order key's signature.
    #[test]
    fn verdicts_are_verify_strict_verdicts() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let message = b"eyJhbGciOiJFZERTQSJ9.eyJ1c2VyX2lkIjoiNDIifQ".to_vec();
        let good = signature::Signer::sign(&signing, &message).to_bytes();
        let (mixed, mixed_message, mixed_signature) = mixed_order_key_and_small_order_r();
        let mut cases = vec![
            (signing.verifying_key(), message.clone(), good),
            (mixed, mixed_message, mixed_signature),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(23);
        for _ in 0..500 {
            let mut signature = good;
            let bit = rng.random_range(0..512);
            signature[bit / 8] ^= 1 << (bit % 8);
            cases.push((signing.verifying_key(), message.clone(), signature));
        }
        for r in EIGHT_TORSION.iter().map(EdwardsPoint::compress) {
            let mut signature = good;
            signature[..32].copy_from_slice(r.as_bytes());
            cases.push((signing.verifying_key(), message.clone(), signature));
        }
        let mut accepted = 0;
        for (key, message, signature) in &cases {
            let strict = key
                .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok();
            let ours = PublicKey::new(*key).unwrap().verify(message, signature);
            assert_eq!(ours, strict, "{signature:02x?}");
            accepted += usize::from(ours);
        }
        assert_eq!(accepted, 1, "only the untouched signature verifies");
    }
}
