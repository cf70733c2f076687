//! The cache and the coalescer. Answers are built and our outputs read
//! with hickory-proto, an independent DNS library.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::base::iana::Class;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use proptest::prelude::*;

use super::*;

const STORE_ID: u16 = 0x1111;
const CLIENT_ID: u16 = 0xbeef;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// The key, as the core would build it from a client query.
fn key(qname: &str, qtype: Rtype, dnssec_ok: bool, cd: bool) -> Question {
    Question {
        name: domain::base::Name::from_str(qname).unwrap(),
        qtype,
        qclass: Class::IN,
        recursion_desired: true,
        edns: true,
        dnssec_ok,
        checking_disabled: cd,
    }
}

/// A client query, EDNS with `dnssec_ok`.
fn query(id: u16, qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// `query` with the question name respelled as `mixed` (hickory writes
/// names in lower case, so the 0x20 spelling is patched into the bytes).
fn query_0x20(id: u16, mixed: &str, qtype: RecordType) -> Vec<u8> {
    let mut q = query(id, mixed, qtype);
    let mut at = 12;
    for label in mixed.trim_end_matches('.').split('.') {
        assert_eq!(usize::from(q[at]), label.len());
        q[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    q
}

/// A response as the core returns it, with an OPT record whose TTL field
/// carries the DO bit (so "OPT untouched" is observable).
fn response(
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
) -> Vec<u8> {
    let mut m = Message::new(STORE_ID, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_query(Query::query(name(qname), qtype));
    m.add_answers(answers);
    m.add_authorities(authority);
    m.add_additionals(additional);
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn a(owner: &str, ttl: u32, v4: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(v4))))
}

fn aaaa(owner: &str, ttl: u32, v6: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::AAAA(AAAA(Ipv6Addr::from_str(v6).unwrap())),
    )
}

fn cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}

fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::SOA(SOA::new(
            name("ns.n64.example."),
            name("admin.n64.example."),
            1,
            3600,
            600,
            86400,
            minimum,
        )),
    )
}

fn parse(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).expect("a cached answer parses with hickory")
}

/// (section, owner, type, ttl) of every record but OPT.
fn ttls(m: &Message) -> Vec<(&'static str, String, RecordType, u32)> {
    let mut out = Vec::new();
    for (sec, recs) in [
        ("answer", &m.answers),
        ("authority", &m.authorities),
        ("additional", &m.additionals),
    ] {
        for r in recs.iter() {
            out.push((sec, r.name.to_ascii(), r.record_type(), r.ttl));
        }
    }
    out
}

fn positive() -> Vec<u8> {
    response(
        "www.n64.example.",
        RecordType::AAAA,
        ResponseCode::NoError,
        vec![
            cname("www.n64.example.", 300, "host.n64.example."),
            aaaa("host.n64.example.", 60, "64:ff9b::c000:201"),
            aaaa("host.n64.example.", 90, "64:ff9b::c000:202"),
        ],
        vec![soa("n64.example.", 1000, 900)],
        vec![a("ns.n64.example.", 500, [192, 0, 2, 53])],
    )
}

#[test]
fn ttls_count_down_and_opt_is_untouched() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    let k = key("www.n64.example.", Rtype::AAAA, true, false);
    assert!(cache.insert(k.clone(), &positive(), t));
    let out = cache
        .get(
            &k,
            &query(CLIENT_ID, "www.n64.example.", RecordType::AAAA),
            t + Duration::from_millis(7_400),
        )
        .expect("a hit");
    let m = parse(&out);
    assert_eq!(m.metadata.id, CLIENT_ID);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
    assert_eq!(
        ttls(&m),
        vec![
            ("answer", "www.n64.example.".into(), RecordType::CNAME, 293),
            ("answer", "host.n64.example.".into(), RecordType::AAAA, 53),
            ("answer", "host.n64.example.".into(), RecordType::AAAA, 83),
            ("authority", "n64.example.".into(), RecordType::SOA, 993),
            ("additional", "ns.n64.example.".into(), RecordType::A, 493),
        ]
    );
    let edns = m.edns.as_ref().expect("OPT kept");
    assert!(edns.flags().dnssec_ok, "the OPT TTL field (DO) untouched");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(edns.version(), 0);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.inserts), (1, 0, 1));
}

