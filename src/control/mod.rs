//! The control side (main lcore): what is not per packet. Today the
//! port-block event log; metrics, health and inspection come next.

pub mod events;
