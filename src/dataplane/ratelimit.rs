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
mod tests;
