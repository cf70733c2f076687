//! The synthesis state machine: [`Dns64::query`] and [`Dns64::resume`].
//! The module docs of [`crate::dns64`] describe the interface and the rules.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use domain::base::iana::{Class, Opcode, Rcode};
use domain::base::message_builder::{AdditionalBuilder, AnswerBuilder, AuthorityBuilder};
use domain::base::name::{Name, ParsedName, ToLabelIter, ToName};
use domain::base::{Message, MessageBuilder, ParsedRecord, Rtype, Ttl};
use domain::rdata::{Aaaa, AllRecordData, Cname, Ptr, Soa, A};

use crate::config::{Config, Ipv6Prefix};
use crate::xlat::rfc6052::{Ipv4Spans, Nat64Prefix};

/// TTL used where RFC 6147 §5.1.7 has no SOA to go by, and for the
/// records built locally.
const DEFAULT_TTL: u32 = 600;

/// UDP payload size announced in locally built EDNS answers (the DNS flag
/// day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// The RFC 7050 well-known name and its two addresses (RFC 8880 §7.2).
const IPV4ONLY: &str = "ipv4only.arpa";
const IPV4ONLY_ADDRS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];

type Builder = MessageBuilder<Vec<u8>>;
type PushResult = Result<(), domain::base::message_builder::PushError>;
type OwnedName = Name<Vec<u8>>;

/// What the synthesis needs of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The synthesis prefix (`dns64.prefix`).
    pub prefix: Nat64Prefix,
    /// AAAA records under these count as absent (`dns64.exclude`, §5.1.4).
    pub exclude: Vec<Ipv6Prefix>,
    /// Answer A queries with no records (`dns64.filter_a`).
    pub filter_a: bool,
    /// Answer PTR queries under the prefix (`dns64.synthesize_ptr`, §5.3.1).
    pub synthesize_ptr: bool,
    /// Treat an upstream failure or an unusual rcode as NODATA
    /// (`dns64.synthesize_on_error`, §5.1.3).
    pub synthesize_on_error: bool,
    /// Lift the RFC 6052 §3.1 rule (`translation.allow_non_global_ipv4`).
    pub allow_non_global_ipv4: bool,
    /// IPv4 ranges subscribers may not reach (`Config::deny4`): never
    /// synthesized, as the translator would refuse them.
    pub deny4: Ipv4Spans,
}

impl Settings {
    /// The settings of a validated configuration's `[dns64]` and
    /// `[translation]`.
    pub fn new(cfg: &Config) -> Settings {
        let dns64 = &cfg.dns64;
        Settings {
            prefix: dns64.prefix,
            exclude: dns64.exclude.clone(),
            filter_a: dns64.filter_a,
            synthesize_ptr: dns64.synthesize_ptr,
            synthesize_on_error: dns64.synthesize_on_error,
            allow_non_global_ipv4: cfg.translation.allow_non_global_ipv4,
            deny4: Ipv4Spans::new(cfg.deny4().iter().map(|r| (r.first, r.last))),
        }
    }

    /// Whether a subscriber may reach `v4` under the synthesis prefix: the
    /// translator's rule (`Nat64Prefix::reaches`, RFC 6052 §3.1 and
    /// `translation.deny4`).
    fn reaches(&self, v4: Ipv4Addr) -> bool {
        self.prefix
            .reaches(v4, self.allow_non_global_ipv4, &self.deny4)
            .is_ok()
    }
}

/// What to do next with a client's query.
#[derive(Debug)]
pub enum Step {
    /// Send these bytes to the client: the final response.
    Answer(Vec<u8>),
    /// Ask the upstream, then call [`Dns64::resume`].
    Ask(Ask),
    /// Send nothing.
    Drop,
}

/// A question for the upstream and the state to resume with.
#[derive(Debug)]
pub struct Ask {
    /// What to ask.
    pub question: Question,
    /// Where the synthesis stands; give it back to [`Dns64::resume`].
    pub pending: Pending,
}

