//! The RFC 6147 rules, one test each. UpstreamReply responses are built and our
//! answers read with hickory-proto, an independent DNS library, so our own
//! parser never checks itself.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, HTTPS, PTR, SOA, SVCB, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use proptest::prelude::*;

use super::*;
use crate::config::Ipv6Prefix;
use crate::xlat::rfc6052::Nat64Prefix;

const CLIENT_ID: u16 = 0xbeef;
const UPSTREAM_ID: u16 = 7;

fn settings() -> Settings {
    Settings {
        prefix: Nat64Prefix::WELL_KNOWN,
        exclude: vec![Ipv6Prefix {
            addr: "::ffff:0:0".parse().unwrap(),
            len: 96,
        }],
        filter_a: false,
        synthesize_ptr: true,
        synthesize_on_error: true,
        allow_non_global_ipv4: false,
        deny4: Default::default(),
    }
}

fn core() -> Dns64 {
    Dns64::new(settings())
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// A client query; `edns`: Some(DO bit).
fn query_with(qname: &str, qtype: RecordType, edns: Option<bool>, cd: bool) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = CLIENT_ID;
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(name(qname), qtype));
    if let Some(dnssec_ok) = edns {
        let mut e = Edns::new();
        e.set_dnssec_ok(dnssec_ok);
        e.set_max_payload(4096);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn query(qname: &str, qtype: RecordType) -> Vec<u8> {
    query_with(qname, qtype, None, false)
}

fn expect_ask(step: Step) -> Ask {
    match step {
        Step::Ask(ask) => ask,
        other => panic!("expected a question for the upstream, got {other:?}"),
    }
}

fn expect_answer(step: Step) -> Message {
    match step {
        Step::Answer(bytes) => Message::from_vec(&bytes).expect("our answer parses"),
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// The question as the upstream sees it, read with hickory.
fn upstream_view(ask: &Ask) -> Message {
    Message::from_vec(&ask.question.to_query(UPSTREAM_ID)).expect("our query parses")
}

/// An upstream response to `ask`'s question.
fn respond(
    ask: &Ask,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
) -> Vec<u8> {
    let q = upstream_view(ask);
    let mut m = Message::response(UPSTREAM_ID, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.checking_disabled = q.metadata.checking_disabled;
    m.metadata.response_code = rcode;
    m.add_query(q.queries[0].clone());
    m.add_answers(answers);
    m.add_authorities(authority);
    m.to_vec().unwrap()
}

fn a(owner: &str, ttl: u32, v4: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(v4))))
}

fn aaaa(owner: &str, ttl: u32, v6: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::AAAA(AAAA(v6.parse().unwrap())))
}

fn cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}

fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
    let data = SOA::new(
        name("ns.example."),
        name("hostmaster.example."),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    Record::from_rdata(name(owner), ttl, RData::SOA(data))
}

/// The AAAA answers of `m` as (owner, TTL, address).
fn aaaas(m: &Message) -> Vec<(String, u32, Ipv6Addr)> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::AAAA(AAAA(v6)) => Some((r.name.to_ascii(), r.ttl, *v6)),
            _ => None,
        })
        .collect()
}

/// The client's ID, question and RD bit; QR set.
fn assert_clients(m: &Message, qname: &str, qtype: RecordType) {
    assert_eq!(m.metadata.id, CLIENT_ID);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries.len(), 1);
    assert_eq!(m.queries[0].name, name(qname));
    assert_eq!(m.queries[0].query_type(), qtype);
}

/// Run a AAAA query through NODATA (with `aaaa_authority`) and the A
/// answer `a_answers`.
fn synthesize(
    core: &Dns64,
    qname: &str,
    aaaa_authority: Vec<Record>,
    a_answers: Vec<Record>,
) -> Message {
    let first = expect_ask(core.query(&query(qname, RecordType::AAAA)));
    assert_eq!(
        upstream_view(&first).queries[0].query_type(),
        RecordType::AAAA
    );
    let nodata = respond(&first, ResponseCode::NoError, vec![], aaaa_authority);
    let second = expect_ask(core.resume(first.pending, UpstreamReply::Response(&nodata)));
    assert_eq!(
        upstream_view(&second).queries[0].query_type(),
        RecordType::A
    );
    let a_response = respond(&second, ResponseCode::NoError, a_answers, vec![]);
    expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_response)))
}

