//! Returns aggregator (being written).

pub mod domain;
