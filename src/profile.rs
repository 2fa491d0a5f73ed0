//! Country profile v1 (`profiles/<cc>.toml`): what a country declares for assessment — the
//! endpoints to probe, the zones to check, and the scope that bounds both.
//!
//! The scope is the authorization boundary of a run: a profile whose endpoints, pinned
//! addresses or domains fall outside its own `[scope]` is rejected, so a typo cannot point the
//! scanner at someone else's infrastructure. `profiles/example.toml` documents every key.
//!
//! Errors are meant to be fixed by the people who write profiles, not by developers: each one
//! is located as `FILE:LINE:COLUMN` and says what to change, and all semantic problems of a
//! file are reported together.
//!
//! CONTRACT (fixed; the CLI and engine use these names): `Profile`, `Endpoint`, `Service`,
//! `Scope`, `ProfileError`, `Profile::load`, `Profile::parse`, `Scope::allows_name`,
//! `Scope::allows_address`.

pub(crate) mod diagnostic;
mod operators;
mod raw;
mod validate;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The only `schema_version` this build reads.
pub const SCHEMA_VERSION: i64 = 1;

/// A validated country profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    /// Where it was read from (for messages).
    pub source: PathBuf,
    /// ISO 3166-1 alpha-2 code, upper case ("UY").
    pub country_code: String,
    pub country_name: String,
    /// Name of the policy baseline (`profiles/policies/<name>.toml`), if given.
    pub policy: Option<String>,
    /// CA bundles (PEM) of the country's own PKI, judged as trust stores beside Mozilla's;
    /// resolved against the profile's directory.
    pub ca_files: Vec<PathBuf>,
    pub endpoints: Vec<Endpoint>,
    /// Zones for DNS and mail hygiene.
    pub domains: Vec<Domain>,
    /// Settings of the DNS probes (`[dns]`).
    pub dns: DnsSettings,
    pub scope: Scope,
    /// Sector → weight in the country index (sectors not listed weigh 1).
    pub sector_weights: std::collections::BTreeMap<String, f64>,
    /// Comply-or-explain exceptions.
    pub exceptions: Vec<ProfileException>,
    /// Who to write to about each operator's findings (`[[operators]]`).
    pub operators: Vec<OperatorContact>,
}

/// An operator the regulator writes to: its per-operator notice's addressee, deadline and
/// language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorContact {
    /// As in `operator` of its endpoints and domains.
    pub name: String,
    pub contact: Option<String>,
    /// YYYY-MM-DD: by when findings must be fixed or explained.
    pub due: Option<String>,
    /// The notice's language (en, es, pt, fr); the report's language when absent.
    pub lang: Option<String>,
}

/// An accepted risk: a failing check on one target or zone, with who approved it and until when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProfileException {
    pub check: String,
    /// `host:port`, `host` or a zone name.
    pub target: String,
    pub reason: String,
    pub approved_by: String,
    /// YYYY-MM-DD.
    pub expires: String,
    /// 1-based line in the profile (for messages about unknown check ids).
    pub line: usize,
}

/// The `[dns]` table: names that tell whether a declared resolver validates DNSSEC.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DnsSettings {
    /// A name in a correctly signed zone (a validating resolver sets AD).
    pub validation_signed_name: Option<String>,
    /// A name in a zone with broken signatures (a validating resolver answers SERVFAIL).
    pub validation_bogus_name: Option<String>,
}

/// One service to probe. In a loaded profile `host` is lower case without a trailing dot
/// (or an IP address in its canonical text form) and `port` is the effective port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub service: Service,
    /// A pinned address: scan this address instead of resolving `host`.
    pub address: Option<IpAddr>,
    pub sector: String,
    pub operator: Option<String>,
    /// The domain an XMPP stream is addressed to (`to`), when it is not `host` (an XMPP
    /// service of example.uy served by xmpp.example.uy); lower case, no trailing dot.
    pub xmpp_domain: Option<String>,
}

/// A zone whose DNS and mail hygiene is assessed. `name` is lower case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domain {
    pub name: String,
    pub sector: String,
    pub operator: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
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
    FtpStarttls,
    XmppStarttls,
    XmppServerStarttls,
    LdapStarttls,
    PostgresStarttls,
    MysqlStarttls,
    NntpStarttls,
    SieveStarttls,
    LmtpStarttls,
}

