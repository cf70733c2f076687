//! The TCP session state machine of RFC 6146 §3.5.2.2 (Figure 4), as a pure
//! function of (state, side, flags).
//!
//! Promises: [`tcp_transition`] never touches a table; it says which state
//! a session moves to and which timer class (if any) its lifetime is
//! restarted with. Session *creation* from CLOSED (which needs the BIB, the
//! port allocator and the held-SYN store) is the filtering step's job
//! (`steps/filtering.rs` and `held_syn.rs`, RFC 6146 §3.5.2.1 and the
//! CLOSED paragraphs of §3.5.2.2); this module only names the state a new
//! session starts in.
//!
//! Deviations, commented where they happen: no keep-alive probe when an
//! ESTABLISHED session's lifetime ends (the table simply removes it), and a
//! RST in V4 FIN RCV / V6 FIN RCV moves the session to TRANS, as it does
//! from ESTABLISHED.

use super::{TcpState, TimerClass};

/// TCP header flag bits (RFC 9293 §3.1), as `Flow::tcp_flags` carries them.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Which side of the NAT64 a segment arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// From the IPv6 network (a "V6" packet in RFC 6146's words).
    V6,
    /// From the IPv4 network (a "V4" packet).
    V4,
}

/// The outcome of one segment on an existing session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpStep {
    /// The session's state after the segment.
    pub state: TcpState,
    /// Restart the session's lifetime with this class's timeout; `None`:
    /// leave the lifetime as it is (RFC 6146 says nothing about it).
    pub timer: Option<TimerClass>,
}

impl TcpStep {
    fn to(state: TcpState, timer: TimerClass) -> TcpStep {
        TcpStep {
            state,
            timer: Some(timer),
        }
    }

    fn keep(state: TcpState) -> TcpStep {
        TcpStep { state, timer: None }
    }
}

/// Whether `f` has SYN set (and is not a RST: a SYN+RST opens nothing).
#[inline]
pub fn is_syn(f: u8) -> bool {
    f & flags::SYN != 0 && f & flags::RST == 0
}

/// The state and timer of a session created by a SYN from `side` with no
/// prior state (RFC 6146 §3.5.2.2, CLOSED): V6 SYN -> V6 INIT with the
/// transitory lifetime; V4 SYN (forwarded because a BIB entry allows it) ->
/// V4 INIT with the incoming-SYN lifetime.
#[inline]
pub fn opened_by(side: Side) -> TcpStep {
    match side {
        Side::V6 => TcpStep::to(TcpState::V6Init, TimerClass::TcpTransitory),
        // §3.5.2.2 CLOSED, V4 SYN with (X,x) in the BIB: V4 INIT. The SYN is
        // forwarded; the IPv6 side has TCP_INCOMING_SYN to answer before
        // the session goes (bounding what a SYN flood at a static mapping
        // can hold).
        Side::V4 => TcpStep::to(TcpState::V4Init, TimerClass::TcpIncomingSyn),
    }
}

/// RFC 6146 §3.5.2.2: the transition an existing session makes on a segment
/// with TCP flags `f` arriving from `side`. The segment is always
/// translated and forwarded afterwards (no state of Figure 4 drops one).
pub fn tcp_transition(state: TcpState, side: Side, f: u8) -> TcpStep {
    use TcpState as S;
    let syn = is_syn(f);
    let fin = f & flags::FIN != 0;
    let rst = f & flags::RST != 0;
    match state {
        // CLOSED: "fictional"; a session never sits in it. A SYN opens one
        // (see `opened_by`); anything else leaves it closed.
        S::Closed => {
            if syn {
                opened_by(side)
            } else {
                TcpStep::keep(S::Closed)
            }
        }
        // V4 INIT: a V6 SYN completes the open (also a simultaneous open
        // of a held V4 SYN) -> ESTABLISHED, TCP_EST. Other packets are
        // forwarded; the lifetime is left alone.
        S::V4Init => match side {
            Side::V6 if syn => TcpStep::to(S::Established, TimerClass::TcpEstablished),
            _ => TcpStep::keep(S::V4Init),
        },
        // V6 INIT: a V4 SYN -> ESTABLISHED, TCP_EST; a retransmitted V6 SYN
        // restarts TCP_TRANS; other packets are forwarded unchanged.
        S::V6Init => match side {
            Side::V4 if syn => TcpStep::to(S::Established, TimerClass::TcpEstablished),
            Side::V6 if syn => TcpStep::to(S::V6Init, TimerClass::TcpTransitory),
            _ => TcpStep::keep(S::V6Init),
        },
        // ESTABLISHED: FIN from either side -> that side's FIN RCV; RST ->
        // TRANS with TCP_TRANS; anything else restarts TCP_EST.
        S::Established => {
            if rst {
                TcpStep::to(S::Trans, TimerClass::TcpTransitory)
            } else if fin {
                let next = match side {
                    Side::V4 => S::V4FinRcv,
                    Side::V6 => S::V6FinRcv,
                };
                TcpStep::to(next, TimerClass::TcpEstablished)
            } else {
                TcpStep::to(S::Established, TimerClass::TcpEstablished)
            }
        }
        // V4 FIN RCV: the V6 FIN -> V4 FIN + V6 FIN RCV with TCP_TRANS;
        // anything else restarts TCP_EST.
        S::V4FinRcv => fin_rcv(S::V4FinRcv, side == Side::V6, fin, rst),
        // V6 FIN RCV: symmetric.
        S::V6FinRcv => fin_rcv(S::V6FinRcv, side == Side::V4, fin, rst),
        // V4 FIN + V6 FIN RCV: everything is forwarded; only the timer
        // (TCP_TRANS, set on entry) ends the session.
        S::V4FinV6FinRcv => TcpStep::keep(S::V4FinV6FinRcv),
        // TRANS: a RST is forwarded and changes nothing; any other packet
        // brings the session back to ESTABLISHED with TCP_EST.
        S::Trans => {
            if rst {
                TcpStep::keep(S::Trans)
            } else {
                TcpStep::to(S::Established, TimerClass::TcpEstablished)
            }
        }
    }
}

/// V4 FIN RCV / V6 FIN RCV: `other_side` says the segment came from the
/// side that has not sent its FIN yet.
fn fin_rcv(state: TcpState, other_side: bool, fin: bool, rst: bool) -> TcpStep {
    if other_side && fin {
        return TcpStep::to(TcpState::V4FinV6FinRcv, TimerClass::TcpTransitory);
    }
    if rst {
        // Deliberate deviation: Figure 4 handles RST only in ESTABLISHED,
        // which would keep a reset half-closed connection for TCP_EST (2 h
        // 4 min). A reset connection is over whichever half was closed, so
        // it goes to TRANS as from ESTABLISHED (Jool's
        // handle-rst-during-fin-rcv does the same).
        return TcpStep::to(TcpState::Trans, TimerClass::TcpTransitory);
    }
    TcpStep::to(state, TimerClass::TcpEstablished)
}

#[cfg(test)]
mod tests;