#[test]
fn entry_expires_at_its_least_ttl() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    let k = key("www.n64.example.", Rtype::AAAA, true, false);
    assert!(cache.insert(k.clone(), &positive(), t));
    let q = query(CLIENT_ID, "www.n64.example.", RecordType::AAAA);
    let last = cache
        .get(&k, &q, t + Duration::from_millis(59_999))
        .unwrap();
    let m = parse(&last);
    assert_eq!(m.answers[1].ttl, 1, "59.999 s after: 1 s left");
    assert!(cache.get(&k, &q, t + Duration::from_secs(60)).is_none());
    assert_eq!(cache.len(), 0, "an expired entry is removed");
    assert_eq!(cache.stats().expired, 1);
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn client_id_and_0x20_spelling_restored() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    let k = key("www.n64.example.", Rtype::AAAA, true, false);
    assert!(cache.insert(k.clone(), &positive(), t));
    let q = query_0x20(0x4242, "wWw.N64.eXaMpLe.", RecordType::AAAA);
    let out = cache.get(&k, &q, t).unwrap();
    let m = parse(&out);
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.queries.len(), 1);
    // hickory keeps the case of the wire bytes.
    assert_eq!(m.queries[0].name().to_ascii(), "wWw.N64.eXaMpLe.");
    assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
    assert_eq!(m.answers.len(), 3);
    // A query for another name never gets this answer rewritten.
    let other = query(0x4242, "wwx.n64.example.", RecordType::AAAA);
    assert!(rewrite_for_client(&positive(), &other).is_none());
}

#[test]
fn negative_answer_lives_min_of_soa_ttl_and_minimum() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    // NXDOMAIN with SOA TTL 300, MINIMUM 30.
    let nx = response(
        "nope.n64.example.",
        RecordType::AAAA,
        ResponseCode::NXDomain,
        vec![],
        vec![soa("n64.example.", 300, 30)],
        vec![],
    );
    let k = key("nope.n64.example.", Rtype::AAAA, true, false);
    assert!(cache.insert(k.clone(), &nx, t));
    let q = query(CLIENT_ID, "nope.n64.example.", RecordType::AAAA);
    let m = parse(&cache.get(&k, &q, t + Duration::from_secs(10)).unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].ttl, 20, "min(300, 30) - 10");
    assert!(cache.get(&k, &q, t + Duration::from_secs(30)).is_none());

    // NODATA (NOERROR, a CNAME but no AAAA) with SOA: cached likewise.
    let nodata = response(
        "alias.n64.example.",
        RecordType::AAAA,
        ResponseCode::NoError,
        vec![cname("alias.n64.example.", 600, "v4.n64.example.")],
        vec![soa("n64.example.", 120, 45)],
        vec![],
    );
    let k = key("alias.n64.example.", Rtype::AAAA, true, false);
    assert!(cache.insert(k.clone(), &nodata, t));
    let q = query(CLIENT_ID, "alias.n64.example.", RecordType::AAAA);
    let m = parse(&cache.get(&k, &q, t + Duration::from_secs(44)).unwrap());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ttls(&m)[0].3, 556);
    assert_eq!(ttls(&m)[1].3, 1);
    assert!(cache.get(&k, &q, t + Duration::from_secs(45)).is_none());
}

#[test]
fn negative_answer_without_soa_is_not_cached() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    for rcode in [ResponseCode::NXDomain, ResponseCode::NoError] {
        let r = response(
            "nope.n64.example.",
            RecordType::AAAA,
            rcode,
            vec![],
            vec![],
            vec![],
        );
        let k = key("nope.n64.example.", Rtype::AAAA, true, false);
        assert!(!cache.insert(k.clone(), &r, t), "{rcode:?}");
        let q = query(CLIENT_ID, "nope.n64.example.", RecordType::AAAA);
        assert!(cache.get(&k, &q, t).is_none());
    }
    assert_eq!(cache.stats().not_cached, 2);
    assert_eq!(cache.len(), 0);
}