/// A question for the upstream resolver.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    /// The name asked.
    pub name: Name<Vec<u8>>,
    /// Its type.
    pub qtype: Rtype,
    /// Its class.
    pub qclass: Class,
    /// Recursion desired (the client's bit).
    pub recursion_desired: bool,
    /// Send EDNS (the client sent it).
    pub edns: bool,
    /// The EDNS DO bit (the client's).
    pub dnssec_ok: bool,
    /// The CD bit (the client's).
    pub checking_disabled: bool,
}

impl Question {
    /// The query message for this question under `id`.
    pub fn to_query(&self, id: u16) -> Vec<u8> {
        let mut b = Builder::new_vec();
        {
            let h = b.header_mut();
            h.set_id(id);
            h.set_opcode(Opcode::QUERY);
            h.set_rd(self.recursion_desired);
            h.set_cd(self.checking_disabled);
        }
        let mut q = b.question();
        // A name of at most 255 octets in an empty message always fits.
        if q.push((&self.name, self.qtype, self.qclass)).is_err() {
            return Vec::new();
        }
        let mut add = q.additional();
        if self.edns {
            let dnssec_ok = self.dnssec_ok;
            let _ = add.opt(|opt| {
                opt.set_udp_payload_size(EDNS_PAYLOAD);
                opt.set_dnssec_ok(dnssec_ok);
                Ok(())
            });
        }
        add.finish()
    }
}

/// The upstream's answer to a [`Question`].
#[derive(Debug, Clone, Copy)]
pub enum UpstreamReply<'a> {
    /// The response message.
    Response(&'a [u8]),
    /// No usable response (timeout, every upstream failed).
    Failed,
}

/// The client's side of a query in flight.
#[derive(Debug, Clone)]
struct Client {
    id: u16,
    rd: bool,
    cd: bool,
    edns: bool,
    dnssec_ok: bool,
    qname: OwnedName,
    qtype: Rtype,
    qclass: Class,
}

/// A query waiting for the upstream: owned, so it can be kept anywhere.
#[derive(Debug, Clone)]
pub struct Pending {
    client: Client,
    asked: Question,
    stage: Stage,
}

impl Pending {
    /// The question this state waits for an answer to.
    pub fn question(&self) -> &Question {
        &self.asked
    }
}

/// Where a query stands.
#[derive(Debug, Clone)]
enum Stage {
    /// Return the upstream's response as it is.
    Forward,
    /// The AAAA query was asked (§5.1).
    Aaaa,
    /// The A query was asked after a NODATA AAAA answer (§5.1.6).
    A {
        /// The AAAA answer to return when nothing can be synthesized
        /// (excluded records removed); `None` when the AAAA query failed.
        fallback: Option<Vec<u8>>,
        /// min(SOA TTL, SOA MINIMUM) of the negative AAAA answer (§5.1.7).
        negative_ttl: Option<u32>,
    },
    /// The PTR of the embedded IPv4 address was asked (§5.3.1).
    Ptr {
        /// The CNAME's target (the `in-addr.arpa` name).
        target: OwnedName,
    },
    /// The SOA was asked for a filtered A query.
    FilterA,
}

/// The synthesis core: stateless between queries.
#[derive(Debug, Clone)]
pub struct Dns64 {
    settings: Settings,
}