#[test]
fn aaaa_answer_with_usable_records_is_returned_unchanged() {
    let ask = expect_ask(core().query(&query("v6.example.", RecordType::AAAA)));
    let mut up = respond(
        &ask,
        ResponseCode::NoError,
        vec![aaaa("v6.example.", 300, "2001:db8::1")],
        vec![],
    );
    up[3] |= 0x20; // AD from a validating upstream: kept, nothing changed
    let out = match core().resume(ask.pending, UpstreamReply::Response(&up)) {
        Step::Answer(bytes) => bytes,
        other => panic!("{other:?}"),
    };
    assert_eq!(out[..2], CLIENT_ID.to_be_bytes());
    assert_eq!(out[2..], up[2..], "unchanged but for the ID");
    let m = Message::from_vec(&out).unwrap();
    assert_clients(&m, "v6.example.", RecordType::AAAA);
    assert!(m.metadata.authentic_data);
    assert_eq!(
        aaaas(&m),
        vec![("v6.example.".into(), 300, "2001:db8::1".parse().unwrap())]
    );
}

#[test]
fn aaaa_nodata_synthesizes_one_aaaa_per_a_under_every_prefix_length() {
    for (prefix, len) in [
        ("2001:db8::", 32),
        ("2001:db8:100::", 40),
        ("2001:db8:122::", 48),
        ("2001:db8:122:300::", 56),
        ("2001:db8:122:344::", 64),
        ("2001:db8:122:344::", 96),
    ] {
        let p = Nat64Prefix::new(prefix.parse().unwrap(), len).unwrap();
        let core = Dns64::new(Settings {
            prefix: p,
            ..settings()
        });
        let m = synthesize(
            &core,
            "v4.example.",
            vec![soa("example.", 3600, 900)],
            vec![
                a("v4.example.", 300, [93, 184, 216, 34]),
                a("v4.example.", 300, [10, 0, 0, 1]), // a network-specific prefix carries any
            ],
        );
        assert_clients(&m, "v4.example.", RecordType::AAAA);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.recursion_available);
        assert!(!m.metadata.authentic_data);
        assert_eq!(
            aaaas(&m),
            vec![
                (
                    "v4.example.".into(),
                    300,
                    p.embed(Ipv4Addr::new(93, 184, 216, 34))
                ),
                (
                    "v4.example.".into(),
                    300,
                    p.embed(Ipv4Addr::new(10, 0, 0, 1))
                ),
            ],
            "/{len}"
        );
        assert_eq!(m.answers.len(), 2, "no A records in the answer");
        assert!(m.authorities.is_empty() && m.additionals.is_empty());
        assert!(m.edns.is_none(), "no OPT for a client without EDNS");
    }
}

#[test]
fn aaaa_nxdomain_is_returned_as_is() {
    let core = core();
    let ask = expect_ask(core.query(&query("gone.example.", RecordType::AAAA)));
    let up = respond(
        &ask,
        ResponseCode::NXDomain,
        vec![],
        vec![soa("example.", 60, 60)],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_clients(&m, "gone.example.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
}

#[test]
fn aaaa_other_rcode_counts_as_nodata() {
    let core = core();
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let up = respond(&ask, ResponseCode::Refused, vec![], vec![]);
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(
        upstream_view(&second).queries[0].query_type(),
        RecordType::A
    );
    let a_up = respond(
        &second,
        ResponseCode::NoError,
        vec![a("v4.example.", 7200, [93, 184, 216, 34])],
        vec![],
    );
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // §5.1.7: no SOA, so 600 s caps the A record's 7200.
    assert_eq!(
        aaaas(&m),
        vec![(
            "v4.example.".into(),
            600,
            "64:ff9b::5db8:d822".parse().unwrap()
        )]
    );
}

#[test]
fn aaaa_upstream_failure_counts_as_nodata() {
    let core = core();
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Failed));
    let a_up = respond(
        &second,
        ResponseCode::NoError,
        vec![a("v4.example.", 30, [93, 184, 216, 34])],
        vec![],
    );
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    assert_eq!(aaaas(&m).len(), 1);
    assert_eq!(aaaas(&m)[0].1, 30);
    // Both failing: SERVFAIL.
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Failed));
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Failed));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_clients(&m, "v4.example.", RecordType::AAAA);
}

#[test]
fn synthesize_on_error_false_returns_the_failure() {
    let core = Dns64::new(Settings {
        synthesize_on_error: false,
        ..settings()
    });
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let up = respond(&ask, ResponseCode::Refused, vec![], vec![]);
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Failed));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
}

