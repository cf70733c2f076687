use super::*;
use etherparse::{IpNumber, TcpHeader, UdpHeader};
use proptest::prelude::*;

#[test]
#[rustfmt::skip]
fn rfc1071_3_numerical_example() {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 2ddf0, folded ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(fold(sum(&data)), 0xddf2);
    assert_eq!(checksum(&data), !0xddf2);
    // Byte order independence (§2.B): sums of swapped pairs are swapped.
    let swapped = [0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6];
    assert_eq!(fold(sum(&swapped)), 0xf2dd);
}

#[test]
fn rfc1071_odd_length_pads_with_zero() {
    assert_eq!(sum(&[0xAB]), 0xAB00);
    assert_eq!(sum(&[0x12, 0x34, 0xAB]), 0x1234 + 0xAB00);
    assert_eq!(sum(&[]), 0);
    assert_eq!(checksum(&[]), 0xFFFF);
}

#[test]
fn sum_of_large_buffer_does_not_overflow() {
    let data = vec![0xFFu8; 1 << 20];
    assert_eq!(fold(sum(&data)), 0xFFFF);
    let data = vec![0x01u8; 131_073];
    // 65536 words of 0x0101 plus a padded 0x0100.
    let expect = fold(65_536 * 0x0101 + 0x0100);
    assert_eq!(fold(sum(&data)), expect);
}

