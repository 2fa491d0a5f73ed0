//! postura: assesses the cybersecurity posture of a country's critical telecommunications
//! infrastructure. The pipeline: profile → targets → engine → probes → facts (→ checks → findings →
//! reports in later stages). Probes gather facts and never judge them.

pub mod profile;
pub mod tls;