#[test]
fn servfail_is_returned_never_synthesized_over() {
    let core = core();
    let ask = expect_ask(core.query(&query("bogus.example.", RecordType::AAAA)));
    let up = respond(&ask, ResponseCode::ServFail, vec![], vec![]);
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
    assert_clients(&m, "bogus.example.", RecordType::AAAA);
}

#[test]
fn excluded_aaaa_count_as_absent() {
    let core = core();
    let ask = expect_ask(core.query(&query("mapped.example.", RecordType::AAAA)));
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![aaaa("mapped.example.", 300, "::ffff:192.0.2.1")],
        vec![],
    );
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Response(&up)));
    let a_up = respond(
        &second,
        ResponseCode::NoError,
        vec![a("mapped.example.", 300, [93, 184, 216, 34])],
        vec![],
    );
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    assert_eq!(
        aaaas(&m),
        vec![(
            "mapped.example.".into(),
            300,
            "64:ff9b::5db8:d822".parse().unwrap()
        )]
    );
}

#[test]
fn excluded_aaaa_removed_when_usable_ones_remain() {
    let core = core();
    let ask = expect_ask(core.query(&query("both.example.", RecordType::AAAA)));
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![
            aaaa("both.example.", 300, "::ffff:192.0.2.1"),
            aaaa("both.example.", 300, "2001:db8::5"),
        ],
        vec![],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_clients(&m, "both.example.", RecordType::AAAA);
    assert!(!m.metadata.authentic_data);
    assert_eq!(
        aaaas(&m),
        vec![("both.example.".into(), 300, "2001:db8::5".parse().unwrap())]
    );
}

#[test]
fn cname_chain_kept_and_synthesized_at_its_end() {
    let core = core();
    let ask = expect_ask(core.query(&query("www.example.", RecordType::AAAA)));
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![cname("www.example.", 3600, "cdn.example.net.")],
        vec![soa("example.net.", 3600, 120)],
    );
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(upstream_view(&second).queries[0].name, name("www.example."));
    let a_up = {
        let q = upstream_view(&second);
        let mut m = Message::response(UPSTREAM_ID, OpCode::Query);
        m.metadata.recursion_available = true;
        m.add_query(q.queries[0].clone());
        m.add_answer(cname("www.example.", 3600, "cdn.example.net."));
        m.add_answer(a("cdn.example.net.", 300, [93, 184, 216, 34]));
        m.add_additional(a("ns.example.net.", 300, [93, 184, 216, 35]));
        m.to_vec().unwrap()
    };
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    assert_clients(&m, "www.example.", RecordType::AAAA);
    assert_eq!(m.answers.len(), 2);
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(m.answers[0].name, name("www.example."));
    assert_eq!(m.answers[0].ttl, 3600);
    assert_eq!(
        aaaas(&m),
        vec![(
            "cdn.example.net.".into(),
            120,
            "64:ff9b::5db8:d822".parse().unwrap()
        )]
    );
    assert!(
        m.additionals.is_empty(),
        "nothing synthesized into additional"
    );
}

#[test]
fn ttl_is_the_least_of_a_ttl_soa_ttl_and_minimum() {
    let core = core();
    let cases = [
        // (SOA TTL, SOA MINIMUM, A TTL, expected)
        (100, 900, 500, 100),
        (900, 60, 500, 60),
        (900, 900, 30, 30),
    ];
    for (soa_ttl, minimum, a_ttl, want) in cases {
        let m = synthesize(
            &core,
            "v4.example.",
            vec![soa("example.", soa_ttl, minimum)],
            vec![a("v4.example.", a_ttl, [93, 184, 216, 34])],
        );
        assert_eq!(aaaas(&m)[0].1, want, "{soa_ttl} {minimum} {a_ttl}");
    }
    // No SOA with the NODATA: 600 s.
    let m = synthesize(
        &core,
        "v4.example.",
        vec![],
        vec![a("v4.example.", 86400, [93, 184, 216, 34])],
    );
    assert_eq!(aaaas(&m)[0].1, 600);
}

