use super::*;
use proptest::prelude::*;

/// A query for `name` (dotted, no trailing dot) type A, class IN, with `id`,
/// built by hand so these tests do not depend on the parser they check.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// `q` turned into an empty answer (QR set).
fn answer(q: &[u8]) -> Vec<u8> {
    let mut a = q.to_vec();
    a[2] |= 0x80;
    a
}

#[test]
fn answer_matches_id_qr_and_question() {
    let q = query(7, "v4only.n64.example");
    assert!(is_answer(&answer(&q), &q));
    // The query itself (QR clear) is no answer.
    assert!(!is_answer(&q, &q));
    // Another ID.
    assert!(!is_answer(&answer(&query(8, "v4only.n64.example")), &q));
    // Another name, another type, another class.
    assert!(!is_answer(&answer(&query(7, "v4only.n64.examplf")), &q));
    let mut t = answer(&q);
    let n = t.len();
    t[n - 3] = 28;
    assert!(!is_answer(&t, &q));
    let mut c = answer(&q);
    c[n - 1] = 3;
    assert!(!is_answer(&c, &q));
    // No question at all.
    let mut none = answer(&q);
    none[5] = 0;
    assert!(!is_answer(&none[..12], &q));
}

#[test]
fn answer_name_compares_without_case() {
    let q = query(7, "v4only.n64.example");
    assert!(is_answer(&answer(&query(7, "V4Only.N64.EXAMPLE")), &q));
}

#[test]
fn queries_are_checked() {
    assert!(check_query(&query(1, "a.example")).is_ok());
    assert!(matches!(
        check_query(&[0; 5]),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        check_query(&answer(&query(1, "a.example"))),
        Err(UpstreamError::Malformed(_))
    ));
    let mut two = query(1, "a.example");
    two[5] = 2;
    assert!(matches!(
        check_query(&two),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        check_query(&vec![0; MAX_MESSAGE + 1]),
        Err(UpstreamError::Malformed(_))
    ));
}

#[test]
fn fresh_ids_avoid_the_clients() {
    for client in [0, 1, 0x1234, u16::MAX] {
        for _ in 0..1000 {
            assert_ne!(fresh_id(client).unwrap(), client);
        }
    }
}

#[test]
fn latency_buckets() {
    let s = UpstreamStats::default();
    for ms in [0, 1, 2, 3, 5000, 5001, 60_000] {
        s.record_latency(Duration::from_millis(ms));
    }
    let l = s.counts().latency;
    assert_eq!(l[0], 2, "0 and 1 ms");
    assert_eq!(l[1], 1, "2 ms");
    assert_eq!(l[2], 1, "3 ms");
    assert_eq!(l[LATENCY_BUCKETS_MS.len() - 1], 1, "5000 ms");
    assert_eq!(l[LATENCY_BUCKETS_MS.len()], 2, "slower");
    assert_eq!(l.iter().sum::<u64>(), 7);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn no_servers_all_failed_malformed_and_busy() {
    let rt = runtime();
    let none = Upstream::new(Vec::new(), Duration::from_millis(10), 4);
    let e = rt.block_on(none.query(&query(1, "a.example"))).unwrap_err();
    assert!(
        matches!(e, UpstreamError::AllFailed { tries: 0, .. }),
        "{e}"
    );
    let e = rt.block_on(none.query(&[1, 2, 3])).unwrap_err();
    assert!(matches!(e, UpstreamError::Malformed(_)), "{e}");
    let full = Upstream::new(Vec::new(), Duration::from_millis(10), 0);
    let e = rt.block_on(full.query(&query(1, "a.example"))).unwrap_err();
    assert!(matches!(e, UpstreamError::Busy), "{e}");
    let c = none.stats().counts();
    assert_eq!((c.queries, c.failures, c.answered), (2, 1, 0));
    assert_eq!(full.stats().counts().busy, 1);
}

proptest! {
    /// No bytes make the answer check or the query check panic.
    #[test]
    fn any_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let q = query(7, "v4only.n64.example");
        let _ = is_answer(&bytes, &q);
        let _ = is_answer(&q, &bytes);
        let _ = check_query(&bytes);
    }

    /// An answer cut anywhere short of its question's end never matches.
    #[test]
    fn cut_answers_never_match(cut in 0usize..35) {
        let q = query(7, "v4only.n64.example");
        let a = answer(&q);
        prop_assume!(cut < a.len());
        prop_assert!(!is_answer(&a[..cut], &q));
    }
}