impl Dns64 {
    /// A core with these settings.
    pub fn new(settings: Settings) -> Dns64 {
        Dns64 { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A client's query: the answer, a question for the upstream, or
    /// nothing.
    pub fn query(&self, query: &[u8]) -> Step {
        let Ok(msg) = Message::from_octets(query) else {
            return Step::Drop; // shorter than a header
        };
        let header = msg.header();
        if header.qr() {
            return Step::Drop; // a response: never answered (no loops)
        }
        if header.opcode() != Opcode::QUERY {
            return Step::Answer(header_only(query, Rcode::NOTIMP));
        }
        let Some(client) = parse_client(msg) else {
            return Step::Answer(header_only(query, Rcode::FORMERR));
        };
        // RFC 8880 §7.2: ipv4only.arpa is answered locally, whatever the
        // DNSSEC bits say.
        if client.qclass == Class::IN {
            if let Some(answer) = self.ipv4only(&client) {
                return Step::Answer(answer);
            }
        }
        // §5.5: DO and CD both set: the client validates, so it gets the
        // upstream's data, unsynthesized.
        let forward = client.qclass != Class::IN || (client.dnssec_ok && client.cd);
        if forward {
            let name = client.qname.clone();
            let qtype = client.qtype;
            return ask(client, name, qtype, Stage::Forward);
        }
        match client.qtype {
            Rtype::AAAA => {
                let name = client.qname.clone();
                ask(client, name, Rtype::AAAA, Stage::Aaaa)
            }
            // filter_a: the zone's SOA is asked, to put in the authority
            // section of the empty answer.
            Rtype::A if self.settings.filter_a => {
                let name = client.qname.clone();
                ask(client, name, Rtype::SOA, Stage::FilterA)
            }
            Rtype::PTR if self.settings.synthesize_ptr => self.ptr(client),
            qtype => {
                let name = client.qname.clone();
                ask(client, name, qtype, Stage::Forward)
            }
        }
    }

    /// The upstream's response (or failure) for `pending`'s question.
    pub fn resume(&self, pending: Pending, upstream: UpstreamReply<'_>) -> Step {
        let Pending {
            client,
            asked,
            stage,
        } = pending;
        let response = match upstream {
            UpstreamReply::Response(bytes) => Message::from_octets(bytes)
                .ok()
                .filter(|m| answers(m, &asked)),
            UpstreamReply::Failed => None,
        };
        // A truncated response has nothing to synthesize from: the client
        // gets it with TC set and retries over TCP. Forwarded as it is when
        // it answers the client's own question, else an empty TC answer.
        if let Some(m) = &response {
            if m.header().tc() {
                return Step::Answer(match stage {
                    Stage::Forward | Stage::Aaaa => passthrough(&client, m),
                    _ => truncated(&client),
                });
            }
        }
        match stage {
            Stage::Forward => Step::Answer(match response {
                Some(m) => passthrough(&client, &m),
                None => local(&client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())),
            }),
            Stage::Aaaa => self.after_aaaa(client, response),
            Stage::A {
                fallback,
                negative_ttl,
            } => Step::Answer(self.after_a(&client, response, fallback, negative_ttl)),
            Stage::Ptr { target } => Step::Answer(after_ptr(&client, response, &target)),
            Stage::FilterA => Step::Answer(after_filter_a(&client, response)),
        }
    }

    /// The AAAA answer arrived (§5.1).
    fn after_aaaa(&self, client: Client, response: Option<Message<&[u8]>>) -> Step {
        let a_query = |client: Client, fallback, negative_ttl| {
            let name = client.qname.clone();
            ask(
                client,
                name,
                Rtype::A,
                Stage::A {
                    fallback,
                    negative_ttl,
                },
            )
        };
        let Some(m) = response else {
            // §5.1.3: no answer at all counts as NODATA (no SOA: §5.1.7's
            // 600 s applies).
            if self.settings.synthesize_on_error {
                return a_query(client, None, None);
            }
            return Step::Answer(local(&client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())));
        };
        match m.header().rcode() {
            Rcode::NOERROR => {}
            // §5.1.2: NXDOMAIN is returned as is. §5.5: SERVFAIL may be
            // a validation failure (bogus): never synthesized over.
            Rcode::NXDOMAIN | Rcode::SERVFAIL => return Step::Answer(passthrough(&client, &m)),
            // §5.1.3: any other rcode counts as NODATA.
            _ if self.settings.synthesize_on_error => {
                let fallback = passthrough(&client, &m);
                return a_query(client, Some(fallback), None);
            }
            _ => return Step::Answer(passthrough(&client, &m)),
        }
        // §5.1.4: AAAA records under an excluded prefix count as absent.
        let mut usable = 0usize;
        let mut excluded = 0usize;
        for addr in records::<Aaaa>(&m, Section::Answer) {
            if self.excluded(&addr.1.addr()) {
                excluded += 1;
            } else {
                usable += 1;
            }
        }
        if usable > 0 && excluded == 0 {
            return Step::Answer(passthrough(&client, &m)); // §5.1: unchanged
        }
        let pruned = if excluded > 0 {
            rebuild(&client, &m, |rtype, data| {
                !(rtype == Rtype::AAAA && self.excluded_data(data))
            })
        } else {
            passthrough(&client, &m)
        };
        if usable > 0 {
            return Step::Answer(pruned); // §5.1.4: the excluded ones removed
        }
        // NODATA (or all excluded): ask A (§5.1.6), remembering the
        // negative answer's SOA for the TTL (§5.1.7).
        let negative_ttl = records::<Soa<ParsedName<&[u8]>>>(&m, Section::Authority)
            .map(|(ttl, soa)| ttl.min(soa.minimum().as_secs()))
            .min();
        a_query(client, Some(pruned), negative_ttl)
    }

