use super::*;

#[test]
fn prepend_adj_respect_bounds() {
    let mut mem = [0u8; 64];
    let mut b = PacketBuf::new(&mut mem, 20, 30).unwrap();
    assert!(b.prepend(20));
    assert_eq!(b.headroom(), 0);
    assert!(!b.prepend(1));
    assert!(b.adj(40));
    assert!(!b.adj(11));
    assert_eq!(b.len(), 10);
    assert!(b.append(14));
    assert!(!b.append(1));
    b.truncate(4);
    assert_eq!(b.len(), 4);
    assert!(PacketBuf::new(&mut mem, 60, 5).is_none());
}