#[test]
fn rfc1624_4_example_eqn3_gives_zero() {
    // RFC 1624 §4: HC = 0xdd2f, m = 0x5555, m' = 0x3285; eqn. 3 yields 0x0000.
    assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

#[test]
fn pseudo_v4_matches_etherparse_udp() {
    let src = Ipv4Addr::new(192, 0, 2, 1);
    let dst = Ipv4Addr::new(198, 51, 100, 7);
    let payload = b"odd-length payload!";
    let header = UdpHeader {
        source_port: 5353,
        destination_port: 53,
        length: 8 + payload.len() as u16,
        checksum: 0,
    };
    let expect = header
        .calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
        .unwrap();
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(payload);
    let acc = pseudo_v4(src, dst, 17, datagram.len() as u32) + sum(&datagram);
    assert_eq!(finish(acc), expect);
}

#[test]
fn pseudo_v6_matches_etherparse_tcp() {
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "64:ff9b::c000:201".parse().unwrap();
    let payload = b"GET / HTTP/1.1\r\n";
    let mut header = TcpHeader::new(40000, 80, 0x0102_0304, 65535);
    header.ack = true;
    header.acknowledgment_number = 99;
    let expect = header
        .calc_checksum_ipv6_raw(src.octets(), dst.octets(), payload)
        .unwrap();
    let mut segment = header.to_bytes().to_vec();
    segment.extend_from_slice(payload);
    let acc = pseudo_v6(&src, &dst, IpNumber::TCP.0, segment.len() as u32) + sum(&segment);
    assert_eq!(finish(acc), expect);
}

proptest! {
    /// The 32-bit parallel summation equals the plain RFC 1071 sum of
    /// 16-bit words, bit for bit (folded), for any length and content.
    #[test]
    fn rfc1071_2_parallel_sum_equals_16bit_sum(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut acc: u32 = 0;
        for (i, b) in data.iter().enumerate() {
            acc += if i % 2 == 0 { u32::from(*b) << 8 } else { u32::from(*b) };
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        prop_assert_eq!(fold(sum(&data)), fold(acc));
    }

    /// The word-wise address sums equal `sum` over the octets.
    #[test]
    fn address_sums_equal_sum_of_octets(a6 in any::<[u8; 16]>(), a4 in any::<[u8; 4]>()) {
        prop_assert_eq!(sum_ipv6_addr(&Ipv6Addr::from(a6)), sum(&a6));
        prop_assert_eq!(sum_ipv4_addr(Ipv4Addr::from(a4)), sum(&a4));
    }

    /// `sum_fixed` equals `sum` for every length class (0 to 7 bytes
    /// after the last 64-bit word), and where words carry out (all
    /// ones).
    #[test]
    fn sum_fixed_equals_sum(
        a in any::<[u8; 20]>(), b in any::<[u8; 13]>(), c in any::<[u8; 6]>(), d in any::<[u8; 7]>(),
        e in any::<[u8; 32]>(), f in any::<[u8; 1]>(), g in any::<[u8; 15]>(), h in any::<[u8; 40]>(),
        ones in 1usize..48,
    ) {
        prop_assert_eq!(sum_fixed(&a), sum(&a));
        prop_assert_eq!(sum_fixed(&b), sum(&b));
        prop_assert_eq!(sum_fixed(&c), sum(&c));
        prop_assert_eq!(sum_fixed(&d), sum(&d));
        prop_assert_eq!(sum_fixed(&e), sum(&e));
        prop_assert_eq!(sum_fixed(&f), sum(&f));
        prop_assert_eq!(sum_fixed(&g), sum(&g));
        prop_assert_eq!(sum_fixed(&h), sum(&h));
        prop_assert_eq!(sum_fixed(&[]), sum(&[]));
        let mut m = [0xFFu8; 48];
        m[ones..].fill(0);
        prop_assert_eq!(sum_fixed(&m), sum(&m));
    }

    /// The branch-free fold equals folding until no carry is left.
    #[test]
    fn rfc1071_fold_equals_repeated_end_around_carry(x in any::<u32>()) {
        let mut y = x;
        while y > 0xFFFF {
            y = (y & 0xFFFF) + (y >> 16);
        }
        prop_assert_eq!(u32::from(fold(x)), y);
    }

    /// The same for fold64, over any 64-bit sum.
    #[test]
    fn rfc1071_fold64_equals_repeated_end_around_carry(x in any::<u64>()) {
        let mut y = x;
        while y > 0xFFFF {
            y = (y & 0xFFFF) + (y >> 16);
        }
        prop_assert_eq!(u64::from(fold64(x)), y);
    }

    #[test]
    fn rfc1624_update16_agrees_with_recompute(
        mut data in proptest::collection::vec(any::<u8>(), 2..64),
        index in any::<prop::sample::Index>(),
        new in any::<u16>(),
    ) {
        if data.len() % 2 == 1 { data.pop(); }
        let at = index.index(data.len() / 2) * 2;
        let csum = checksum(&data);
        let old = u16::from_be_bytes([data[at], data[at + 1]]);
        data[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let updated = update16(csum, old, new);
        prop_assert_eq!(updated, checksum(&data));
        prop_assert_eq!(fold(sum(&data) + u32::from(updated)), 0xFFFF);
    }

    #[test]
    fn rfc1624_update_swaps_v6_for_v4_pseudo_header(
        src6 in any::<[u8; 16]>(), dst6 in any::<[u8; 16]>(),
        src4 in any::<[u8; 4]>(), dst4 in any::<[u8; 4]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let (src6, dst6) = (Ipv6Addr::from(src6), Ipv6Addr::from(dst6));
        let (src4, dst4) = (Ipv4Addr::from(src4), Ipv4Addr::from(dst4));
        let len = payload.len() as u32;
        let old_pseudo = pseudo_v6(&src6, &dst6, 17, len);
        let new_pseudo = pseudo_v4(src4, dst4, 17, len);
        let csum6 = finish(old_pseudo + sum(&payload));
        let updated = update(csum6, old_pseudo, new_pseudo);
        // The result must verify against the new pseudo-header.
        prop_assert_eq!(fold(new_pseudo + sum(&payload) + u32::from(updated)), 0xFFFF);
        prop_assert_eq!(updated, finish(new_pseudo + sum(&payload)));
    }

    #[test]
    fn sum_is_additive_over_even_splits(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        split in any::<prop::sample::Index>(),
    ) {
        let at = split.index(data.len() + 1) & !1;
        let whole = fold(sum(&data));
        let parts = fold(sum(&data[..at]) + sum(&data[at..]));
        prop_assert_eq!(whole, parts);
    }
}