    /// The A answer arrived after a NODATA AAAA answer (§5.1.6).
    fn after_a(
        &self,
        client: &Client,
        response: Option<Message<&[u8]>>,
        fallback: Option<Vec<u8>>,
        negative_ttl: Option<u32>,
    ) -> Vec<u8> {
        let give_up =
            || fallback.unwrap_or_else(|| local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())));
        let Some(m) = response else {
            return give_up();
        };
        if m.header().rcode() != Rcode::NOERROR {
            return give_up();
        }
        // §5.1.7: min(A TTL, SOA TTL, SOA MINIMUM), 600 s without an SOA.
        let cap = negative_ttl.unwrap_or(DEFAULT_TTL);
        // RFC 6052 §3.1: the well-known prefix carries global IPv4 only;
        // nor is an address subscribers may not reach synthesized.
        // §5.1.5: the A records are those of the chain's terminal name,
        // and each AAAA keeps its A record's owner.
        let synthesized: Vec<(ParsedName<&[u8]>, u32, Ipv6Addr)> = section(&m, Section::Answer)
            .into_iter()
            .flat_map(|sec| sec.limit_to_in::<A>().flatten())
            .filter(|r| self.settings.reaches(r.data().addr()))
            .map(|r| {
                let v6 = self.settings.prefix.embed(r.data().addr());
                (*r.owner(), r.ttl().as_secs().min(cap), v6)
            })
            .collect();
        if synthesized.is_empty() {
            return give_up();
        }
        build(client, Rcode::NOERROR, |answer| {
            // §5.1.5: the CNAME and DNAME records of the chain are kept.
            copy_section(&m, Section::Answer, answer, |rtype, _| {
                rtype == Rtype::CNAME || rtype == Rtype::DNAME
            })?;
            for (owner, ttl, addr) in &synthesized {
                answer.push((owner, Class::IN, Ttl::from_secs(*ttl), Aaaa::new(*addr)))?;
            }
            Ok(())
        })
        .unwrap_or_else(|| local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())))
    }

    /// A PTR query (§5.3.1).
    fn ptr(&self, client: Client) -> Step {
        let name = client.qname.clone();
        match ip6_arpa(&client.qname, &self.settings.prefix) {
            Reverse::Outside => ask(client, name, Rtype::PTR, Stage::Forward),
            // Inside the prefix's zone but not a whole address: an empty
            // non-terminal.
            Reverse::Partial => {
                Step::Answer(local(&client, Rcode::NOERROR, |_| Ok(()), |_| Ok(())))
            }
            Reverse::Address(v6) => {
                let v4 = self.settings.prefix.extract(&v6);
                let v4 = v4.filter(|v4| self.settings.reaches(*v4));
                let Some(v4) = v4 else {
                    return ask(client, name, Rtype::PTR, Stage::Forward);
                };
                let [a, b, c, d] = v4.octets();
                let Ok(target) = OwnedName::from_str(&format!("{d}.{c}.{b}.{a}.in-addr.arpa."))
                else {
                    return Step::Answer(local(&client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())));
                };
                ask(client, target.clone(), Rtype::PTR, Stage::Ptr { target })
            }
        }
    }

    /// The local answer for ipv4only.arpa and its reverse names, or `None`
    /// for any other name (RFC 7050 §2, RFC 8880 §7.2).
    fn ipv4only(&self, client: &Client) -> Option<Vec<u8>> {
        let ipv4only = OwnedName::from_str(IPV4ONLY).ok()?;
        let qname = &client.qname;
        let ttl = Ttl::from_secs(DEFAULT_TTL);
        if qname.name_eq(&ipv4only) {
            return Some(local(
                client,
                Rcode::NOERROR,
                |answer| {
                    for v4 in IPV4ONLY_ADDRS {
                        match client.qtype {
                            Rtype::A => answer.push((qname, Class::IN, ttl, A::new(v4)))?,
                            Rtype::AAAA => {
                                let v6 = self.settings.prefix.embed(v4);
                                answer.push((qname, Class::IN, ttl, Aaaa::new(v6)))?
                            }
                            _ => {}
                        }
                    }
                    Ok(())
                },
                |_| Ok(()),
            ));
        }
        if qname.ends_with(&ipv4only) {
            return Some(local(client, Rcode::NXDOMAIN, |_| Ok(()), |_| Ok(())));
        }
        for v4 in IPV4ONLY_ADDRS {
            let [a, b, c, d] = v4.octets();
            let reverse = OwnedName::from_str(&format!("{d}.{c}.{b}.{a}.in-addr.arpa")).ok()?;
            if qname.name_eq(&reverse) {
                return Some(local(
                    client,
                    Rcode::NOERROR,
                    |answer| {
                        if client.qtype == Rtype::PTR {
                            answer.push((qname, Class::IN, ttl, Ptr::new(&ipv4only)))?;
                        }
                        Ok(())
                    },
                    |_| Ok(()),
                ));
            }
        }
        None
    }

    fn excluded(&self, addr: &Ipv6Addr) -> bool {
        self.settings.exclude.iter().any(|p| p.contains(addr))
    }

    fn excluded_data(&self, data: &AllRecordData<&[u8], ParsedName<&[u8]>>) -> bool {
        match data {
            AllRecordData::Aaaa(aaaa) => self.excluded(&aaaa.addr()),
            _ => false,
        }
    }
}

