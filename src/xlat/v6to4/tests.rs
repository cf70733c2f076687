//! Tests for RFC 7915 §5, named after its sections.
