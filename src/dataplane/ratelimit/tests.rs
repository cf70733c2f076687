use super::*;
use crate::xlat::ReplyReason;

fn sent(b: &mut TokenBucket, now: Millis, n: u32) -> u32 {
    (0..n).filter(|_| b.allow(now)).count() as u32
}

#[test]
fn rfc4443_2_4_f_burst_then_rate() {
    let mut b = TokenBucket::new(1000);
    // A full bucket lets a burst through, then nothing in the same ms.
    assert_eq!(sent(&mut b, 0, 80), BUCKET_DEPTH);
    // 1000 a second is one a millisecond.
    assert_eq!(sent(&mut b, 1, 10), 1);
    assert_eq!(sent(&mut b, 11, 100), 10);
    // Over one second of steady pressure: about the rate.
    let total: u32 = (12..1012).map(|t| sent(&mut b, t, 5)).sum();
    assert_eq!(total, 1000);
    // After a quiet second the burst is back, not more.
    assert_eq!(sent(&mut b, 5000, 500), BUCKET_DEPTH);
}

#[test]
fn slow_rates_accumulate_fractions() {
    // 10 a second: a token every 100 ms, a burst of at most 10.
    let mut b = TokenBucket::new(10);
    assert_eq!(sent(&mut b, 0, 100), 10);
    assert_eq!(sent(&mut b, 50, 10), 0);
    assert_eq!(sent(&mut b, 100, 10), 1);
    let total: u32 = (101..=1100).map(|t| sent(&mut b, t, 1)).sum();
    assert_eq!(total, 10);
}

#[test]
fn zero_is_unlimited_and_time_going_back_is_harmless() {
    let mut b = TokenBucket::new(0);
    assert_eq!(sent(&mut b, 0, 10_000), 10_000);
    let mut b = TokenBucket::new(1000);
    assert_eq!(sent(&mut b, 100, 100), BUCKET_DEPTH);
    // A clock that reads earlier (another worker's epoch) adds nothing.
    assert_eq!(sent(&mut b, 50, 10), 0);
}

/// Issue 15: a spray of packets at closed pool ports drains the budget of
/// unreachables (and other errors) toward the outside, yet a Packet Too Big
/// for a subscriber and a Fragmentation Needed toward the Internet still go
/// out, and a Time Exceeded for a subscriber too (its own direction).
#[test]
fn unreachable_spray_does_not_starve_packet_too_big() {
    let mut b = IcmpBudget::new(100, 100);
    let spray = (0..10_000)
        .filter(|_| {
            b.allow(
                Side::Outside,
                IcmpClass::of(ReplyReason::DestinationUnreachable),
                0,
            )
        })
        .count();
    assert_eq!(spray, 50, "the unreachables' bucket runs dry at its depth");
    assert!(!b.allow(Side::Outside, IcmpClass::Other, 0));
    // Packet Too Big to a subscriber, Fragmentation Needed to the Internet.
    assert!(b.allow(Side::Inside, IcmpClass::of(ReplyReason::PacketTooBig), 0));
    assert!(b.allow(Side::Outside, IcmpClass::of(ReplyReason::PacketTooBig), 0));
    // A Time Exceeded toward the subscribers has its own bucket too.
    assert!(b.allow(Side::Inside, IcmpClass::of(ReplyReason::TimeExceeded), 0));
    // A PTB spray does not starve the other class either.
    let mut b = IcmpBudget::new(100, 10);
    assert_eq!(
        (0..1000)
            .filter(|_| b.allow(Side::Inside, IcmpClass::Pmtu, 0))
            .count(),
        10
    );
    assert!(b.allow(Side::Inside, IcmpClass::Other, 0));
    // 0 is unlimited, per class.
    let mut b = IcmpBudget::new(0, 5);
    assert_eq!(
        (0..1000)
            .filter(|_| b.allow(Side::Outside, IcmpClass::Other, 0))
            .count(),
        1000
    );
    assert_eq!(
        (0..1000)
            .filter(|_| b.allow(Side::Outside, IcmpClass::Pmtu, 0))
            .count(),
        5
    );
}