/// The PTR answer for the embedded IPv4 address arrived (§5.3.1): our
/// CNAME, then the upstream's records for the target.
fn after_ptr(client: &Client, response: Option<Message<&[u8]>>, target: &OwnedName) -> Vec<u8> {
    let Some(m) = response else {
        return local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(()));
    };
    let rcode = m.header().rcode();
    let cname = (
        &client.qname,
        Class::IN,
        Ttl::from_secs(DEFAULT_TTL),
        Cname::new(target),
    );
    build_with_authority(
        client,
        rcode,
        |answer| {
            answer.push(&cname)?;
            copy_section(&m, Section::Answer, answer, |_, _| true)
        },
        |authority| copy_section(&m, Section::Authority, authority, |_, _| true),
    )
    .unwrap_or_else(|| local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())))
}

/// The SOA for a filtered A query arrived: NOERROR, no records, the SOA
/// in the authority section with its TTL capped by its MINIMUM.
fn after_filter_a(client: &Client, response: Option<Message<&[u8]>>) -> Vec<u8> {
    let Some(m) = response else {
        return local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(()));
    };
    if m.header().rcode() != Rcode::NOERROR {
        // NXDOMAIN, SERVFAIL, ...: their rcode and authority records, under
        // the client's question (A, not the SOA asked).
        return rebuild(client, &m, |_, _| true);
    }
    let soa = [Section::Answer, Section::Authority]
        .into_iter()
        .find_map(|s| {
            let section = section(&m, s)?;
            section
                .limit_to::<Soa<ParsedName<&[u8]>>>()
                .flatten()
                .next()
        });
    build_with_authority(
        client,
        Rcode::NOERROR,
        |_| Ok(()),
        |authority| {
            if let Some(soa) = &soa {
                let ttl = soa.ttl().as_secs().min(soa.data().minimum().as_secs());
                authority.push((soa.owner(), Class::IN, Ttl::from_secs(ttl), soa.data()))?;
            }
            Ok(())
        },
    )
    .unwrap_or_else(|| local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())))
}

