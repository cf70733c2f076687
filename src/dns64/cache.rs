//! The DNS64 answer cache and the coalescing of identical in-flight
//! questions (issue 12, part 3).
//!
//! # What is promised
//!
//! [`Cache`] holds final answers, the bytes [`Dns64`](super::Dns64) returned
//! for a client, keyed by the client's [`Question`] as the core sees it:
//! name (compared without regard to ASCII case: `domain`'s `Name` hashes
//! and compares case-insensitively), type, class, RD, EDNS, DO and CD. Two
//! clients whose questions differ only in the DO or CD bit never share an
//! answer.
//!
//! - [`Cache::get`] returns the stored answer rewritten for the asking
//!   client: its message ID, its spelling of the question name (the 0x20
//!   mixed case a resolver may use), and every RR's TTL in the answer,
//!   authority and additional sections decreased by the whole seconds
//!   elapsed since the answer was stored (RFC 1035 §7.3, RFC 2308 §5). The
//!   OPT pseudo-RR's TTL field (extended rcode, version, DO) is never
//!   touched (RFC 6891 §6.1.3).
//! - An entry lives as long as its least TTL: the least TTL of all its RRs
//!   (OPT excepted), capped at [`MAX_TTL`] (one day). A negative answer
//!   (NXDOMAIN, or NOERROR without a record of the asked type: NODATA)
//!   lives min(SOA TTL, SOA MINIMUM) (RFC 2308 §5) and the SOA's TTL in the
//!   stored copy is lowered to that value (in a positive answer an SOA
//!   keeps its TTL); without an SOA in the authority
//!   section a negative answer is not cached (RFC 2308 §5).
//! - Not cached: SERVFAIL (RFC 2308 §7.1 allows up to five minutes; we
//!   cache none, and [`Coalescer`] keeps a burst of identical questions to
//!   one upstream exchange instead), REFUSED, FORMERR, NOTIMP and every
//!   other rcode, extended rcodes (BADVERS), TC answers, answers whose
//!   least TTL is 0 (or has the top bit set, RFC 2181 §8), answers that are
//!   not responses to a QUERY for the key's question, and anything that
//!   does not parse.
//! - An entry whose least TTL has run out is a miss and is removed.
//!
//! # Bounded memory
//!
//! At most `entries` entries and at most `entries × 512 + 65 535` bytes of
//! stored answers ([`Cache::max_bytes`]: 512 bytes per entry on average,
//! plus room for one answer of the largest size a message can have). The
//! budget counts answer bytes; each entry's overhead besides (its key's
//! name, two bytes per TTL field, a fixed header) is bounded by the entry
//! limit and the message size.
//! Eviction is CLOCK (second chance): a hit sets the entry's reference bit,
//! the hand clears bits until it finds an unreferenced entry, O(1)
//! amortized per operation. Every operation's work is bounded by the size
//! of one message and the capacity; no input makes it grow.
//!
//! [`Coalescer`] holds at most `max_in_flight` distinct questions; beyond
//! that [`Coalescer::join`] answers [`Role::Busy`] (answer SERVFAIL, or
//! drop, and count it). Followers per question are not counted: the
//! server's own bound on concurrent client queries bounds them.
//!
//! # Use from an async server
//!
//! [`Cache`] is a plain struct (`&mut self` methods); the server keeps it
//! in a `RefCell` (current-thread runtime) or a `Mutex`. [`Coalescer`] is
//! `Clone` + `Send` + `Sync` and shares its table. The flow per client
//! query: the key is [`client_question`] (the client's question, not the
//! question the core asks upstream, which differs for PTR synthesis and
//! `filter_a`); [`Cache::get`]; on a miss [`Coalescer::join`]; the
//! [`Role::Leader`] runs the core and the upstream exchanges, calls
//! [`Cache::insert`] with the core's final answer (before any truncation
//! for the client's UDP size, which is done per client after `get` or
//! `wait`) and [`LeaderGuard::publish`]; each [`Role::Follower`]
//! awaits [`Follower::wait`], which returns the leader's answer rewritten
//! for its own client (the same [`rewrite_for_client`] the cache uses), or
//! `None` when the leader failed or was dropped (then answer SERVFAIL).
//!
//! # Deviations
//!
//! - Only the question section's name is respelled for the client; owner
//!   names in the records keep the spelling of the client whose answer was
//!   stored (resolvers using 0x20 compare the question section,
//!   draft-vixie-dnsext-dns0x20).
//! - A client query whose name is not the key's name (or whose encoding
//!   differs in length, e.g. compressed) gets a miss, not a wrong answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use domain::base::iana::{Opcode, OptRcode, Rcode};
use domain::base::name::{ParsedName, ToName};
use domain::base::{Message, Rtype};
use domain::dep::octseq::Parser;
use domain::rdata::Soa;
use tokio::sync::broadcast;

