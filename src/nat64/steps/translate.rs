//! RFC 6146 §3.7, translating the packet: the header translation of RFC
//! 7915 (§5 IPv6 -> IPv4, §4 IPv4 -> IPv6) by the `xlat` core, with the
//! addresses and ports §3.6 computed. The translator's verdict becomes the
//! packet's action and is counted.
//!
//! Two ways in: [`Worker::translate_6`] / [`Worker::translate_4`] take any
//! packet (`translate_6to4` / `translate_4to6`, which try their
//! simple-packet path first), and [`Worker::translate_simple_6`] /
//! [`Worker::translate_simple_4`] take only a packet that `simple6` /
//! `simple4` accepted, with that path's rewrite alone (the established
//! fast path). Both count a translated packet the same way.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use super::Step;
use crate::nat64::pipeline::{Action, Worker};
use crate::xlat::v4to6::{self, translate_4to6};
use crate::xlat::v6to4::{self, translate_6to4};
use crate::xlat::{PacketBuf, Plan, Rewrite, Verdict};

impl Worker {
    /// §3.7: RFC 7915 §5 through the xlat core. `Continue` only with a
    /// packet to forward (which §3.8 may yet hairpin).
    pub(in crate::nat64) fn translate_6(
        &mut self,
        buf: &mut PacketBuf,
        plan: &Plan<Ipv4Addr>,
    ) -> Step<Action> {
        match translate_6to4(buf, plan, &self.xcfg, &mut self.xstate) {
            Verdict::Forward => {
                self.counters.translated_6to4 += 1;
                ControlFlow::Continue(Action::Forward)
            }
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                ControlFlow::Break(Action::Reply(r))
            }
            // 6to4 never fragments; treat it as forward-sized by xlat.
            Verdict::Fragment { mtu } => ControlFlow::Break(Action::Fragment { mtu }),
            Verdict::Drop(r) => ControlFlow::Break(self.drop_xlat(r)),
        }
    }

    /// §3.7: RFC 7915 §4 through the xlat core.
    pub(in crate::nat64) fn translate_4(
        &mut self,
        buf: &mut PacketBuf,
        plan: &Plan<Ipv6Addr>,
    ) -> Step<Action> {
        match translate_4to6(buf, plan, &self.xcfg, &mut self.xstate) {
            Verdict::Forward => {
                self.counters.translated_4to6 += 1;
                ControlFlow::Continue(Action::Forward)
            }
            Verdict::Fragment { mtu } => {
                self.counters.translated_4to6 += 1;
                ControlFlow::Continue(Action::Fragment { mtu })
            }
            Verdict::Reply(r) => {
                self.counters.replied += 1;
                ControlFlow::Continue(Action::Reply(r))
            }
            Verdict::Drop(r) => ControlFlow::Break(self.drop_xlat(r)),
        }
    }

    /// §3.7 (RFC 7915 §5.1, §5.5) of a packet `simple6` accepted: xlat's
    /// `rewrite_simple`, which cannot refuse what `simple6` checked. False,
    /// the packet untouched and nothing counted, if it does.
    #[inline(always)]
    pub(in crate::nat64) fn translate_simple_6(
        &mut self,
        buf: &mut PacketBuf,
        rw: &Rewrite<Ipv4Addr>,
    ) -> bool {
        if v6to4::rewrite_simple(buf, rw, &self.xcfg, &mut self.xstate).is_none() {
            return false;
        }
        self.counters.translated_6to4 += 1;
        true
    }

    /// §3.7 (RFC 7915 §4.1, §4.5) of a packet `simple4` accepted, as
    /// [`Worker::translate_simple_6`].
    #[inline(always)]
    pub(in crate::nat64) fn translate_simple_4(
        &mut self,
        buf: &mut PacketBuf,
        rw: &Rewrite<Ipv6Addr>,
    ) -> bool {
        if v4to6::rewrite_simple(buf, rw, &self.xcfg).is_none() {
            return false;
        }
        self.counters.translated_4to6 += 1;
        true
    }
}