/// A step that asks `name`/`qtype` on the client's behalf.
fn ask(client: Client, name: OwnedName, qtype: Rtype, stage: Stage) -> Step {
    let question = Question {
        name,
        qtype,
        qclass: client.qclass,
        recursion_desired: client.rd,
        edns: client.edns,
        dnssec_ok: client.dnssec_ok,
        checking_disabled: client.cd,
    };
    Step::Ask(Ask {
        question: question.clone(),
        pending: Pending {
            client,
            asked: question,
            stage,
        },
    })
}

/// The client's query, or `None` when it is malformed: not exactly one
/// question, a section that does not parse, or a bad OPT record.
fn parse_client(msg: Message<&[u8]>) -> Option<Client> {
    let header = msg.header();
    let question = msg.sole_question().ok()?;
    // Every record of every section must parse (RFC 1035 §4.1).
    let mut sections = msg.question().answer().ok()?;
    loop {
        for record in &mut sections {
            record.ok()?;
        }
        match sections.next_section().ok()? {
            Some(next) => sections = next,
            None => break,
        }
    }
    let opts = msg
        .additional()
        .ok()?
        .filter(|r| matches!(r, Ok(r) if r.rtype() == Rtype::OPT))
        .count();
    if opts > 1 {
        return None; // RFC 6891 §6.1.1: FORMERR
    }
    let opt = msg.opt();
    Some(Client {
        id: header.id(),
        rd: header.rd(),
        cd: header.cd(),
        edns: opt.is_some(),
        dnssec_ok: opt.as_ref().is_some_and(|o| o.dnssec_ok()),
        qname: question.qname().to_name::<Vec<u8>>(),
        qtype: question.qtype(),
        qclass: question.qclass(),
    })
}

/// Whether `m` is a response to `asked`.
fn answers(m: &Message<&[u8]>, asked: &Question) -> bool {
    let Ok(q) = m.sole_question() else {
        return false;
    };
    m.header().qr()
        && q.qtype() == asked.qtype
        && q.qclass() == asked.qclass
        && q.qname().name_eq(&asked.name)
}

/// The upstream's response with the client's ID, RD and CD bits and the
/// client's spelling of the question (an upstream may change its case),
/// answered as a recursive server answers: RA set, AA clear (the records
/// came from elsewhere, RFC 1035 §4.1.1; what BIND does as a forwarder).
/// Records, rcode, TC and AD unchanged.
fn passthrough(client: &Client, m: &Message<&[u8]>) -> Vec<u8> {
    const AA: u8 = 0x04;
    const RD: u8 = 0x01;
    const RA: u8 = 0x80;
    const CD: u8 = 0x10;
    let mut out = m.as_slice().to_vec();
    out[..2].copy_from_slice(&client.id.to_be_bytes());
    out[2] = (out[2] & !(AA | RD)) | if client.rd { RD } else { 0 };
    out[3] = (out[3] & !CD) | RA | if client.cd { CD } else { 0 };
    // The first name of a message cannot be compressed (a pointer points
    // back), so the question's name is its wire form at offset 12.
    let name = client.qname.as_slice();
    let end = 12 + name.len();
    if out.len() >= end && out[12..end].eq_ignore_ascii_case(name) {
        out[12..end].copy_from_slice(name);
    }
    out
}

/// An empty answer with TC set: the client retries over TCP.
fn truncated(client: &Client) -> Vec<u8> {
    let mut out = local(client, Rcode::NOERROR, |_| Ok(()), |_| Ok(()));
    if out.len() >= 12 {
        out[2] |= 0x02;
    }
    out
}