#[test]
fn servfail_refused_formerr_tc_and_ttl_zero_are_not_cached() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    let k = key("www.n64.example.", Rtype::AAAA, true, false);
    for rcode in [
        ResponseCode::ServFail,
        ResponseCode::Refused,
        ResponseCode::FormErr,
        ResponseCode::NotImp,
    ] {
        let r = response(
            "www.n64.example.",
            RecordType::AAAA,
            rcode,
            vec![],
            vec![soa("n64.example.", 300, 300)],
            vec![],
        );
        assert!(!cache.insert(k.clone(), &r, t), "{rcode:?} not cached");
    }
    // TC set.
    let mut m = parse(&positive());
    m.metadata.truncation = true;
    assert!(!cache.insert(k.clone(), &m.to_vec().unwrap(), t));
    // A TTL of 0 anywhere.
    let zero = response(
        "www.n64.example.",
        RecordType::AAAA,
        ResponseCode::NoError,
        vec![aaaa("www.n64.example.", 0, "2001:db8::1")],
        vec![],
        vec![],
    );
    assert!(!cache.insert(k.clone(), &zero, t));
    // An answer to another question.
    assert!(!cache.insert(
        key("other.n64.example.", Rtype::AAAA, true, false),
        &positive(),
        t
    ));
    // A query, not a response.
    assert!(!cache.insert(
        k.clone(),
        &query(1, "www.n64.example.", RecordType::AAAA),
        t
    ));
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().not_cached, 8);
    let q = query(CLIENT_ID, "www.n64.example.", RecordType::AAAA);
    assert!(cache.get(&k, &q, t).is_none());
}

#[test]
fn ttls_are_capped_at_one_day() {
    let mut cache = Cache::new(4);
    let t = Instant::now();
    let r = response(
        "www.n64.example.",
        RecordType::A,
        ResponseCode::NoError,
        vec![a("www.n64.example.", 7 * 86_400, [192, 0, 2, 1])],
        vec![],
        vec![],
    );
    let k = key("www.n64.example.", Rtype::A, true, false);
    assert!(cache.insert(k.clone(), &r, t));
    let q = query(CLIENT_ID, "www.n64.example.", RecordType::A);
    let m = parse(&cache.get(&k, &q, t + Duration::from_secs(100)).unwrap());
    assert_eq!(m.answers[0].ttl, 86_300);
    assert!(cache.get(&k, &q, t + Duration::from_secs(86_400)).is_none());
}

fn numbered(i: u32) -> (Question, Vec<u8>) {
    let n = format!("h{i}.n64.example.");
    let r = response(
        &n,
        RecordType::A,
        ResponseCode::NoError,
        vec![a(&n, 300, [198, 51, 100, (i % 250) as u8])],
        vec![],
        vec![],
    );
    (key(&n, Rtype::A, true, false), r)
}

#[test]
fn capacity_bound_evicts() {
    let entries = 32;
    let mut cache = Cache::new(entries);
    let t = Instant::now();
    for i in 0..entries + 10 {
        let (k, r) = numbered(i);
        assert!(cache.insert(k, &r, t));
        assert!(cache.len() <= entries as usize);
        // Keep h0 referenced: CLOCK gives it a second chance.
        let (k0, _) = numbered(0);
        let _ = cache.get(&k0, &query(1, "h0.n64.example.", RecordType::A), t);
    }
    assert_eq!(cache.len(), entries as usize);
    assert_eq!(cache.stats().evictions, 10);
    assert!(cache.bytes() <= cache.max_bytes());
    let (k0, _) = numbered(0);
    let m = parse(
        &cache
            .get(&k0, &query(9, "h0.n64.example.", RecordType::A), t)
            .expect("the referenced entry survived"),
    );
    assert_eq!(
        m.answers[0].data,
        RData::A(A(Ipv4Addr::new(198, 51, 100, 0)))
    );
    let (klast, _) = numbered(entries + 9);
    assert!(cache
        .get(
            &klast,
            &query(9, &format!("h{}.n64.example.", entries + 9), RecordType::A),
            t
        )
        .is_some());
}

