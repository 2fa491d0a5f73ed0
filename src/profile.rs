//! Country profile v1 (`profiles/<cc>.toml`): what a country declares for assessment.
//!
//! CONTRACT (fixed; the CLI and engine use these names): `Profile`, `Endpoint`, `Service`,
//! `Scope`, `ProfileError`, `Profile::load`, `Profile::parse`, `Scope::allows_name`,
//! `Scope::allows_address`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A validated country profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Where it was read from (for messages).
    pub source: PathBuf,
    /// ISO 3166-1 alpha-2 code, upper case ("UY").
    pub country_code: String,
    pub country_name: String,
    /// Name of the policy baseline (`profiles/policies/<name>.toml`), if given.
    pub policy: Option<String>,
    pub endpoints: Vec<Endpoint>,
    /// Zones for DNS and mail hygiene (used by later DNS work).
    pub domains: Vec<Domain>,
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub service: Service,
    /// A pinned address: scan this address instead of resolving `host`.
    pub address: Option<IpAddr>,
    pub sector: String,
    pub operator: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub name: String,
    pub sector: String,
    pub operator: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Https,
    Tls,
    SmtpStarttls,
    Smtps,
    ImapStarttls,
    Imaps,
    Pop3Starttls,
    Pop3s,
    DnsAuth,
    DnsResolver,
}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Name patterns: "example.uy" (that name and every name under it) .
    pub names: Vec<String>,
    pub networks: Vec<ipnet::IpNet>,
}

impl Scope {
    pub fn allows_name(&self, host: &str) -> bool {
        let _ = host;
        todo!()
    }
    pub fn allows_address(&self, address: IpAddr) -> bool {
        let _ = address;
        todo!()
    }
}

/// A profile that could not be read or is invalid: Display gives `file:line:column: message`
/// followed by what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let _ = path;
        todo!()
    }
    /// Parse from text; `source` names the file in messages.
    pub fn parse(text: &str, source: &Path) -> Result<Profile, ProfileError> {
        let _ = (text, source);
        todo!()
    }
}
