//! TLS probing: the raw codec, the suite registry, and the sweep built on them.

pub mod codec;