/// The upstream's response rebuilt with the client's header bits and
/// question, keeping the records for which `keep` holds; AD cleared.
fn rebuild(
    client: &Client,
    m: &Message<&[u8]>,
    keep: impl Fn(Rtype, &AllRecordData<&[u8], ParsedName<&[u8]>>) -> bool,
) -> Vec<u8> {
    let rcode = m.header().rcode();
    build_with_authority(
        client,
        rcode,
        |answer| copy_section(m, Section::Answer, answer, &keep),
        |authority| copy_section(m, Section::Authority, authority, &keep),
    )
    .unwrap_or_else(|| local(client, Rcode::SERVFAIL, |_| Ok(()), |_| Ok(())))
}

#[derive(Debug, Clone, Copy)]
enum Section {
    Answer,
    Authority,
}

fn section<'a>(
    m: &'a Message<&'a [u8]>,
    s: Section,
) -> Option<domain::base::RecordSection<'a, &'a [u8]>> {
    match s {
        Section::Answer => m.answer().ok(),
        Section::Authority => m.authority().ok(),
    }
}

/// (TTL, data) of every record of type `D` (class IN) in a section.
fn records<'a, D>(m: &'a Message<&'a [u8]>, s: Section) -> impl Iterator<Item = (u32, D)> + 'a
where
    D: domain::base::ParseRecordData<'a, &'a [u8]> + 'a,
{
    section(m, s)
        .into_iter()
        .flat_map(|sec| sec.limit_to_in::<D>().flatten())
        .map(|r| (r.ttl().as_secs(), r.into_data()))
}

/// Copy the records of a section of `m` for which `keep` holds.
fn copy_section<T>(
    m: &Message<&[u8]>,
    s: Section,
    target: &mut T,
    keep: impl Fn(Rtype, &AllRecordData<&[u8], ParsedName<&[u8]>>) -> bool,
) -> PushResult
where
    T: PushRecord,
{
    let Some(sec) = section(m, s) else {
        return Ok(());
    };
    for record in sec.flatten() {
        if record.rtype() == Rtype::OPT {
            continue;
        }
        let parsed: Option<_> = to_any(&record);
        if let Some(r) = parsed {
            if keep(r.rtype(), r.data()) {
                target.push_record(&r)?;
            }
        }
    }
    Ok(())
}

type AnyRecord<'a> =
    domain::base::Record<ParsedName<&'a [u8]>, AllRecordData<&'a [u8], ParsedName<&'a [u8]>>>;

fn to_any<'a>(record: &ParsedRecord<'a, &'a [u8]>) -> Option<AnyRecord<'a>> {
    record
        .to_record::<AllRecordData<&'a [u8], ParsedName<&'a [u8]>>>()
        .ok()
        .flatten()
}

