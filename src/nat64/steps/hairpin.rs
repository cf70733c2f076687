//! RFC 6146 §3.8, hairpinning: "If the destination IPv4 address is one of
//! the NAT64's pool addresses, the packet is treated as an incoming IPv4
//! packet": an IPv6 packet for one of our own pool addresses is translated
//! to IPv4, then goes through §3.4-§3.7 again, IPv4 -> IPv6, and out of the
//! inside port. And its last paragraph: an IPv6 packet whose source is
//! under the prefix came from our own IPv4 side, a loop, and is dropped.
//!
//! Promises: [`Worker::hairpins`] and [`Worker::is_hairpin_loop`] are the
//! one definition of both checks, for the general path and the shortcuts.
//! The IPv4 half of a hairpin on another worker's pool port is handed off
//! as IPv4; one that would be answered with an ICMP error is dropped
//! (`HairpinUnanswerable`): the error could not go back through the
//! hairpin.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use super::Step;
use crate::nat64::counters::Nat64Drop;
use crate::nat64::pipeline::{Action, Worker};
use crate::nat64::Millis;
use crate::wire::Ipv4Packet;
use crate::xlat::PacketBuf;

impl Worker {
    /// §3.8: whether an IPv6 packet to `y4` (its destination mapped to
    /// IPv4) is hairpinned: `y4` is one of the pool addresses.
    #[inline(always)]
    pub(in crate::nat64) fn hairpins(&self, y4: Ipv4Addr) -> bool {
        self.layout.contains(y4)
    }

    /// §3.8 (last paragraph): whether an IPv6 packet from `src` is a
    /// hairpinning loop: its source is under the prefix.
    #[inline(always)]
    pub(in crate::nat64) fn is_hairpin_loop(&self, src: &Ipv6Addr) -> bool {
        self.under_prefix(src)
    }

    /// §3.8 for an IPv6 packet to `y4` (its destination mapped to IPv4)
    /// that §3.7 translated with `action`: unchanged unless it is
    /// forwarded to a pool address; then the IPv4 packet in `buf` goes
    /// through `process_4to6`, whose outcome is the packet's.
    ///
    /// The packet crosses one router, the NAT64, so its hop limit is
    /// decremented once (RFC 6146 §3.8 treats it as one incoming IPv4
    /// packet; RFC 1812 §5.3.1 decrements once per forwarding): the TTL
    /// §3.7 decremented is given back before the IPv4 half decrements it
    /// again (§3.7 refused a hop limit of 1, so it cannot wrap).
    pub(in crate::nat64) fn hairpin(
        &mut self,
        buf: &mut PacketBuf,
        y4: Ipv4Addr,
        action: Action,
        now: Millis,
    ) -> Step<Action> {
        if action != Action::Forward || !self.hairpins(y4) {
            return ControlFlow::Continue(action);
        }
        if buf.data().len() >= 20 {
            let mut ip = Ipv4Packet::new_unchecked(buf.data_mut());
            let ttl = ip.ttl();
            ip.set_ttl(ttl.saturating_add(1));
            // With the checksum left to the NIC this packet never meets
            // it, and the IPv4 half checks it (RFC 1812 §5.2.2): computed
            // here either way.
            ip.fill_checksum();
        }
        match self.process_4to6(buf, now) {
            Action::Forward => {
                self.counters.hairpinned += 1;
                ControlFlow::Continue(Action::Hairpin)
            }
            Action::Reply(_) => ControlFlow::Continue(self.drop(Nat64Drop::HairpinUnanswerable)),
            other => ControlFlow::Continue(other),
        }
    }
}