#[test]
fn well_known_prefix_carries_global_ipv4_only() {
    let answers = || {
        vec![
            a("mixed.example.", 300, [10, 1, 2, 3]),
            a("mixed.example.", 300, [93, 184, 216, 34]),
        ]
    };
    let m = synthesize(&core(), "mixed.example.", vec![], answers());
    assert_eq!(
        aaaas(&m),
        vec![(
            "mixed.example.".into(),
            300,
            "64:ff9b::5db8:d822".parse().unwrap()
        )]
    );
    // Nothing global: the NODATA stands.
    let m = synthesize(
        &core(),
        "lan.example.",
        vec![soa("example.", 60, 60)],
        vec![a("lan.example.", 300, [192, 168, 1, 1])],
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1, "the original NODATA with its SOA");
    // The operator lifts the rule.
    let lifted = Dns64::new(Settings {
        allow_non_global_ipv4: true,
        ..settings()
    });
    let m = synthesize(&lifted, "mixed.example.", vec![], answers());
    assert_eq!(aaaas(&m).len(), 2);
}

#[test]
fn deny4_is_never_synthesized() {
    // A network-specific prefix with the configuration's default deny4
    // (the outside link 192.0.2.0/24 less the pool, and RFC 1918): the
    // translator's rule, from the same `Config::deny4`.
    let cfg = crate::config::Config::from_str(
        "[translation]\nprefix = \"2001:db8:64::/96\"\n[dns64]\nenabled = false\n",
    )
    .unwrap();
    let core = Dns64::new(Settings::new(&cfg));
    let m = synthesize(
        &core,
        "mixed.example.",
        vec![],
        vec![
            a("mixed.example.", 300, [10, 1, 2, 3]),
            a("mixed.example.", 300, [192, 0, 2, 77]),
            a("mixed.example.", 300, [198, 51, 100, 7]),
        ],
    );
    let prefix = cfg.translation.prefix;
    assert_eq!(
        aaaas(&m),
        vec![(
            "mixed.example.".into(),
            300,
            prefix.embed(Ipv4Addr::new(198, 51, 100, 7))
        )]
    );
    // Nor a PTR answer for a denied address under the prefix: the query
    // goes upstream as it is.
    let denied = prefix.embed(Ipv4Addr::new(10, 1, 2, 3));
    let ask = expect_ask(core.query(&query(&reverse_name(denied), RecordType::PTR)));
    assert_eq!(
        upstream_view(&ask).queries[0].name().to_ascii(),
        reverse_name(denied)
    );
}

fn reverse_name(v6: Ipv6Addr) -> String {
    let mut s = String::new();
    for byte in v6.octets().iter().rev() {
        s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
    }
    s + "ip6.arpa."
}

#[test]
fn ptr_under_the_prefix_is_a_cname_to_in_addr_arpa_then_its_ptr() {
    let core = core();
    let qname = reverse_name("64:ff9b::5db8:d822".parse().unwrap());
    let ask = expect_ask(core.query(&query(&qname, RecordType::PTR)));
    let q = upstream_view(&ask);
    assert_eq!(q.queries[0].name, name("34.216.184.93.in-addr.arpa."));
    assert_eq!(q.queries[0].query_type(), RecordType::PTR);
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![Record::from_rdata(
            name("34.216.184.93.in-addr.arpa."),
            3600,
            RData::PTR(PTR(name("host.example."))),
        )],
        vec![],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_clients(&m, &qname, RecordType::PTR);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authentic_data);
    assert_eq!(m.answers.len(), 2);
    let c = &m.answers[0];
    assert_eq!(c.name, name(&qname));
    assert_eq!(c.ttl, 600);
    assert_eq!(
        c.data,
        RData::CNAME(CNAME(name("34.216.184.93.in-addr.arpa.")))
    );
    assert_eq!(m.answers[1].data, RData::PTR(PTR(name("host.example."))));
    assert_eq!(m.answers[1].ttl, 3600);
}

#[test]
fn ptr_under_a_64_prefix_skips_the_u_octet() {
    let p = Nat64Prefix::new("2001:db8:122:344::".parse().unwrap(), 64).unwrap();
    let core = Dns64::new(Settings {
        prefix: p,
        ..settings()
    });
    let qname = reverse_name(p.embed(Ipv4Addr::new(192, 0, 2, 33)));
    let ask = expect_ask(core.query(&query(&qname, RecordType::PTR)));
    assert_eq!(
        upstream_view(&ask).queries[0].name,
        name("33.2.0.192.in-addr.arpa.")
    );
}

