use super::flags::*;
use super::*;
use TcpState as S;

fn t(state: S, side: Side, f: u8) -> (S, Option<TimerClass>) {
    let s = tcp_transition(state, side, f);
    (s.state, s.timer)
}

#[test]
fn rfc6146_3_5_2_2_closed() {
    assert_eq!(opened_by(Side::V6).state, S::V6Init);
    assert_eq!(opened_by(Side::V6).timer, Some(TimerClass::TcpTransitory));
    assert_eq!(opened_by(Side::V4).state, S::V4Init);
    assert_eq!(opened_by(Side::V4).timer, Some(TimerClass::TcpIncomingSyn));
    assert_eq!(t(S::Closed, Side::V6, ACK), (S::Closed, None));
    assert_eq!(t(S::Closed, Side::V4, SYN | RST), (S::Closed, None));
    assert_eq!(t(S::Closed, Side::V6, SYN).0, S::V6Init);
}

#[test]
fn rfc6146_3_5_2_2_v4_init() {
    assert_eq!(
        t(S::V4Init, Side::V6, SYN | ACK),
        (S::Established, Some(TimerClass::TcpEstablished))
    );
    assert_eq!(t(S::V4Init, Side::V4, SYN), (S::V4Init, None));
    assert_eq!(t(S::V4Init, Side::V6, ACK), (S::V4Init, None));
}

#[test]
fn rfc6146_3_5_2_2_v6_init() {
    assert_eq!(
        t(S::V6Init, Side::V4, SYN | ACK),
        (S::Established, Some(TimerClass::TcpEstablished))
    );
    assert_eq!(
        t(S::V6Init, Side::V6, SYN),
        (S::V6Init, Some(TimerClass::TcpTransitory))
    );
    assert_eq!(t(S::V6Init, Side::V4, ACK), (S::V6Init, None));
    assert_eq!(t(S::V6Init, Side::V4, RST), (S::V6Init, None));
}

#[test]
fn rfc6146_3_5_2_2_established() {
    let est = Some(TimerClass::TcpEstablished);
    assert_eq!(t(S::Established, Side::V4, ACK), (S::Established, est));
    assert_eq!(t(S::Established, Side::V6, ACK), (S::Established, est));
    assert_eq!(t(S::Established, Side::V4, FIN | ACK), (S::V4FinRcv, est));
    assert_eq!(t(S::Established, Side::V6, FIN | ACK), (S::V6FinRcv, est));
    let trans = Some(TimerClass::TcpTransitory);
    assert_eq!(t(S::Established, Side::V4, RST), (S::Trans, trans));
    assert_eq!(t(S::Established, Side::V6, RST | ACK), (S::Trans, trans));
}

#[test]
fn rfc6146_3_5_2_2_fin_rcv() {
    let est = Some(TimerClass::TcpEstablished);
    let trans = Some(TimerClass::TcpTransitory);
    assert_eq!(t(S::V4FinRcv, Side::V6, FIN), (S::V4FinV6FinRcv, trans));
    assert_eq!(t(S::V4FinRcv, Side::V4, FIN), (S::V4FinRcv, est));
    assert_eq!(t(S::V4FinRcv, Side::V6, ACK), (S::V4FinRcv, est));
    assert_eq!(
        t(S::V6FinRcv, Side::V4, FIN | ACK),
        (S::V4FinV6FinRcv, trans)
    );
    assert_eq!(t(S::V6FinRcv, Side::V6, FIN), (S::V6FinRcv, est));
    // Deviation: RST in a FIN RCV state -> TRANS.
    assert_eq!(t(S::V4FinRcv, Side::V4, RST), (S::Trans, trans));
    assert_eq!(t(S::V6FinRcv, Side::V4, RST), (S::Trans, trans));
}

#[test]
fn rfc6146_3_5_2_2_both_fins_and_trans() {
    assert_eq!(t(S::V4FinV6FinRcv, Side::V4, ACK), (S::V4FinV6FinRcv, None));
    assert_eq!(t(S::V4FinV6FinRcv, Side::V6, RST), (S::V4FinV6FinRcv, None));
    assert_eq!(t(S::Trans, Side::V4, RST), (S::Trans, None));
    assert_eq!(
        t(S::Trans, Side::V6, ACK),
        (S::Established, Some(TimerClass::TcpEstablished))
    );
}
