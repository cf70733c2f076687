use super::*;
use proptest::prelude::*;

/// A valid IPv6 header whose payload is random, starting with an
/// extension header type, so the walk gets past the fixed header.
fn ipv6_with_random_chain() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![0u8, 43, 44, 60, 17, 59]),
        prop::collection::vec(any::<u8>(), 0..120),
        prop::collection::vec(prop::sample::select(vec![0u8, 43, 44, 60, 6]), 0..10),
    )
        .prop_map(|(first, mut tail, next_headers)| {
            // Sprinkle extension types into the bytes where next headers sit
            // if the lengths are small, making long chains likely.
            for (i, nh) in next_headers.into_iter().enumerate() {
                if let Some(b) = tail.get_mut(i * 8) {
                    *b = nh;
                }
                if let Some(b) = tail.get_mut(i * 8 + 1) {
                    *b %= 2;
                }
            }
            let mut bytes = vec![0x60, 0, 0, 0];
            bytes.extend_from_slice(&(tail.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&[first, 64]);
            bytes.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            bytes.extend_from_slice(&[0; 28]);
            bytes.extend_from_slice(&tail);
            bytes
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_any_view(data in prop::collection::vec(any::<u8>(), 0..96)) {
        crate::fuzzing::wire_views(&data);
    }

    #[test]
    fn arbitrary_extension_chains_never_panic(data in ipv6_with_random_chain()) {
        crate::fuzzing::wire_views(&data);
        for len in 0..data.len() {
            let _ = walk_ext_headers(&data[..len]);
        }
    }
}

#[test]
fn error_display() {
    assert_eq!(Error::Truncated.to_string(), "truncated packet");
    assert_eq!(Error::Malformed.to_string(), "malformed packet");
}
