//! HMAC-SHA-256 (RFC 2104, FIPS 198-1) on the SHA-256 compression function of the `sha2` crate.
//!
//! The key is absorbed once: a key holds only the two SHA-256 states after the inner and the outer
//! padded key block (64 bytes in all, never the secret itself). Per message, the whole 64-byte
//! blocks of the signing input are compressed where they lie, without a copy into a block buffer;
//! only the padded tail and the outer block are built. That is all the work HMAC needs, in a few
//! hundred bytes of code, which matters when it runs once per request between the other code of
//! a server. `tests` below hold it to RFC 4231's vectors and to the `hmac` crate on arbitrary keys
//! and messages.

use sha2::block_api::compress256;

/// SHA-256's initial hash value (FIPS 180-4 section 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
const BLOCK: usize = 64;
pub(crate) const MAC_LEN: usize = 32;

/// An HMAC-SHA-256 key, prepared.
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    pub(crate) fn new(secret: &[u8]) -> Self {
        // RFC 2104 section 2: a key longer than the block is hashed first.
        let mut key = [0u8; BLOCK];
        if secret.len() > BLOCK {
            key[..MAC_LEN].copy_from_slice(&finish(IV, 0, secret));
        } else {
            key[..secret.len()].copy_from_slice(secret);
        }
        let absorb = |pad: u8| {
            let block = key.map(|k| k ^ pad);
            let mut state = IV;
            compress256(&mut state, &[block]);
            state
        };
        Self {
            inner: absorb(0x36),
            outer: absorb(0x5c),
        }
    }

    /// The MAC of `message`.
    pub(crate) fn mac(&self, message: &[u8]) -> [u8; MAC_LEN] {
        let inner = finish(self.inner, BLOCK, message);
        finish(self.outer, BLOCK, &inner)
    }
}

/// SHA-256 carried on from `state`, which has absorbed `absorbed` bytes (whole blocks), over
/// `message` to the end: the digest.
fn finish(mut state: [u32; 8], absorbed: usize, message: &[u8]) -> [u8; MAC_LEN] {
    let (blocks, rest) = message.as_chunks::<BLOCK>();
    compress256(&mut state, blocks);
    // FIPS 180-4 section 5.1.1: 0x80, zeros, then the length in bits, in one or two blocks.
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < BLOCK - 8 {
        BLOCK
    } else {
        2 * BLOCK
    };
    let bits = (absorbed as u64 + message.len() as u64) * 8;
    tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    compress256(&mut state, tail[..end].as_chunks::<BLOCK>().0);
    let mut digest = [0u8; MAC_LEN];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::HmacKey;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // RFC 4231 section 4: the HMAC-SHA-256 test cases (case 5, a truncated MAC, does not apply).
    #[test]
    fn rfc4231_section_4_test_vectors() {
        let cases: [(Vec<u8>, &[u8], &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                &[0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                &[0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the HMAC \
                  algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&HmacKey::new(&key).mac(data)), want);
        }
    }

    mod properties {
        use hmac::{Hmac, KeyInit, Mac};
        use proptest::prelude::*;
        use sha2::Sha256;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// The same MAC as the `hmac` crate, for keys and messages around every block edge.
            #[test]
            fn agrees_with_the_hmac_crate(
                key in proptest::collection::vec(any::<u8>(), 0..200),
                message in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let mut reference = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                reference.update(&message);
                let want: [u8; 32] = reference.finalize().into_bytes().into();
                prop_assert_eq!(super::super::HmacKey::new(&key).mac(&message), want);
            }
        }
    }
}
