//! The built-in DNS64 (RFC 6147), on the control side only, never on a
//! worker's core. Four parts: the synthesis core ([`Dns64`], `synth.rs`),
//! pure Rust over message bytes with no sockets, no async and no clock, so
//! a server drives it and the unit tests drive it without a network;
//! [`upstream`], the client that forwards questions to the configured
//! resolvers (`dns64.upstream`, `dns64.timeout_ms`) over UDP with a random
//! ID and source port, TCP on truncation, failover in order; [`cache`],
//! the answer cache (`cache_entries`, TTLs counted down, RFC 2308 negative
//! answers) and the coalescing of identical questions in flight; and
//! [`server`], the sockets clients reach.
//!
//! # Interface
//!
//! [`Dns64`] holds the [`Settings`] (from `[dns64]` and `[translation]`,
//! [`Settings::new`]). A client's query goes to [`Dns64::query`], which
//! returns a [`Step`]:
//!
//! - [`Step::Answer`]: the final response, to send to the client as is
//!   (ID, question and RD/CD flags are the client's; RA set and AA clear,
//!   as a recursive server answers, whatever the upstream said);
//! - [`Step::Ask`]: ask the upstream resolver [`Ask::question`] (encode it
//!   with [`Question::to_query`] under an ID of the server's choosing) and
//!   hand its response, or [`UpstreamReply::Failed`] when none came in time,
//!   together with [`Ask::pending`] to [`Dns64::resume`], which returns the
//!   next [`Step`]: the answer, or a second question (the A query after a
//!   NODATA AAAA answer, RFC 6147 §5.1.6);
//! - [`Step::Drop`]: send nothing (not a query, or not even a header).
//!
//! [`Pending`] is an owned value (the client's query and where the
//! synthesis stands), so a server keeps it across an `await` or in a
//! table keyed by upstream ID, and a cache can key on [`Question`]
//! (name, type, class, DO and CD bits). [`Dns64::resume`] checks that the
//! upstream's response answers the question asked (QR set, same name,
//! type and class); one that does not counts as [`UpstreamReply::Failed`]. The
//! ID is the server's business: it matches responses to questions.
//!
//! # What is promised (RFC 6147 sections)
//!
//! - AAAA (§5.1): an answer with usable AAAA records is returned unchanged;
//!   NXDOMAIN is returned as is (§5.1.2); NODATA leads to the A query and
//!   one AAAA per A record under the prefix ([`Nat64Prefix::embed`], every
//!   prefix length, §5.1.6 and RFC 6052 §2.2); an upstream failure or an
//!   rcode other than NOERROR, NXDOMAIN, SERVFAIL counts as NODATA
//!   (§5.1.3) unless `synthesize_on_error = false`.
//! - Exclusion (§5.1.4): AAAA records under `dns64.exclude` count as
//!   absent; they are removed, and when none is left the name is
//!   synthesized.
//! - CNAME and DNAME chains (§5.1.5): kept in the answer; AAAA records are
//!   synthesized from the A records at the chain's end. Nothing is
//!   synthesized into the additional section (§5.1.5, §5.3.2); other types
//!   (SVCB, HTTPS, ...) are forwarded untouched.
//! - TTL (§5.1.7): the smaller of the A record's TTL and the SOA's TTL and
//!   MINIMUM of the negative AAAA answer; 600 s in place of the SOA when
//!   the AAAA answer carried none.
//! - RFC 6052 §3.1: under the well-known prefix, non-global IPv4 addresses
//!   are not synthesized unless `translation.allow_non_global_ipv4`; nor
//!   are addresses in `translation.deny4` (as `Config::deny4` gives it)
//!   ([`Nat64Prefix::reaches`], the translator's own rule).
//! - PTR (§5.3.1, `synthesize_ptr`): the full 32-nibble `ip6.arpa` name of
//!   an address under the prefix is answered with a CNAME (TTL 600) to the
//!   `in-addr.arpa` name of the embedded IPv4 address, followed by the
//!   upstream's answer for that name; a shorter name inside the prefix's
//!   zone is an empty non-terminal (NOERROR, no records); anything else is
//!   forwarded.
//! - DNSSEC (§5.5): a query with both DO and CD set is forwarded without
//!   synthesis (nor `filter_a`, nor PTR synthesis); AD is never set on an answer we changed; SERVFAIL (which a
//!   validating upstream returns for bogus data) is returned, never
//!   synthesized over.
//! - `filter_a`: A queries are answered NOERROR with no records and the
//!   zone's SOA (asked upstream) in the authority section, its TTL capped
//!   by its MINIMUM (RFC 2308 §5).
//! - `ipv4only.arpa` (RFC 7050 §2, RFC 8880 §7.2) is answered locally and
//!   never asked upstream: A 192.0.0.170 and 192.0.0.171, AAAA both under
//!   the prefix, NODATA for other types, NXDOMAIN below it, and PTR
//!   `ipv4only.arpa` for `170.0.0.192.in-addr.arpa` and
//!   `171.0.0.192.in-addr.arpa`.
//! - Any other type or class is forwarded and its response returned
//!   unchanged but for the header (the client's ID, RD and CD; RA set, AA
//!   clear). A malformed query is answered FORMERR when
//!   its header can be read, another opcode than QUERY NOTIMP, and neither
//!   is forwarded; no input panics (a property test feeds arbitrary bytes).
//!
//! # Deviations
//!
//! - §5.1.3 lets any rcode but NOERROR and NXDOMAIN count as NODATA; here
//!   SERVFAIL does not, because it is how a validating resolver reports
//!   bogus data (§5.5) and the two cannot be told apart.
//! - Locally built answers (ipv4only.arpa, the PTR CNAME) use a TTL of
//!   600 s, the §5.1.7 default.
//! - Records are written without name compression; an answer larger than
//!   the client's UDP payload size is the transport's to truncate.
//! - An upstream response with TC set is returned as is (a UDP server
//!   should retry over TCP before handing it over).
//!
//! [`server`] runs it: UDP and TCP on every `dns64.listen` address, one
//! thread with a tokio current-thread runtime pinned to the main lcore's
//! CPU, the client ACL (`dns64.allow`, the inside interface, loopback) and
//! the per-client rate limit (`dns64.rate_limit_qps`), the cache in front
//! of the core, EDNS(0) payload sizes and truncation, and its counters
//! ([`server::Dns64Stats`]). The control side starts it beside the
//! dataplane; the main binary runs it alone with `--dns64-only`.
//!
//! [`Nat64Prefix::embed`]: crate::xlat::rfc6052::Nat64Prefix::embed
//! [`Nat64Prefix::reaches`]: crate::xlat::rfc6052::Nat64Prefix::reaches

pub mod cache;
pub mod server;
mod synth;
pub mod upstream;

pub use synth::{Ask, Dns64, Pending, Question, Settings, Step, UpstreamReply};

#[cfg(test)]
mod tests;
