//! Token buckets for the ICMP errors a worker originates.
//!
//! RFC 4443 §2.4 (f): an IPv6 node MUST limit the rate of the ICMPv6 error
//! messages it originates (a token bucket is the example given); RFC 1812
//! §4.3.2.8 asks the same of an IPv4 router. A translator answers for a
//! whole subscriber population (refused mappings, hop limits, packets too
//! big), so without a limit one client could make it send an error per
//! packet. Each worker keeps its own buckets: no shared state.
//!
//! [`IcmpBudget`] keeps one bucket per direction (errors toward the
//! subscribers, toward the Internet) and class: Packet Too Big /
//! Fragmentation Needed (path MTU discovery, RFC 8201 / RFC 1191; rate
//! `translation.icmp_pmtu_errors_per_second`) apart from every other error
//! (`translation.icmp_errors_per_second`). UDP sprayed at closed pool
//! ports thus drains only the outside's unreachables, never the PMTU
//! errors nor the subscribers' Time Exceeded. Deviation: the limit is per
//! bucket, so a worker may send up to four times a rate in all.

use super::Side;
use crate::nat64::Millis;
use crate::xlat::ReplyReason;

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

/// The class of an ICMP error, each with its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpClass {
    /// Packet Too Big (ICMPv6) / Fragmentation Needed (ICMPv4): what path
    /// MTU discovery needs.
    Pmtu,
    /// Every other error: unreachables, Time Exceeded, Parameter Problem.
    Other,
}

impl IcmpClass {
    /// The class of an error the pipeline asks for.
    pub fn of(reason: ReplyReason) -> IcmpClass {
        match reason {
            ReplyReason::PacketTooBig => IcmpClass::Pmtu,
            ReplyReason::TimeExceeded
            | ReplyReason::ParameterProblem
            | ReplyReason::DestinationUnreachable => IcmpClass::Other,
        }
    }
}

/// A worker's ICMP error budget: a [`TokenBucket`] per direction (the side
/// the error leaves by) and [`IcmpClass`] (see the module docs).
#[derive(Debug, Clone)]
pub struct IcmpBudget {
    /// Indexed by `2 * side + class`.
    buckets: [TokenBucket; 4],
}

impl IcmpBudget {
    /// Full buckets: `other` errors a second per direction for
    /// [`IcmpClass::Other`], `pmtu` for [`IcmpClass::Pmtu`] (0: no limit).
    pub fn new(other: u32, pmtu: u32) -> IcmpBudget {
        IcmpBudget {
            buckets: [
                TokenBucket::new(pmtu),
                TokenBucket::new(other),
                TokenBucket::new(pmtu),
                TokenBucket::new(other),
            ],
        }
    }

    /// Whether an error of `class` may leave by `side` at `now`; takes a
    /// token of that bucket if so.
    pub fn allow(&mut self, side: Side, class: IcmpClass, now: Millis) -> bool {
        let s = match side {
            Side::Inside => 0,
            Side::Outside => 2,
        };
        let c = match class {
            IcmpClass::Pmtu => 0,
            IcmpClass::Other => 1,
        };
        self.buckets[s + c].allow(now)
    }
}

#[cfg(test)]
mod tests;
