//! The built-in DNS64 (RFC 6147).
//!
//! Built so far: [`upstream`], the client that forwards a query to the
//! configured resolvers (`dns64.upstream`, `dns64.timeout`). Not built yet:
//! the synthesis of AAAA records, the responder listening on
//! `dns64.listen`, the cache and the control side's runtime that runs them.
//! Runs on the control side only, never on a worker's core.

pub mod upstream;