use super::Question;

/// The longest time an answer is kept, whatever its TTLs say (one day).
pub const MAX_TTL: u32 = 86_400;

/// Average bytes per entry in the byte budget ([`Cache::max_bytes`]).
pub const BYTES_PER_ENTRY: usize = 512;

/// The largest DNS message.
const MAX_MESSAGE: usize = 65_535;

/// Offset of the question section (after the 12-octet header).
const HEADER_LEN: usize = 12;

/// What the cache has done, for the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups not answered (absent, expired, disabled, name mismatch).
    pub misses: u64,
    /// Answers stored.
    pub inserts: u64,
    /// Answers offered but not stored (rcode, TC, TTL 0, no SOA, malformed).
    pub not_cached: u64,
    /// Entries removed to make room.
    pub evictions: u64,
    /// Entries removed because their TTL ran out.
    pub expired: u64,
}

/// One stored answer.
#[derive(Debug)]
struct Entry {
    key: Question,
    /// The answer as stored (TTLs as they were at `stored`).
    answer: Vec<u8>,
    /// Offsets of every RR's 32-bit TTL field (OPT excepted).
    ttl_offsets: Vec<u16>,
    stored: Instant,
    expires: Instant,
    referenced: bool,
}

/// The answer cache (see the module documentation).
#[derive(Debug)]
pub struct Cache {
    index: HashMap<Question, usize>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    hand: usize,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    stats: CacheStats,
}

impl Cache {
    /// A cache of at most `entries` answers; 0 turns it off (every lookup
    /// misses, every insert is a no-op).
    pub fn new(entries: u32) -> Cache {
        let capacity = entries as usize;
        let max_bytes = if capacity == 0 {
            0
        } else {
            capacity
                .saturating_mul(BYTES_PER_ENTRY)
                .saturating_add(MAX_MESSAGE)
        };
        Cache {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            capacity,
            max_bytes,
            bytes: 0,
            stats: CacheStats::default(),
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The entry limit.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The byte budget for stored answers: `entries × 512 + 65 535`.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Bytes of stored answers now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// The answer for `question`, rewritten for the client whose query is
    /// `client_query` (its ID and question-name spelling, TTLs counted
    /// down to `now`), or `None` on a miss. An expired entry is removed.
    pub fn get(
        &mut self,
        question: &Question,
        client_query: &[u8],
        now: Instant,
    ) -> Option<Vec<u8>> {
        let Some(&slot) = self.index.get(question) else {
            self.stats.misses += 1;
            return None;
        };
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            self.stats.misses += 1;
            return None;
        };
        if now >= entry.expires {
            self.remove(slot);
            self.stats.expired += 1;
            self.stats.misses += 1;
            return None;
        }
        let elapsed = now.saturating_duration_since(entry.stored).as_secs();
        let elapsed = u32::try_from(elapsed).unwrap_or(u32::MAX);
        let Some(mut out) = rewrite_for_client(&entry.answer, client_query) else {
            self.stats.misses += 1;
            return None;
        };
        for &off in &entry.ttl_offsets {
            let off = usize::from(off);
            if let Some(field) = out.get_mut(off..off + 4) {
                let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
                field.copy_from_slice(&ttl.saturating_sub(elapsed).to_be_bytes());
            }
        }
        entry.referenced = true;
        self.stats.hits += 1;
        Some(out)
    }

    /// Store `answer` (the core's final answer) for `question` at `now`,
    /// when it may be cached (see the module documentation). Returns
    /// whether it was stored.
    pub fn insert(&mut self, question: Question, answer: &[u8], now: Instant) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let Some(plan) = plan(&question, answer) else {
            self.stats.not_cached += 1;
            return false;
        };
        if answer.len() > self.max_bytes {
            self.stats.not_cached += 1;
            return false;
        }
        let mut stored = answer.to_vec();
        for &(off, ttl) in &plan.patches {
            let off = usize::from(off);
            if let Some(field) = stored.get_mut(off..off + 4) {
                field.copy_from_slice(&ttl.to_be_bytes());
            }
        }
        if let Some(&old) = self.index.get(&question) {
            self.remove(old);
        }
        while self.index.len() >= self.capacity || self.bytes + stored.len() > self.max_bytes {
            if !self.evict_one() {
                break;
            }
        }
        let entry = Entry {
            key: question.clone(),
            ttl_offsets: plan.patches.iter().map(|&(off, _)| off).collect(),
            stored: now,
            expires: now + Duration::from_secs(u64::from(plan.lifetime)),
            referenced: false,
            answer: stored,
        };
        self.bytes += entry.answer.len();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.index.insert(question, slot);
        self.stats.inserts += 1;
        true
    }