#[test]
fn ptr_shorter_name_inside_the_prefix_is_an_empty_non_terminal() {
    let core = core();
    let full = reverse_name("64:ff9b::5db8:d822".parse().unwrap());
    // Drop the four lowest nibbles: 28 nibbles, inside 64:ff9b::/96.
    let short = full.splitn(5, '.').nth(4).unwrap().to_string();
    let m = expect_answer(core.query(&query(&short, RecordType::PTR)));
    assert_clients(&m, &short, RecordType::PTR);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
}

#[test]
fn ptr_outside_the_prefix_is_forwarded() {
    let core = core();
    for qname in [
        reverse_name("2001:db8::1".parse().unwrap()),
        // Above the prefix's zone: 64:ff9b::/32's name.
        "b.9.f.f.4.6.0.0.ip6.arpa.".to_string(),
        "1.2.0.192.in-addr.arpa.".to_string(),
    ] {
        let ask = expect_ask(core.query(&query(&qname, RecordType::PTR)));
        let q = upstream_view(&ask);
        assert_eq!(q.queries[0].name, name(&qname));
        let up = respond(&ask, ResponseCode::NXDomain, vec![], vec![]);
        let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    // synthesize_ptr = false: forwarded too.
    let off = Dns64::new(Settings {
        synthesize_ptr: false,
        ..settings()
    });
    let qname = reverse_name("64:ff9b::5db8:d822".parse().unwrap());
    let ask = expect_ask(off.query(&query(&qname, RecordType::PTR)));
    assert_eq!(upstream_view(&ask).queries[0].name, name(&qname));
}

#[test]
fn do_and_cd_set_pass_through_without_synthesis() {
    let core = core();
    let ask = expect_ask(core.query(&query_with(
        "v4.example.",
        RecordType::AAAA,
        Some(true),
        true,
    )));
    let q = upstream_view(&ask);
    assert!(q.metadata.checking_disabled);
    assert!(q.edns.as_ref().unwrap().flags().dnssec_ok);
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![],
        vec![soa("example.", 60, 60)],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "no A query, nothing synthesized");
    // DO alone: synthesized, AD clear, OPT with DO back.
    let ask = expect_ask(core.query(&query_with(
        "v4.example.",
        RecordType::AAAA,
        Some(true),
        false,
    )));
    let up = respond(&ask, ResponseCode::NoError, vec![], vec![]);
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Response(&up)));
    let mut a_up = respond(
        &second,
        ResponseCode::NoError,
        vec![a("v4.example.", 300, [93, 184, 216, 34])],
        vec![],
    );
    a_up[3] |= 0x20; // the upstream validated the A record
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    assert_eq!(aaaas(&m).len(), 1);
    assert!(
        !m.metadata.authentic_data,
        "AD never set on a synthesized answer"
    );
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
}

#[test]
fn filter_a_answers_empty_with_the_zones_soa() {
    let core = Dns64::new(Settings {
        filter_a: true,
        ..settings()
    });
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::A)));
    assert_eq!(upstream_view(&ask).queries[0].query_type(), RecordType::SOA);
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![],
        vec![soa("example.", 3600, 300)],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_clients(&m, "v4.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name, name("example."));
    assert_eq!(m.authorities[0].ttl, 300, "capped by MINIMUM (RFC 2308 §5)");
    // At the apex the SOA comes in the answer; it moves to authority.
    let ask = expect_ask(core.query(&query("example.", RecordType::A)));
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![soa("example.", 60, 300)],
        vec![],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].ttl, 60);
}

#[test]
fn ipv4only_arpa_is_answered_locally() {
    let p = Nat64Prefix::new("2001:db8:122:344::".parse().unwrap(), 64).unwrap();
    let core = Dns64::new(Settings {
        prefix: p,
        ..settings()
    });
    let m = expect_answer(core.query(&query("ipv4only.arpa.", RecordType::AAAA)));
    assert_clients(&m, "ipv4only.arpa.", RecordType::AAAA);
    assert_eq!(
        aaaas(&m),
        vec![
            (
                "ipv4only.arpa.".into(),
                600,
                p.embed(Ipv4Addr::new(192, 0, 0, 170))
            ),
            (
                "ipv4only.arpa.".into(),
                600,
                p.embed(Ipv4Addr::new(192, 0, 0, 171))
            ),
        ]
    );
    let m = expect_answer(core.query(&query("IPv4only.ARPA.", RecordType::A)));
    let v4: Vec<_> = m.answers.iter().map(|r| r.data.clone()).collect();
    assert_eq!(
        v4,
        vec![
            RData::A(A(Ipv4Addr::new(192, 0, 0, 170))),
            RData::A(A(Ipv4Addr::new(192, 0, 0, 171)))
        ]
    );
    let m = expect_answer(core.query(&query("ipv4only.arpa.", RecordType::TXT)));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    let m = expect_answer(core.query(&query("x.ipv4only.arpa.", RecordType::AAAA)));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    for last in [170, 171] {
        let qname = format!("{last}.0.0.192.in-addr.arpa.");
        let m = expect_answer(core.query(&query(&qname, RecordType::PTR)));
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, RData::PTR(PTR(name("ipv4only.arpa."))));
    }
    // DO+CD does not send it upstream either.
    let step = core.query(&query_with(
        "ipv4only.arpa.",
        RecordType::AAAA,
        Some(true),
        true,
    ));
    assert_eq!(aaaas(&expect_answer(step)).len(), 2);
}