impl PartialEq<&str> for Service {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl Service {
    /// Every service, in the order they are documented.
    pub const ALL: [Service; 19] = [
        Service::Https,
        Service::Tls,
        Service::SmtpStarttls,
        Service::Smtps,
        Service::ImapStarttls,
        Service::Imaps,
        Service::Pop3Starttls,
        Service::Pop3s,
        Service::DnsAuth,
        Service::DnsResolver,
        Service::FtpStarttls,
        Service::XmppStarttls,
        Service::XmppServerStarttls,
        Service::LdapStarttls,
        Service::PostgresStarttls,
        Service::MysqlStarttls,
        Service::NntpStarttls,
        Service::SieveStarttls,
        Service::LmtpStarttls,
    ];

    /// Services upgraded from a plaintext dialogue (the connector runs it first).
    pub const fn starttls(self) -> Option<crate::starttls::Starttls> {
        match self {
            Service::SmtpStarttls => Some(crate::starttls::Starttls::Smtp),
            Service::ImapStarttls => Some(crate::starttls::Starttls::Imap),
            Service::Pop3Starttls => Some(crate::starttls::Starttls::Pop3),
            Service::FtpStarttls => Some(crate::starttls::Starttls::Ftp),
            Service::XmppStarttls => Some(crate::starttls::Starttls::Xmpp),
            Service::XmppServerStarttls => Some(crate::starttls::Starttls::XmppServer),
            Service::LdapStarttls => Some(crate::starttls::Starttls::Ldap),
            Service::PostgresStarttls => Some(crate::starttls::Starttls::Postgres),
            Service::MysqlStarttls => Some(crate::starttls::Starttls::Mysql),
            Service::NntpStarttls => Some(crate::starttls::Starttls::Nntp),
            Service::SieveStarttls => Some(crate::starttls::Starttls::Sieve),
            Service::LmtpStarttls => Some(crate::starttls::Starttls::Lmtp),
            _ => None,
        }
    }

    /// The name used in profiles and reports ("smtp-starttls").
    pub const fn name(self) -> &'static str {
        match self {
            Service::Https => "https",
            Service::Tls => "tls",
            Service::SmtpStarttls => "smtp-starttls",
            Service::Smtps => "smtps",
            Service::ImapStarttls => "imap-starttls",
            Service::Imaps => "imaps",
            Service::Pop3Starttls => "pop3-starttls",
            Service::Pop3s => "pop3s",
            Service::DnsAuth => "dns-auth",
            Service::DnsResolver => "dns-resolver",
            Service::FtpStarttls => "ftp-starttls",
            Service::XmppStarttls => "xmpp-starttls",
            Service::XmppServerStarttls => "xmpp-server-starttls",
            Service::LdapStarttls => "ldap-starttls",
            Service::PostgresStarttls => "postgres-starttls",
            Service::MysqlStarttls => "mysql-starttls",
            Service::NntpStarttls => "nntp-starttls",
            Service::SieveStarttls => "sieve-starttls",
            Service::LmtpStarttls => "lmtp-starttls",
        }
    }

    /// The IANA port an endpoint of this service uses when the profile gives none.
    pub const fn default_port(self) -> u16 {
        match self {
            Service::Https | Service::Tls => 443,
            Service::SmtpStarttls => 25,
            Service::Smtps => 465,
            Service::ImapStarttls => 143,
            Service::Imaps => 993,
            Service::Pop3Starttls => 110,
            Service::Pop3s => 995,
            Service::DnsAuth | Service::DnsResolver => 53,
            Service::FtpStarttls => 21,
            Service::XmppStarttls => 5222,
            Service::XmppServerStarttls => 5269,
            Service::LdapStarttls => 389,
            Service::PostgresStarttls => 5432,
            Service::MysqlStarttls => 3306,
            Service::NntpStarttls => 119,
            Service::SieveStarttls => 4190,
            Service::LmtpStarttls => 24,
        }
    }

