//! A token bucket for the ICMP errors a worker originates.
//!
//! RFC 4443 §2.4 (f): an IPv6 node MUST limit the rate of the ICMPv6 error
//! messages it originates (a token bucket is the example given); RFC 1812
//! §4.3.2.8 asks the same of an IPv4 router. A translator answers for a
//! whole subscriber population (refused mappings, hop limits, packets too
//! big), so without a limit one client could make it send an error per
//! packet. Each worker keeps its own bucket: no shared state.

use crate::nat64::Millis;

/// The bucket's depth: most errors sent back to back after a quiet period
/// (as Linux's `icmp_msgs_burst`).
pub const BUCKET_DEPTH: u32 = 50;

/// `rate` tokens a second, at most `min(rate, BUCKET_DEPTH)` saved up; one
/// token per error.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens a second; 0: no limit.
    rate: u32,
    /// Saved tokens, in thousandths (a millisecond of `rate` is `rate`
    /// thousandths of a token).
    milli: u64,
    cap_milli: u64,
    last: Millis,
}

impl TokenBucket {
    /// A full bucket of `rate` tokens a second (0: unlimited), holding at
    /// most `min(rate, BUCKET_DEPTH)`.
    pub fn new(rate: u32) -> TokenBucket {
        let cap = u64::from(rate.clamp(1, BUCKET_DEPTH)) * 1000;
        TokenBucket {
            rate,
            milli: cap,
            cap_milli: cap,
            last: 0,
        }
    }

    /// Whether an error may go out at `now`; takes a token if so.
    pub fn allow(&mut self, now: Millis) -> bool {
        if self.rate == 0 {
            return true;
        }
        let dt = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.milli = (self.milli + dt.saturating_mul(u64::from(self.rate))).min(self.cap_milli);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
