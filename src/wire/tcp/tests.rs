use super::*;
use etherparse::{TcpHeader, TcpHeaderSlice, TcpOptionElement};

const SRC4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);

fn sample() -> (TcpHeader, Vec<u8>) {
    let mut h = TcpHeader::new(49152, 443, 0xDEAD_BEEF, 29200);
    h.acknowledgment_number = 0x0102_0304;
    h.syn = true;
    h.ack = true;
    h.psh = true;
    h.urg = true;
    h.ece = true;
    h.cwr = true;
    h.urgent_pointer = 3;
    h.set_options(&[
        TcpOptionElement::MaximumSegmentSize(1460),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ])
    .unwrap();
    let payload = b"hello, tcp";
    h.checksum = h
        .calc_checksum_ipv4_raw(SRC4.octets(), DST4.octets(), payload)
        .unwrap();
    let mut bytes = h.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    (h, bytes)
}

#[test]
fn rfc9293_3_1_every_field_matches_etherparse() {
    let (h, bytes) = sample();
    let p = TcpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.src_port(), h.source_port);
    assert_eq!(p.dst_port(), h.destination_port);
    assert_eq!(p.seq_number(), h.sequence_number);
    assert_eq!(p.ack_number(), h.acknowledgment_number);
    assert_eq!(p.header_len(), h.header_len());
    assert_eq!(p.header_len(), 28);
    assert_eq!(p.flags(), 0b1111_1010); // CWR ECE URG ACK PSH SYN
    assert_eq!(
        (p.fin(), p.syn(), p.rst(), p.psh(), p.ack(), p.urg()),
        (false, true, false, true, true, true)
    );
    assert_eq!(p.window_len(), h.window_size);
    assert_eq!(p.checksum(), h.checksum);
    assert_eq!(p.urgent_at(), h.urgent_pointer);
    assert_eq!(p.options(), h.options.as_slice());
    assert_eq!(p.payload(), b"hello, tcp");
    assert!(p.verify_checksum_v4(SRC4, DST4));
    assert!(!p.verify_checksum_v4(SRC4, Ipv4Addr::new(192, 0, 2, 81)));
}

#[test]
fn setters_then_etherparse_parses_back() {
    let (_, mut bytes) = sample();
    let src: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let dst: Ipv6Addr = "64:ff9b::c000:250".parse().unwrap();
    let mut p = TcpPacket::new_checked(&mut bytes[..]).unwrap();
    p.set_src_port(1);
    p.set_dst_port(2);
    p.set_seq_number(3);
    p.set_ack_number(4);
    p.set_flags(0);
    p.set_fin(true);
    p.set_rst(true);
    p.set_ack(true);
    p.set_ack(false);
    p.set_syn(false);
    p.set_psh(true);
    p.set_urg(false);
    p.set_window_len(5);
    p.set_urgent_at(0);
    p.options_mut()[0..4].copy_from_slice(&[1, 1, 1, 1]); // NOPs
    p.payload_mut()[0] = b'j';
    p.fill_checksum_v6(&src, &dst);
    assert!(p.verify_checksum_v6(&src, &dst));
    let (s, payload) = TcpHeader::from_slice(&bytes).unwrap();
    assert_eq!(
        (
            s.source_port,
            s.destination_port,
            s.sequence_number,
            s.acknowledgment_number
        ),
        (1, 2, 3, 4)
    );
    assert_eq!(
        (s.fin, s.syn, s.rst, s.psh, s.ack, s.urg, s.ece, s.cwr),
        (true, false, true, true, false, false, false, false)
    );
    assert_eq!((s.window_size, s.urgent_pointer), (5, 0));
    assert_eq!(&s.options.as_slice()[..4], &[1, 1, 1, 1]);
    assert_eq!(payload, b"jello, tcp");
    assert_eq!(
        s.checksum,
        s.calc_checksum_ipv6_raw(src.octets(), dst.octets(), payload)
            .unwrap()
    );

    let mut p = TcpPacket::new_checked(&mut bytes[..]).unwrap();
    p.fill_checksum_v4(SRC4, DST4);
    p.set_header_len(20);
    p.set_checksum(0x1234);
    let s = TcpHeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!((s.data_offset(), s.checksum()), (5, 0x1234));
}

#[test]
fn every_truncation_and_bad_offset_is_an_error() {
    let (_, bytes) = sample();
    for len in 0..28 {
        assert_eq!(
            TcpPacket::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    for len in 28..=bytes.len() {
        assert!(TcpPacket::new_checked(&bytes[..len]).is_ok());
    }
    for offset in 0..5u8 {
        let mut bad = bytes.clone();
        bad[12] = offset << 4;
        assert_eq!(TcpPacket::new_checked(&bad[..]), Err(Error::Malformed));
    }
    let mut bad = bytes.clone();
    bad[12] = 15 << 4; // 60-byte header in a 38-byte segment
    assert_eq!(TcpPacket::new_checked(&bad[..]), Err(Error::Truncated));
}