#[test]
fn other_types_and_classes_are_forwarded_unchanged() {
    let core = core();
    let ask = expect_ask(core.query(&query("svc.example.", RecordType::HTTPS)));
    assert_eq!(
        upstream_view(&ask).queries[0].query_type(),
        RecordType::HTTPS
    );
    let https = Record::from_rdata(
        name("svc.example."),
        300,
        RData::HTTPS(HTTPS(SVCB::new(1, name("."), vec![]))),
    );
    let up = respond(&ask, ResponseCode::NoError, vec![https.clone()], vec![]);
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(m.answers, vec![https]);
    assert_clients(&m, "svc.example.", RecordType::HTTPS);
    // Class CH: forwarded even for AAAA.
    let mut q = Message::from_vec(&query("v4.example.", RecordType::AAAA)).unwrap();
    let mut chaos = q.queries[0].clone();
    chaos.set_query_class(DNSClass::CH);
    q.queries = vec![chaos];
    let ask = expect_ask(core.query(&q.to_vec().unwrap()));
    let up = respond(
        &ask,
        ResponseCode::NoError,
        vec![Record::from_rdata(
            name("v4.example."),
            0,
            RData::TXT(TXT::new(vec!["x".into()])),
        )],
        vec![],
    );
    let step = core.resume(ask.pending, UpstreamReply::Response(&up));
    assert!(matches!(step, Step::Answer(_)), "no A query for class CH");
}