    /// Drop every entry.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
        self.bytes = 0;
    }

    fn remove(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) {
            self.index.remove(&entry.key);
            self.bytes -= entry.answer.len();
            self.free.push(slot);
        }
    }

    /// CLOCK: evict the first unreferenced entry from the hand on,
    /// clearing reference bits on the way. False when nothing is held.
    fn evict_one(&mut self) -> bool {
        let n = self.slots.len();
        if n == 0 || self.index.is_empty() {
            return false;
        }
        // Two sweeps clear every bit and then find a victim.
        for _ in 0..2 * n + 1 {
            let slot = self.hand;
            self.hand = (self.hand + 1) % n;
            if let Some(entry) = self.slots[slot].as_mut() {
                if entry.referenced {
                    entry.referenced = false;
                } else {
                    self.remove(slot);
                    self.stats.evictions += 1;
                    return true;
                }
            }
        }
        false
    }
}

/// How to store an answer: TTL fields (offset, value to store), lifetime.
struct Plan {
    patches: Vec<(u16, u32)>,
    lifetime: u32,
}

/// Decide whether `answer` may be cached for `question`, and how.
fn plan(question: &Question, answer: &[u8]) -> Option<Plan> {
    if answer.len() > MAX_MESSAGE {
        return None;
    }
    let msg = Message::from_octets(answer).ok()?;
    let header = msg.header();
    if !header.qr() || header.tc() || header.opcode() != Opcode::QUERY {
        return None;
    }
    let negative = match msg.opt_rcode() {
        OptRcode::NOERROR => false,
        OptRcode::NXDOMAIN => true,
        _ => return None,
    };
    if header.rcode() != Rcode::NOERROR && header.rcode() != Rcode::NXDOMAIN {
        return None;
    }
    // The answer must be for the key's question.
    let mut questions = msg.question();
    let q = questions.next()?.ok()?;
    if questions.next().is_some()
        || q.qname() != &question.name
        || q.qtype() != question.qtype
        || q.qclass() != question.qclass
    {
        return None;
    }

    let mut patches = Vec::new();
    let mut least = MAX_TTL;
    let mut has_answer = false;
    let mut soa_limit: Option<u32> = None;
    let mut section = msg.answer().ok()?;
    let mut index = 0;
    loop {
        while let Some(record) = section.next() {
            let record = record.ok()?;
            let end = section.pos();
            if record.rtype() == Rtype::OPT {
                continue;
            }
            let off = end.checked_sub(usize::from(record.rdlen()) + 6)?;
            let raw = answer.get(off..off + 4)?;
            let mut ttl = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            if ttl > i32::MAX as u32 {
                // RFC 2181 §8: a TTL with the top bit set counts as 0.
                ttl = 0;
            }
            if index == 0
                && (record.rtype() == question.qtype
                    || (question.qtype == Rtype::ANY && record.class() == question.qclass))
            {
                has_answer = true;
            }
            if index == 1 && record.rtype() == Rtype::SOA && (negative || !has_answer) {
                if let Ok(Some(soa)) = record.to_record::<Soa<ParsedName<&[u8]>>>() {
                    // RFC 2308 §5: min(SOA TTL, SOA MINIMUM).
                    ttl = ttl.min(soa.data().minimum().as_secs());
                    soa_limit = Some(soa_limit.map_or(ttl, |l: u32| l.min(ttl)));
                }
            }
            ttl = ttl.min(MAX_TTL);
            least = least.min(ttl);
            patches.push((u16::try_from(off).ok()?, ttl));
        }
        match section.next_section().ok()? {
            Some(next) => {
                section = next;
                index += 1;
            }
            None => break,
        }
    }
    if negative || !has_answer {
        // RFC 2308 §5: no SOA, no negative caching.
        soa_limit?;
    }
    if least == 0 {
        return None;
    }
    Some(Plan {
        patches,
        lifetime: least,
    })
}

/// The cache and coalescing key for a client's query: the [`Question`]
/// the core builds from it (name, type, class, RD, EDNS present, DO, CD).
/// `None` for anything the core would not answer from upstream data: not a
/// QUERY, a response, not exactly one question, a record that does not
/// parse, more than one OPT (the core answers those FORMERR, NOTIMP or
/// not at all, so they must never be answered from the cache).
pub fn client_question(query: &[u8]) -> Option<Question> {
    let msg = Message::from_octets(query).ok()?;
    let header = msg.header();
    if header.qr() || header.opcode() != Opcode::QUERY {
        return None;
    }
    let question = msg.sole_question().ok()?;
    let mut section = msg.question().answer().ok()?;
    let mut opts = 0;
    let mut index = 0;
    loop {
        for record in &mut section {
            if record.ok()?.rtype() == Rtype::OPT && index == 2 {
                opts += 1;
            }
        }
        match section.next_section().ok()? {
            Some(next) => {
                section = next;
                index += 1;
            }
            None => break,
        }
    }
    if opts > 1 {
        return None;
    }
    let opt = msg.opt();
    Some(Question {
        name: question.qname().to_name::<Vec<u8>>(),
        qtype: question.qtype(),
        qclass: question.qclass(),
        recursion_desired: header.rd(),
        edns: opt.is_some(),
        dnssec_ok: opt.as_ref().is_some_and(|o| o.dnssec_ok()),
        checking_disabled: header.cd(),
    })
}