/// The answer and authority builders, for [`copy_section`].
trait PushRecord {
    fn push_record(&mut self, r: &AnyRecord<'_>) -> PushResult;
}

impl PushRecord for AnswerBuilder<Vec<u8>> {
    fn push_record(&mut self, r: &AnyRecord<'_>) -> PushResult {
        self.push(r)
    }
}

impl PushRecord for AuthorityBuilder<Vec<u8>> {
    fn push_record(&mut self, r: &AnyRecord<'_>) -> PushResult {
        self.push(r)
    }
}

/// A response to the client with only an answer section.
fn build(
    client: &Client,
    rcode: Rcode,
    answer: impl FnOnce(&mut AnswerBuilder<Vec<u8>>) -> PushResult,
) -> Option<Vec<u8>> {
    build_with_authority(client, rcode, answer, |_| Ok(()))
}

/// A response to the client: its ID, opcode, RD and CD bits and question;
/// RA set, AA and AD clear (§5.5: AD is never set on what we built); an OPT record
/// when the client sent one.
fn build_with_authority(
    client: &Client,
    rcode: Rcode,
    answer: impl FnOnce(&mut AnswerBuilder<Vec<u8>>) -> PushResult,
    authority: impl FnOnce(&mut AuthorityBuilder<Vec<u8>>) -> PushResult,
) -> Option<Vec<u8>> {
    let mut b = Builder::new_vec();
    {
        let h = b.header_mut();
        h.set_id(client.id);
        h.set_qr(true);
        h.set_opcode(Opcode::QUERY);
        h.set_rd(client.rd);
        h.set_cd(client.cd);
        // We offer recursion (through the upstream), whatever the
        // upstream said of itself (RFC 1035 §4.1.1).
        h.set_ra(true);
        h.set_rcode(rcode);
    }
    let mut q = b.question();
    q.push((&client.qname, client.qtype, client.qclass)).ok()?;
    let mut a = q.answer();
    answer(&mut a).ok()?;
    let mut auth = a.authority();
    authority(&mut auth).ok()?;
    let mut add = auth.additional();
    push_opt(client, &mut add).ok()?;
    Some(add.finish())
}

fn push_opt(client: &Client, add: &mut AdditionalBuilder<Vec<u8>>) -> PushResult {
    if client.edns {
        let dnssec_ok = client.dnssec_ok;
        add.opt(|opt| {
            opt.set_udp_payload_size(EDNS_PAYLOAD);
            opt.set_dnssec_ok(dnssec_ok);
            Ok(())
        })?;
    }
    Ok(())
}

/// A locally built response; SERVFAIL (then a bare header)
/// when the records do not fit.
fn local(
    client: &Client,
    rcode: Rcode,
    answer: impl FnOnce(&mut AnswerBuilder<Vec<u8>>) -> PushResult,
    authority: impl FnOnce(&mut AuthorityBuilder<Vec<u8>>) -> PushResult,
) -> Vec<u8> {
    build_with_authority(client, rcode, answer, authority)
        .or_else(|| build(client, Rcode::SERVFAIL, |_| Ok(())))
        .unwrap_or_default()
}

/// A response of the query's header alone (FORMERR, NOTIMP): ID, opcode
/// and RD kept, QR set, no records.
fn header_only(query: &[u8], rcode: Rcode) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[..2].copy_from_slice(&query[..2]);
    // QR, the opcode and RD of the query; AA, TC cleared.
    out[2] = 0x80 | (query[2] & 0x79);
    out[3] = 0x80 | (rcode.to_int() & 0x0f); // RA and the rcode
    out
}

/// What an `ip6.arpa` name is to the prefix.
enum Reverse {
    /// Not inside the prefix's reverse zone.
    Outside,
    /// Inside it, fewer than 32 nibbles.
    Partial,
    /// A whole address under the prefix.
    Address(Ipv6Addr),
}

/// Read a reverse name: nibble labels, least significant first, then
/// `ip6.arpa` (RFC 3596 §2.5).
fn ip6_arpa(name: &OwnedName, prefix: &Nat64Prefix) -> Reverse {
    let labels: Vec<&[u8]> = name
        .iter_labels()
        .filter(|l| !l.is_root())
        .map(|l| l.as_slice())
        .collect();
    let n = labels.len();
    if n < 2
        || !labels[n - 2].eq_ignore_ascii_case(b"ip6")
        || !labels[n - 1].eq_ignore_ascii_case(b"arpa")
    {
        return Reverse::Outside;
    }
    let mut nibbles = Vec::with_capacity(32);
    for label in labels[..n - 2].iter().rev() {
        let [c] = label else {
            return Reverse::Outside;
        };
        let Some(v) = (*c as char).to_digit(16) else {
            return Reverse::Outside;
        };
        nibbles.push(v as u8);
    }
    if nibbles.len() > 32 {
        return Reverse::Outside;
    }
    let prefix_nibbles = usize::from(prefix.len() / 4);
    if nibbles.len() < prefix_nibbles {
        return Reverse::Outside;
    }
    let bits = u128::from(prefix.addr());
    for (i, nibble) in nibbles.iter().take(prefix_nibbles).enumerate() {
        if (bits >> (124 - 4 * i)) as u8 & 0xf != *nibble {
            return Reverse::Outside;
        }
    }
    if nibbles.len() < 32 {
        return Reverse::Partial;
    }
    let addr = nibbles
        .iter()
        .fold(0u128, |acc, nibble| (acc << 4) | u128::from(*nibble));
    Reverse::Address(Ipv6Addr::from(addr))
}