#[test]
fn malformed_queries_get_formerr_or_nothing() {
    let core = core();
    assert!(matches!(core.query(&[]), Step::Drop));
    assert!(matches!(core.query(&[0u8; 11]), Step::Drop));
    // A response is never answered.
    let mut resp = query("v4.example.", RecordType::AAAA);
    resp[2] |= 0x80;
    assert!(matches!(core.query(&resp), Step::Drop));
    // Header only, no question: FORMERR with the client's ID.
    let mut bare = query("v4.example.", RecordType::AAAA);
    bare.truncate(12);
    let m = expect_answer(core.query(&bare));
    assert_eq!(m.metadata.id, CLIENT_ID);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // Two questions.
    let mut two = Message::from_vec(&query("a.example.", RecordType::AAAA)).unwrap();
    two.add_query(Query::query(name("b.example."), RecordType::AAAA));
    let m = expect_answer(core.query(&two.to_vec().unwrap()));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // A question cut short.
    let mut cut = query("v4.example.", RecordType::AAAA);
    cut.truncate(cut.len() - 2);
    let m = expect_answer(core.query(&cut));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // Another opcode.
    let mut notify = query("v4.example.", RecordType::SOA);
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    let m = expect_answer(core.query(&notify));
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn a_response_to_another_question_counts_as_failed() {
    let core = Dns64::new(Settings {
        synthesize_on_error: false,
        ..settings()
    });
    let ask = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let other = expect_ask(core.query(&query("other.example.", RecordType::AAAA)));
    let up = respond(
        &other,
        ResponseCode::NoError,
        vec![aaaa("other.example.", 300, "2001:db8::1")],
        vec![],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
}

#[test]
fn upstream_question_carries_the_clients_bits() {
    let ask = expect_ask(core().query(&query_with(
        "v4.example.",
        RecordType::AAAA,
        Some(true),
        false,
    )));
    assert_eq!(ask.pending.question(), &ask.question);
    let q = upstream_view(&ask);
    assert_eq!(q.metadata.id, UPSTREAM_ID);
    assert!(q.metadata.recursion_desired);
    assert!(!q.metadata.checking_disabled);
    assert!(q.edns.as_ref().unwrap().flags().dnssec_ok);
    let ask = expect_ask(core().query(&query("v4.example.", RecordType::AAAA)));
    assert!(upstream_view(&ask).edns.is_none());
}

#[test]
fn settings_come_from_the_configuration() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/cgn.toml")).unwrap();
    let config = crate::config::Config::from_str(&text).unwrap();
    let s = Settings::new(&config);
    assert_eq!(s.prefix, config.dns64.prefix);
    assert!(s.synthesize_on_error && s.synthesize_ptr && !s.filter_a);
    assert_eq!(s.exclude.len(), 1);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let core = core();
        let _ = core.query(&bytes);
        // And as an upstream response at every stage reached by a query.
        for qtype in [RecordType::AAAA, RecordType::PTR, RecordType::A, RecordType::MX] {
            let qname = if qtype == RecordType::PTR {
                reverse_name("64:ff9b::5db8:d822".parse().unwrap())
            } else {
                "v4.example.".to_string()
            };
            let filter = Dns64::new(Settings { filter_a: true, ..settings() });
            if let Step::Ask(ask) = filter.query(&query(&qname, qtype)) {
                let mut reply = bytes.clone();
                // Make it look like an answer to the question now and then.
                if reply.len() >= 12 && reply[0] & 1 == 1 {
                    let q = ask.question.to_query(0);
                    reply.splice(0..12.min(reply.len()), q[..12].iter().copied());
                    reply[2] |= 0x80;
                }
                if let Step::Ask(next) = filter.resume(ask.pending, UpstreamReply::Response(&reply)) {
                    let _ = filter.resume(next.pending, UpstreamReply::Response(&reply));
                }
            }
        }
    }

    #[test]
    fn aaaa_synthesis_reads_back_with_hickory(v4 in any::<u32>(), ttl in 0u32..100_000) {
        let v4 = Ipv4Addr::from(v4);
        let lifted = Dns64::new(Settings { allow_non_global_ipv4: true, ..settings() });
        let m = synthesize(&lifted, "p.example.", vec![], vec![a("p.example.", ttl, v4.octets())]);
        prop_assert_eq!(aaaas(&m), vec![("p.example.".into(), ttl.min(600), Nat64Prefix::WELL_KNOWN.embed(v4))]);
    }
}

#[test]
fn truncated_upstream_answers_carry_tc_and_the_clients_question() {
    let core = core();
    // Forwarded stage: the upstream's own TC response.
    let ask = expect_ask(core.query(&query("big.example.", RecordType::AAAA)));
    let mut up = respond(&ask, ResponseCode::NoError, vec![], vec![]);
    up[2] |= 0x02;
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert!(m.metadata.truncation);
    assert_clients(&m, "big.example.", RecordType::AAAA);
    // PTR stage: the upstream was asked another name; the client gets an
    // empty TC answer to its own question.
    let qname = reverse_name("64:ff9b::5db8:d822".parse().unwrap());
    let ask = expect_ask(core.query(&query(&qname, RecordType::PTR)));
    let mut up = respond(&ask, ResponseCode::NoError, vec![], vec![]);
    up[2] |= 0x02;
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert!(m.metadata.truncation);
    assert_clients(&m, &qname, RecordType::PTR);
    assert!(m.answers.is_empty());
}