    /// The valid names, comma separated, for messages.
    pub fn names_list() -> String {
        Service::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A service name that is not one of [`Service::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service \"{0}\" (valid: {list})", list = Service::names_list())]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    /// Exact names only: profiles are meant to be diffable, so "HTTPS" is not silently accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL.into_iter().find(|service| service.name() == s).ok_or_else(|| UnknownService(s.to_string()))
    }
}

/// What a profile allows to be assessed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Scope {
    /// Name patterns: "example.uy" (that name and every name under it) .
    pub names: Vec<String>,
    /// Networks that addresses must fall in; empty means any address.
    pub networks: Vec<ipnet::IpNet>,
    /// Contact discovered destinations (OCSP, CRL, AIA, MTA-STS hosts, redirects) even outside
    /// the names and networks, knowingly (`--allow-discovered` does the same for one scan).
    pub allow_discovered: bool,
}

impl Scope {
    /// Whether `host` equals a pattern of `names` or lies under one ("www.example.uy" under
    /// "example.uy", but not "badexample.uy"). Case-insensitive; a trailing dot on either side
    /// is ignored. IP literals are not names and are never allowed here (see
    /// [`Scope::allows_address`] and [`Scope::allows_host`]); patterns are matched literally,
    /// so "*" matches nothing.
    pub fn allows_name(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.parse::<IpAddr>().is_ok() {
            return false;
        }
        self.names.iter().any(|pattern| name_under(host, pattern))
    }

    /// Whether `address` lies in one of `networks`; with no networks declared, every address
    /// is allowed. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as their IPv4 form.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let canonical = address.to_canonical();
        self.networks.iter().any(|net| net.contains(&address) || net.contains(&canonical))
    }

    /// [`Scope::allows_address`] for an IP literal (IPv6 with or without brackets),
    /// [`Scope::allows_name`] for anything else: the check for an endpoint's `host`.
    pub fn allows_host(&self, host: &str) -> bool {
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(address) => self.allows_address(address),
            Err(_) => self.allows_name(host),
        }
    }
}

/// `host` (already without trailing dot) equals `pattern` or ends with "." + `pattern`.
fn name_under(host: &str, pattern: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    if pattern.is_empty() || host.len() < pattern.len() {
        return false;
    }
    let split = host.len() - pattern.len();
    if !host.is_char_boundary(split) || !host[split..].eq_ignore_ascii_case(pattern) {
        return false;
    }
    split == 0 || host[..split].ends_with('.')
}

/// A profile that could not be read or is invalid: Display gives `file:line:column: message`
/// followed by what to change.
///
/// Each problem is a block of two lines, `FILE:LINE:COLUMN: error: MESSAGE` and
/// `  help: WHAT TO CHANGE`; an invalid file yields one block per problem, in file order. A
/// file that cannot be read yields the single line `FILE: error: cannot read: REASON`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

impl Profile {
    /// Reads and validates the profile at `path`.
    ///
    /// # Errors
    /// A file that cannot be read or is not UTF-8, and everything [`Profile::parse`] rejects.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let bytes =
            std::fs::read(path).map_err(|e| ProfileError(format!("{}: error: cannot read: {e}", path.display())))?;
        match String::from_utf8(bytes) {
            Ok(text) => Profile::parse(&text, path),
            Err(e) => {
                // Locate the bad byte so the user can find it; the valid prefix is real text.
                let valid = e.utf8_error().valid_up_to();
                let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
                let diagnostic =
                    diagnostic::Diagnostic::new(valid, "the file is not valid UTF-8", "save the profile as UTF-8 text");
                Err(ProfileError(diagnostic::render(vec![diagnostic], &prefix, path)))
            }
        }
    }

    /// Parse from text; `source` names the file in messages.
    ///
    /// # Errors
    /// TOML syntax errors, unknown/missing/mistyped keys (one error: parsing stops there), and
    /// otherwise every semantic problem of the file (values, duplicates, scope).
    pub fn parse(text: &str, source: &Path) -> Result<Profile, ProfileError> {
        validate::profile(text, source)
            .map_err(|diagnostics| ProfileError(diagnostic::render(diagnostics, text, source)))
    }

    /// Descriptions of the endpoints and domains that lie outside `scope`. Always empty for a
    /// profile from [`Profile::load`]/[`Profile::parse`]; meant for profiles that are built or
    /// narrowed in code, before they are handed to the engine.
    pub fn scope_violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for e in &self.endpoints {
            let what = format!("endpoint {} port {} ({})", e.host, e.port, e.service);
            if !self.scope.allows_host(&e.host) {
                violations.push(format!("{what}: host is outside the scope"));
            }
            if let Some(address) = e.address {
                if !self.scope.allows_address(address) {
                    violations.push(format!("{what}: pinned address {address} is outside scope.networks"));
                }
            }
        }
        for d in &self.domains {
            if !self.scope.allows_name(&d.name) {
                violations.push(format!("domain {}: name is outside scope.names", d.name));
            }
        }
        violations
    }
}