#[test]
fn byte_budget_bounds_memory() {
    let mut cache = Cache::new(2);
    assert_eq!(cache.max_bytes(), 2 * 512 + 65_535);
    let t = Instant::now();
    for i in 0..50 {
        let (k, r) = numbered(i);
        cache.insert(k, &r, t);
        assert!(cache.bytes() <= cache.max_bytes());
        assert!(cache.len() <= 2);
    }
}

#[test]
fn zero_entries_disables() {
    let mut cache = Cache::new(0);
    let t = Instant::now();
    let k = key("www.n64.example.", Rtype::AAAA, true, false);
    assert!(!cache.insert(k.clone(), &positive(), t));
    assert_eq!(cache.len(), 0);
    let q = query(CLIENT_ID, "www.n64.example.", RecordType::AAAA);
    assert!(cache.get(&k, &q, t).is_none());
    assert_eq!(cache.stats().misses, 1);
}

#[test]
fn do_and_cd_bits_are_part_of_the_key() {
    let mut cache = Cache::new(16);
    let t = Instant::now();
    let plain = key("www.n64.example.", Rtype::AAAA, false, false);
    assert!(cache.insert(plain.clone(), &positive(), t));
    let q = query(CLIENT_ID, "www.n64.example.", RecordType::AAAA);
    assert!(cache.get(&plain, &q, t).is_some());
    for (dnssec_ok, cd) in [(true, false), (false, true), (true, true)] {
        let k = key("www.n64.example.", Rtype::AAAA, dnssec_ok, cd);
        assert!(cache.get(&k, &q, t).is_none(), "DO {dnssec_ok} CD {cd}");
    }
    // The name is compared without regard to case.
    let upper = key("WWW.N64.EXAMPLE.", Rtype::AAAA, false, false);
    assert!(cache.get(&upper, &q, t).is_some());
}

fn leader(role: Role) -> LeaderGuard {
    match role {
        Role::Leader(g) => g,
        other => panic!("expected leader, got {other:?}"),
    }
}