#[test]
fn filter_a_keeps_nxdomain_under_the_clients_question() {
    let core = Dns64::new(Settings {
        filter_a: true,
        ..settings()
    });
    let ask = expect_ask(core.query(&query("gone.example.", RecordType::A)));
    let up = respond(
        &ask,
        ResponseCode::NXDomain,
        vec![],
        vec![soa("example.", 60, 60)],
    );
    let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
    assert_clients(&m, "gone.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
}

#[test]
fn forwarded_answers_keep_the_clients_spelling_of_the_question() {
    let core = core();
    // hickory writes names in lower case: the client's capitals by hand.
    let mut client = query("mixed.example.", RecordType::MX);
    client[13] = b'M';
    client[15] = b'X';
    client[19] = b'E';
    let ask = expect_ask(core.query(&client));
    // The upstream answers in lower case.
    let mut up = respond(&ask, ResponseCode::NoError, vec![], vec![]);
    up[12..27].make_ascii_lowercase();
    let out = match core.resume(ask.pending, UpstreamReply::Response(&up)) {
        Step::Answer(bytes) => bytes,
        other => panic!("{other:?}"),
    };
    assert_eq!(&out[12..27], &client[12..27]);
    assert_eq!(&out[12..20], b"\x05MiXed\x07E");
}

#[test]
fn dname_chain_kept_in_the_synthesized_answer() {
    use hickory_proto::rr::rdata::NULL;
    let core = core();
    let ask = expect_ask(core.query(&query("www.old.example.", RecordType::AAAA)));
    let up = respond(&ask, ResponseCode::NoError, vec![], vec![]);
    let second = expect_ask(core.resume(ask.pending, UpstreamReply::Response(&up)));
    // DNAME old.example. -> new.example. (RFC 6672), its target name in
    // wire form, then the CNAME it implies and the A record.
    let dname = Record::from_rdata(
        name("old.example."),
        900,
        RData::Unknown {
            code: RecordType::DNAME,
            rdata: NULL::with(b"\x03new\x07example\x00".to_vec()),
        },
    );
    let a_up = respond(
        &second,
        ResponseCode::NoError,
        vec![
            dname,
            cname("www.old.example.", 900, "www.new.example."),
            a("www.new.example.", 300, [93, 184, 216, 34]),
        ],
        vec![],
    );
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&a_up)));
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(
        types,
        vec![RecordType::DNAME, RecordType::CNAME, RecordType::AAAA]
    );
    assert_eq!(m.answers[0].name, name("old.example."));
    assert_eq!(
        aaaas(&m),
        vec![(
            "www.new.example.".into(),
            300,
            "64:ff9b::5db8:d822".parse().unwrap()
        )]
    );
}

#[test]
fn the_state_crosses_threads_and_awaits() {
    fn send_static<T: Send + Sync + 'static>() {}
    send_static::<Dns64>();
    send_static::<Pending>();
    send_static::<Question>();
    send_static::<Step>();
}

/// An authoritative server's response (AA=1, RA=0, as nsd answers) to
/// `ask`, built by [`respond`] and re-flagged with hickory.
fn respond_authoritative(
    ask: &Ask,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
) -> Vec<u8> {
    let mut m = Message::from_vec(&respond(ask, rcode, answers, authority)).unwrap();
    m.metadata.authoritative = true;
    m.metadata.recursion_available = false;
    m.to_vec().unwrap()
}

#[test]
fn answers_say_recursion_available_and_not_authoritative_whatever_the_upstream() {
    // Synthesized: AAAA NODATA then the A records, both from an
    // authoritative upstream.
    let core = core();
    let first = expect_ask(core.query(&query("v4.example.", RecordType::AAAA)));
    let nodata = respond_authoritative(
        &first,
        ResponseCode::NoError,
        vec![],
        vec![soa("example.", 3600, 900)],
    );
    let second = expect_ask(core.resume(first.pending, UpstreamReply::Response(&nodata)));
    let up = respond_authoritative(
        &second,
        ResponseCode::NoError,
        vec![a("v4.example.", 300, [93, 184, 216, 34])],
        vec![],
    );
    let m = expect_answer(core.resume(second.pending, UpstreamReply::Response(&up)));
    assert_eq!(aaaas(&m).len(), 1);
    // Passed through: an MX answer and an NXDOMAIN, the client's RD clear.
    let mut passed = vec![m];
    for (qname, rcode) in [
        ("mail.example.", ResponseCode::NoError),
        ("gone.example.", ResponseCode::NXDomain),
    ] {
        let mut q = Message::from_vec(&query(qname, RecordType::MX)).unwrap();
        q.metadata.recursion_desired = false;
        let ask = expect_ask(core.query(&q.to_vec().unwrap()));
        let up = respond_authoritative(&ask, rcode, vec![], vec![soa("example.", 3600, 900)]);
        let m = expect_answer(core.resume(ask.pending, UpstreamReply::Response(&up)));
        assert_eq!(m.metadata.response_code, rcode);
        assert!(!m.metadata.recursion_desired, "{qname}: the client's RD");
        assert_eq!(m.authorities.len(), 1, "{qname}: records unchanged");
        passed.push(m);
    }
    for m in &passed {
        assert_eq!(m.metadata.id, CLIENT_ID);
        assert!(m.metadata.recursion_available, "{m:?}");
        assert!(!m.metadata.authoritative, "{m:?}");
    }
}
