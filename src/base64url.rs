//! Strict unpadded base64url (RFC 7515 section 2, RFC 4648 section 5), both ways.
//!
//! Decoding accepts exactly what the base64 crate's `URL_SAFE_NO_PAD` engine accepts: the
//! alphabet `A-Z a-z 0-9 - _`, no padding, no whitespace, no length of the form `4n + 1`, and
//! zero trailing bits (so every byte string has one encoding only). `tests/properties.rs` holds
//! the two to the same answers on arbitrary input. Written here, with one table and no branches
//! per character, because the claims of every request go through it.

/// `DECODE[b]` is the 6-bit value of the character `b`, or `INVALID`.
const INVALID: u8 = 0xff;
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The length of the encoding of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + [0, 2, 3][n % 3]
}

/// The most bytes `n` characters can decode to.
pub(crate) const fn decoded_len_max(n: usize) -> usize {
    n / 4 * 3 + [0, 0, 1, 2][n % 4]
}

/// Appends the encoding of `input` to `out`.
pub(crate) fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(input.len()));
    let char_at = |v: u32| ALPHABET[(v & 63) as usize];
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let v = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[
            char_at(v >> 18),
            char_at(v >> 12),
            char_at(v >> 6),
            char_at(v),
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.extend_from_slice(&[char_at(v >> 18), char_at(v >> 12)]);
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[char_at(v >> 18), char_at(v >> 12), char_at(v >> 6)]);
        }
        _ => {}
    }
}

/// The encoding of `input`.
pub(crate) fn encode(input: &[u8]) -> String {
    let mut out = Vec::new();
    encode_into(input, &mut out);
    String::from_utf8(out).expect("the base64url alphabet is ASCII")
}

/// Decodes `input` into the front of `out`, returning the decoded length; `None` if `input` is
/// not strict base64url or `out` is shorter than [`decoded_len_max`] of it.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if input.len() % 4 == 1 || out.len() < decoded_len_max(input.len()) {
        return None;
    }
    // Invalid characters are remembered, not branched on: `bad` collects their high bits.
    let mut bad = 0u8;
    let mut read = 0;
    let mut written = 0;
    // Eight characters make six bytes, stored as eight while `out` has room for the two extra
    // (overwritten by the next store, or past the decoded length).
    while let (Some(chars), Some(dst)) = (
        input
            .get(read..read + 8)
            .and_then(|c| <&[u8; 8]>::try_from(c).ok()),
        out.get_mut(written..written + 8),
    ) {
        let mut v = 0u64;
        for &c in chars {
            let sextet = DECODE[usize::from(c)];
            bad |= sextet;
            v = v << 6 | u64::from(sextet);
        }
        dst.copy_from_slice(&(v << 16).to_be_bytes());
        read += 8;
        written += 6;
    }
    // The rest, up to eleven characters: four at a time, then the last two or three.
    for chars in input[read..].chunks(4) {
        let mut v = 0u32;
        for (i, &c) in chars.iter().enumerate() {
            let sextet = DECODE[usize::from(c)];
            bad |= sextet;
            v |= u32::from(sextet) << (18 - 6 * i);
        }
        let n = chars.len() - 1;
        out[written..written + n].copy_from_slice(&v.to_be_bytes()[1..=n]);
        written += n;
        // Canonical: the bits past the last whole byte are zero.
        if v & (0x00ff_ffff >> (8 * n)) != 0 {
            return None;
        }
    }
    (bad & 0xc0 == 0).then_some(written)
}

/// Decodes `input` into a new vector (for inputs too large for a stack buffer).
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len_max(input.len())];
    let n = decode_into(input, &mut out)?;
    out.truncate(n);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 section 10, in the URL-safe alphabet and without padding.
    #[test]
    fn rfc4648_section_10_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, encoded) in vectors {
            assert_eq!(encode(raw), encoded);
            assert_eq!(decode(encoded.as_bytes()).as_deref(), Some(raw));
        }
    }

    // RFC 7515 section 2: base64url, so `-` and `_`, never `+` or `/`, and no padding.
    #[test]
    fn rfc7515_section_2_url_safe_alphabet_without_padding() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode(b"-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        for bad in [
            "+_8", "-/8", "Zg==", "Zg=", "Zm 9v", "Z", "Zm9vY", "Zh", "Zm9",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_short_output_buffer_is_refused_not_overrun() {
        assert_eq!(decode_into(b"Zm9vYmFy", &mut [0; 5]), None);
        assert_eq!(decode_into(b"Zm9vYmFy", &mut [0; 6]), Some(6));
    }
}

#[cfg(test)]
mod properties {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    /// Characters of the alphabet, and the ones a sloppy encoder writes instead.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                8 => proptest::sample::select(super::ALPHABET.to_vec()),
                1 => proptest::sample::select(b"=+/. \n\0\xff".to_vec()),
            ],
            0..48,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The same strict decoding as the base64 crate's `URL_SAFE_NO_PAD`.
        #[test]
        fn decodes_exactly_what_the_base64_crate_decodes(input in text()) {
            prop_assert_eq!(super::decode(&input), URL_SAFE_NO_PAD.decode(&input).ok());
        }

        #[test]
        fn encodes_as_the_base64_crate_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = super::encode(&bytes);
            prop_assert_eq!(&encoded, &URL_SAFE_NO_PAD.encode(&bytes));
            prop_assert_eq!(encoded.len(), super::encoded_len(bytes.len()));
            prop_assert_eq!(super::decode(encoded.as_bytes()), Some(bytes));
        }
    }
}
