//! RFC 6052 placeholder