fn follower(role: Role) -> Follower {
    match role {
        Role::Follower(f) => f,
        other => panic!("expected follower, got {other:?}"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn coalescing_one_leader_one_follower_gets_its_own_id() {
    rt().block_on(async {
        let c = Coalescer::new(8);
        let k = key("www.n64.example.", Rtype::AAAA, true, false);
        let lead = leader(c.join(&k));
        let follow = follower(c.join(&k));
        assert_eq!(c.in_flight(), 1);
        let q = query_0x20(0x7777, "WWW.n64.example.", RecordType::AAAA);
        let waiting = tokio::spawn(async move { follow.wait(&q).await });
        tokio::task::yield_now().await;
        lead.publish(&positive());
        let out = waiting.await.unwrap().expect("the leader's answer");
        let m = parse(&out);
        assert_eq!(m.metadata.id, 0x7777);
        assert_eq!(m.queries[0].name().to_ascii(), "WWW.n64.example.");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(ttls(&m)[1].3, 60, "followers get the TTLs as published");
        assert_eq!(c.in_flight(), 0);
        // The next join leads a fresh exchange.
        let _next = leader(c.join(&k));
    });
}

#[test]
fn leader_dropped_wakes_followers_with_failure() {
    rt().block_on(async {
        let c = Coalescer::new(8);
        let k = key("www.n64.example.", Rtype::AAAA, true, false);
        let lead = leader(c.join(&k));
        let f1 = follower(c.join(&k));
        let f2 = follower(c.join(&k));
        drop(lead);
        let q = query(1, "www.n64.example.", RecordType::AAAA);
        assert!(f1.wait(&q).await.is_none());
        assert!(f2.wait(&q).await.is_none());
        assert_eq!(c.in_flight(), 0);
        // Explicit failure too.
        let lead = leader(c.join(&k));
        let f = follower(c.join(&k));
        lead.fail();
        assert!(f.wait(&q).await.is_none());
    });
}

#[test]
fn busy_beyond_max_in_flight() {
    let c = Coalescer::new(2);
    let k1 = key("a.n64.example.", Rtype::AAAA, true, false);
    let k2 = key("b.n64.example.", Rtype::AAAA, true, false);
    let k3 = key("c.n64.example.", Rtype::AAAA, true, false);
    let _l1 = leader(c.join(&k1));
    let _l2 = leader(c.join(&k2));
    assert!(matches!(c.join(&k3), Role::Busy));
    // Followers of a question in flight are still welcome.
    let _f = follower(c.join(&k1));
    drop(_l1);
    let _l3 = leader(c.join(&k3));
    assert_eq!(c.in_flight(), 2);
}

#[test]
fn coalescer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Coalescer>();
    check::<LeaderGuard>();
    check::<Follower>();
    check::<Cache>();
}

proptest! {
    #[test]
    fn arbitrary_answers_never_panic(
        answer in proptest::collection::vec(any::<u8>(), 0..600),
        client in proptest::collection::vec(any::<u8>(), 0..80),
        secs in 0u64..100_000,
    ) {
        let mut cache = Cache::new(4);
        let t = Instant::now();
        let k = key("www.n64.example.", Rtype::AAAA, true, false);
        cache.insert(k.clone(), &answer, t);
        let _ = cache.get(&k, &client, t + Duration::from_secs(secs));
        let _ = rewrite_for_client(&answer, &client);
        // A valid answer with garbage after the header keeps working too.
        let mut tail = positive();
        tail.extend_from_slice(&answer);
        cache.insert(k.clone(), &tail, t);
        let _ = cache.get(&k, &client, t + Duration::from_secs(secs));
        prop_assert!(cache.len() <= 4);
    }
}

#[test]
fn client_question_is_the_cores_key() {
    let q = query(5, "www.n64.example.", RecordType::AAAA);
    let k = client_question(&q).expect("a key");
    assert_eq!(k, key("www.n64.example.", Rtype::AAAA, false, false));
    // DO set: another key.
    let mut m = parse(&q);
    m.edns.as_mut().unwrap().set_dnssec_ok(true);
    m.metadata.checking_disabled = true;
    let k2 = client_question(&m.to_vec().unwrap()).unwrap();
    assert!(k2.dnssec_ok && k2.checking_disabled && k2.edns);
    assert_ne!(k, k2);
    // A response, a header alone, two questions: no key.
    assert!(client_question(&positive()).is_none());
    assert!(client_question(&q[..12]).is_none());
    let mut two = parse(&q);
    two.add_query(Query::query(name("x.n64.example."), RecordType::A));
    assert!(client_question(&two.to_vec().unwrap()).is_none());
}

/// The whole flow with the real core: a synthesized answer is stored under
/// the client's question and served to a second client, rewritten.
#[test]
fn synthesized_answer_from_the_core_is_cached_and_served() {
    use crate::config::Ipv6Prefix;
    use crate::dns64::{Dns64, Settings, Step, UpstreamReply};
    use crate::xlat::rfc6052::Nat64Prefix;

    // A network-specific prefix: 192.0.2.0/24 is not global, and the
    // well-known prefix would not carry it (RFC 6052 §3.1).
    let core = Dns64::new(Settings {
        prefix: Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap(),
        exclude: vec![Ipv6Prefix {
            addr: "::ffff:0:0".parse().unwrap(),
            len: 96,
        }],
        filter_a: false,
        synthesize_ptr: true,
        synthesize_on_error: true,
        allow_non_global_ipv4: false,
        deny4: Default::default(),
    });
    let upstream = |ask: &crate::dns64::Ask, rcode, answers, authority| {
        let q = Message::from_vec(&ask.question.to_query(9)).unwrap();
        let mut m = Message::new(9, MessageType::Response, OpCode::Query);
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.response_code = rcode;
        m.add_query(q.queries[0].clone());
        m.add_answers(answers);
        m.add_authorities(authority);
        m.to_vec().unwrap()
    };
    let first = query(0x0101, "v4only.n64.example.", RecordType::AAAA);
    let Step::Ask(ask) = core.query(&first) else {
        panic!("the core asks upstream")
    };
    let nodata = upstream(
        &ask,
        ResponseCode::NoError,
        vec![],
        vec![soa("n64.example.", 3600, 900)],
    );
    let Step::Ask(ask) = core.resume(ask.pending, UpstreamReply::Response(&nodata)) else {
        panic!("the core asks for A")
    };
    let a_answer = upstream(
        &ask,
        ResponseCode::NoError,
        vec![a("v4only.n64.example.", 300, [192, 0, 2, 33])],
        vec![],
    );
    let Step::Answer(answer) = core.resume(ask.pending, UpstreamReply::Response(&a_answer)) else {
        panic!("the core answers")
    };

    let mut cache = Cache::new(8);
    let t = Instant::now();
    assert!(cache.insert(client_question(&first).unwrap(), &answer, t));
    let second = query_0x20(0x0202, "V4only.N64.example.", RecordType::AAAA);
    let hit = cache
        .get(
            &client_question(&second).unwrap(),
            &second,
            t + Duration::from_secs(5),
        )
        .expect("a hit for the second client");
    let m = parse(&hit);
    assert_eq!(m.metadata.id, 0x0202);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authentic_data);
    assert_eq!(m.queries[0].name().to_ascii(), "V4only.N64.example.");
    assert_eq!(m.answers.len(), 1);
    assert_eq!(
        m.answers[0].data,
        RData::AAAA(AAAA(Ipv6Addr::from_str("2001:db8:64::c000:221").unwrap()))
    );
    assert_eq!(m.answers[0].ttl, 295, "min(300, 3600, 900) - 5");
}

proptest! {
    /// Any TTLs, any elapsed time: a hit shows each TTL (capped at one
    /// day, SOA not capped in a positive answer) less the whole seconds
    /// elapsed, and the entry is gone once the least TTL has run out.
    #[test]
    fn ttl_arithmetic(
        ttls in proptest::collection::vec(1u32..200_000, 1..6),
        millis in 0u64..250_000_000,
    ) {
        let mut cache = Cache::new(4);
        let t = Instant::now();
        let answers = ttls
            .iter()
            .enumerate()
            .map(|(i, &ttl)| a("www.n64.example.", ttl, [203, 0, 113, i as u8]))
            .collect();
        let r = response("www.n64.example.", RecordType::A, ResponseCode::NoError, answers, vec![], vec![]);
        let k = key("www.n64.example.", Rtype::A, true, false);
        prop_assert!(cache.insert(k.clone(), &r, t));
        let q = query(3, "www.n64.example.", RecordType::A);
        let elapsed = millis / 1000;
        let least = u64::from(*ttls.iter().min().unwrap()).min(86_400);
        match cache.get(&k, &q, t + Duration::from_millis(millis)) {
            Some(out) => {
                prop_assert!(elapsed < least);
                let m = parse(&out);
                prop_assert_eq!(m.answers.len(), ttls.len());
                for (rec, &ttl) in m.answers.iter().zip(&ttls) {
                    prop_assert_eq!(u64::from(rec.ttl), u64::from(ttl.min(86_400)) - elapsed);
                }
            }
            None => {
                prop_assert!(millis >= least * 1000);
                prop_assert_eq!(cache.len(), 0);
            }
        }
    }
}