/// The span of the (first) question name in a message: `12..end`.
fn qname_span(message: &[u8]) -> Option<std::ops::Range<usize>> {
    if message.len() < HEADER_LEN {
        return None;
    }
    let mut parser = Parser::from_ref(message);
    parser.advance(HEADER_LEN).ok()?;
    ParsedName::skip(&mut parser).ok()?;
    Some(HEADER_LEN..parser.pos())
}

/// `answer` rewritten for the client whose query is `client_query`: the
/// client's message ID and the client's spelling of the question name.
/// `None` when either message has no question or the names differ (other
/// than in ASCII case) or are encoded in different lengths.
pub fn rewrite_for_client(answer: &[u8], client_query: &[u8]) -> Option<Vec<u8>> {
    let theirs = qname_span(client_query)?;
    let ours = qname_span(answer)?;
    if theirs != ours {
        return None;
    }
    let client_name = &client_query[theirs.clone()];
    if !client_name.eq_ignore_ascii_case(&answer[ours.clone()]) {
        return None;
    }
    let mut out = answer.to_vec();
    out[0..2].copy_from_slice(&client_query[0..2]);
    out[ours].copy_from_slice(client_name);
    Some(out)
}

/// What a leader publishes to its followers.
#[derive(Debug, Clone)]
enum Outcome {
    Answer(Arc<Vec<u8>>),
    Failed,
}

type Table = Arc<Mutex<HashMap<Question, broadcast::Sender<Outcome>>>>;

/// Identical concurrent questions share one upstream exchange (see the
/// module documentation). Cloning shares the table.
#[derive(Debug, Clone)]
pub struct Coalescer {
    table: Table,
    max_in_flight: usize,
}

/// What [`Coalescer::join`] made of a question.
#[derive(Debug)]
pub enum Role {
    /// Nobody is asking this question yet: ask upstream, then publish.
    Leader(LeaderGuard),
    /// Somebody is: wait for its answer.
    Follower(Follower),
    /// `max_in_flight` distinct questions are in flight already.
    Busy,
}

/// The leader's duty: publish the answer or the failure. Dropping it
/// without publishing (the task was cancelled) publishes a failure.
#[derive(Debug)]
pub struct LeaderGuard {
    table: Table,
    question: Option<Question>,
}

/// A follower's wait for the leader.
#[derive(Debug)]
pub struct Follower {
    rx: broadcast::Receiver<Outcome>,
}

impl Coalescer {
    /// A coalescer for at most `max_in_flight` distinct questions.
    pub fn new(max_in_flight: usize) -> Coalescer {
        Coalescer {
            table: Arc::new(Mutex::new(HashMap::new())),
            max_in_flight,
        }
    }

    /// Distinct questions in flight now.
    pub fn in_flight(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Join the exchange for `question`: lead it, follow it, or be told
    /// that too many are in flight.
    pub fn join(&self, question: &Question) -> Role {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = table.get(question) {
            return Role::Follower(Follower { rx: tx.subscribe() });
        }
        if table.len() >= self.max_in_flight {
            return Role::Busy;
        }
        let (tx, _) = broadcast::channel(1);
        table.insert(question.clone(), tx);
        Role::Leader(LeaderGuard {
            table: Arc::clone(&self.table),
            question: Some(question.clone()),
        })
    }
}

impl LeaderGuard {
    /// Publish the final answer (the bytes sent to the leader's client) to
    /// every follower.
    pub fn publish(mut self, answer: &[u8]) {
        self.finish(Outcome::Answer(Arc::new(answer.to_vec())));
    }

    /// Publish a failure: followers get `None` (answer SERVFAIL).
    pub fn fail(mut self) {
        self.finish(Outcome::Failed);
    }

    fn finish(&mut self, outcome: Outcome) {
        let Some(question) = self.question.take() else {
            return;
        };
        let tx = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&question);
        if let Some(tx) = tx {
            // No receiver is not an error: nobody followed.
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        self.finish(Outcome::Failed);
    }
}

impl Follower {
    /// The leader's answer rewritten for the client whose query is
    /// `client_query` ([`rewrite_for_client`]), or `None` when the leader
    /// failed or was dropped.
    pub async fn wait(mut self, client_query: &[u8]) -> Option<Vec<u8>> {
        match self.rx.recv().await {
            Ok(Outcome::Answer(answer)) => rewrite_for_client(&answer, client_query),
            Ok(Outcome::Failed) | Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
