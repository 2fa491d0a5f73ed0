//! Known TLS vulnerabilities, as facts (`targets[].tls.vulnerabilities`): each verdict is
//! `vulnerable: true | false | null` with its evidence and the connections it cost.
//!
//! Most verdicts are read from what the sweep already saw (`derived`: POODLE, SWEET32, FREAK,
//! LOGJAM, DROWN, BEAST, CRIME, RC4, LUCKY13, insecure renegotiation, missing fallback SCSV), at
//! no connection. The rest come from one small active probe each, in its own module, through the
//! target's `Connector` (so the per-address limit and the connection count apply): Heartbleed,
//! CCS injection, client-initiated renegotiation, TLS 1.3 early data, ROBOT, Ticketbleed. Each probe's cost is fixed
//! and documented in `docs/connections.md`. DROWN across endpoints sharing a key is a join over
//! the whole scan (`drown::across_scan`).
//!
//! `null` means "not known": the protocol it needs was not probed or its probe failed, or the
//! probe's answer was inconclusive. The evidence then says why. Facts never say what is bad: the
//! checks (`checks/tls.toml`, `tls.vuln.*`) and the grade caps judge them.

mod ccs_injection;
mod derived;
mod dh_groups;
pub mod dh_primes;
pub mod drown;
mod early_data;
mod heartbleed;
mod renegotiation;
mod robot;
mod ticketbleed;
pub(crate) mod tls12;
mod wire;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::facts::TlsFacts;
use crate::tls::registry::Protocol;
use crate::tls::sweep::SweepTarget;

pub use derived::{common_dh_prime, derive};
pub use dh_groups::{judge_all as judge_dh_groups, DhGroupFact};

/// One vulnerability's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VulnerabilityFact {
    /// true: vulnerable; false: not vulnerable; null: not known (see `evidence`).
    pub vulnerable: Option<bool>,
    /// What the verdict rests on (suites, key sizes, the server's answer), or why it is unknown.
    pub evidence: Vec<String>,
    /// Connections this verdict opened (0 when it was read from the sweep's facts).
    pub connections: u32,
}

impl VulnerabilityFact {
    pub fn yes(evidence: Vec<String>) -> VulnerabilityFact {
        VulnerabilityFact { vulnerable: Some(true), evidence, connections: 0 }
    }
    pub fn no(why: impl Into<String>) -> VulnerabilityFact {
        VulnerabilityFact { vulnerable: Some(false), evidence: vec![why.into()], connections: 0 }
    }
    pub fn unknown(why: impl Into<String>) -> VulnerabilityFact {
        VulnerabilityFact { vulnerable: None, evidence: vec![why.into()], connections: 0 }
    }
}

/// Every vulnerability postura judges, by name. A field per vulnerability (not a map) so that
/// checks, grades and reports that read one fail to compile when it is renamed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Vulnerabilities {
    /// CVE-2014-0160: a heartbeat request longer than its content is answered with server memory.
    /// Active probe, one connection per TLS ≤ 1.2 protocol that negotiates heartbeat.
    pub heartbleed: VulnerabilityFact,
    /// CVE-2014-0224: an early ChangeCipherSpec is accepted. Active probe, one connection.
    pub ccs_injection: VulnerabilityFact,
    /// A client may renegotiate (TLS ≤ 1.2): a denial-of-service lever, and with
    /// `insecure_renegotiation` the CVE-2009-3555 injection. Active probe, one connection.
    pub client_renegotiation: VulnerabilityFact,
    /// TLS 1.3 early data (0-RTT, replayable) is accepted. Active probe, two connections.
    pub early_data: VulnerabilityFact,
    /// ROBOT: a Bleichenbacher padding oracle on RSA key exchange. Active probe, 5–15
    /// connections, only when an RSA key-exchange suite is accepted.
    #[serde(default)]
    pub robot: VulnerabilityFact,
    /// CVE-2016-9244 (F5 BIG-IP): a session resumed from a ticket echoes a short session ID as
    /// 32 bytes, the rest being server memory. Active probe, two connections, only when the
    /// server announces session tickets.
    #[serde(default)]
    pub ticketbleed: VulnerabilityFact,
    /// CVE-2014-3566: CBC suites over SSLv3.
    pub poodle: VulnerabilityFact,
    /// CVE-2016-2183: 64-bit block ciphers (3DES, DES, IDEA, RC2).
    pub sweet32: VulnerabilityFact,
    /// CVE-2015-0204: export-grade RSA key exchange.
    pub freak: VulnerabilityFact,
    /// CVE-2015-4000: export DH, or DH groups of 1024 bits or less; evidence names well-known
    /// shared primes (precomputation against one breaks every server using it).
    pub logjam: VulnerabilityFact,
    /// CVE-2016-0800: SSLv2 on this endpoint, or (after the scan-wide join) on another endpoint
    /// sharing this certificate's key.
    pub drown: VulnerabilityFact,
    /// CVE-2011-3389: CBC suites over TLS 1.0 or SSLv3.
    pub beast: VulnerabilityFact,
    /// CVE-2012-4929: TLS-level compression.
    pub crime: VulnerabilityFact,
    /// RC4 suites (RFC 7465 forbids them).
    pub rc4: VulnerabilityFact,
    /// CVE-2013-0169: CBC suites (a timing side channel mitigated in maintained libraries):
    /// informational.
    pub lucky13: VulnerabilityFact,
    /// No RFC 5746 secure renegotiation on a TLS ≤ 1.2 server.
    pub insecure_renegotiation: VulnerabilityFact,
    /// The server does not refuse a downgraded handshake carrying TLS_FALLBACK_SCSV (RFC 7507).
    pub no_fallback_scsv: VulnerabilityFact,
}

/// What the sweep learnt per TLS ≤ 1.2 protocol that the active probes need.
#[derive(Debug, Clone)]
pub struct AcceptedProtocol {
    pub protocol: Protocol,
    /// Accepted suites, in the server's order of choice.
    pub suites: Vec<u16>,
    /// The server answered the heartbeat extension in this protocol's ServerHello.
    pub heartbeat: bool,
}

/// Run the active probes and record their verdicts (the derived ones must be in already).
/// `legacy` lists the accepted TLS ≤ 1.2 protocols, best first.
pub async fn probe(target: &SweepTarget, facts: &mut TlsFacts, legacy: &[AcceptedProtocol]) {
    let tls13 = facts.protocols.contains(&Protocol::Tls13);
    let heartbleed = heartbleed::probe(target, legacy);
    let ccs = ccs_injection::probe(target, legacy);
    let renegotiation = renegotiation::probe(target, legacy);
    let robot = robot::probe(target, facts, legacy);
    let ticketbleed = ticketbleed::probe(target, facts, legacy);
    let early = async {
        if tls13 {
            early_data::probe(target).await
        } else {
            VulnerabilityFact::no("TLS 1.3 not accepted")
        }
    };
    // One after another: the probes are few and cheap, and a server under test sees few of
    // postura's probe connections at a time on top of the sweep's.
    let heartbleed = heartbleed.await;
    let ccs = ccs.await;
    let renegotiation = renegotiation.await;
    let early = early.await;
    let robot = robot.await;
    let ticketbleed = ticketbleed.await;
    let vulnerabilities = &mut facts.vulnerabilities;
    vulnerabilities.heartbleed = heartbleed;
    vulnerabilities.ccs_injection = ccs;
    vulnerabilities.client_renegotiation = renegotiation;
    vulnerabilities.early_data = early;
    vulnerabilities.robot = robot;
    vulnerabilities.ticketbleed = ticketbleed;
}
