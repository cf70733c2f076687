//! ns per DNS64 cache lookup: a hit (ID, 0x20 name and five TTLs
//! rewritten), a miss, and an insert into a full cache (CLOCK eviction).
use std::hint::black_box;
use std::net::Ipv6Addr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use domain::base::iana::Class;
use domain::base::Rtype;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use nat64_dpdk::dns64::cache::Cache;
use nat64_dpdk::dns64::Question;

fn key(qname: &str) -> Question {
    Question {
        name: domain::base::Name::from_str(qname).unwrap(),
        qtype: Rtype::AAAA,
        qclass: Class::IN,
        recursion_desired: true,
        edns: false,
        dnssec_ok: false,
        checking_disabled: false,
    }
}

fn answer(qname: &str) -> Vec<u8> {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.response_code = ResponseCode::NoError;
    m.add_query(Query::query(
        Name::from_str(qname).unwrap(),
        RecordType::AAAA,
    ));
    for i in 1..=5u16 {
        let v6 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x200 + i);
        m.add_answer(Record::from_rdata(
            Name::from_str(qname).unwrap(),
            300,
            RData::AAAA(AAAA(v6)),
        ));
    }
    m.to_vec().unwrap()
}

fn query(qname: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0xbeef;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_str(qname).unwrap(),
        RecordType::AAAA,
    ));
    m.to_vec().unwrap()
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let mut cache = Cache::new(65_536);
    for i in 0..65_536 {
        let n = format!("h{i}.n64.example.");
        cache.insert(key(&n), &answer(&n), t);
    }
    let hit = key("h7.n64.example.");
    let q = query("h7.n64.example.");
    let later = t + Duration::from_secs(7);
    c.bench_function("dns64_cache/hit", |b| {
        b.iter(|| black_box(cache.get(black_box(&hit), &q, later)))
    });
    let miss = key("absent.n64.example.");
    let mq = query("absent.n64.example.");
    c.bench_function("dns64_cache/miss", |b| {
        b.iter(|| black_box(cache.get(black_box(&miss), &mq, later)))
    });
    let fresh: Vec<(Question, Vec<u8>)> = (0..1024)
        .map(|i| {
            let n = format!("new{i}.n64.example.");
            (key(&n), answer(&n))
        })
        .collect();
    let mut i = 0;
    c.bench_function("dns64_cache/insert_evict", |b| {
        b.iter(|| {
            let (k, a) = &fresh[i % fresh.len()];
            i += 1;
            black_box(cache.insert(k.clone(), a, t))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
