//! The profile file as written: serde structs that keep source spans so that semantic checks
//! can point at the offending value, plus a description of every table and key that the
//! diagnostics use for suggestions and help text.
//!
//! Values that need checking (ports, services, addresses) are read as plain strings/integers
//! rather than their final types: a serde type error stops deserialization at the first
//! problem, whereas semantic checks can report every problem in one pass.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_spanned::Spanned;

/// Read first, on its own, so that a file written for another schema version is reported as
/// such instead of as a pile of unknown keys.
#[derive(Deserialize)]
pub(super) struct VersionProbe {
    pub schema_version: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    // Checked by `VersionProbe`; declared so that the key is known here.
    #[serde(rename = "schema_version")]
    _schema_version: IgnoredAny,
    pub country: RawCountry,
    pub scope: RawScope,
    #[serde(default)]
    pub endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    pub domains: Vec<RawDomain>,
    /// Sector weights in the country index.
    #[serde(default)]
    pub weights: std::collections::BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub exceptions: Vec<RawException>,
    pub dns: Option<RawDns>,
    /// Who to write to about each operator's findings (per-operator notices).
    #[serde(default)]
    pub operators: Vec<RawOperator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOperator {
    pub name: Spanned<String>,
    pub contact: Option<Spanned<String>>,
    pub due: Option<Spanned<toml::Value>>,
    pub lang: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawException {
    pub check: Spanned<String>,
    pub target: Spanned<String>,
    pub reason: Spanned<String>,
    pub approved_by: Spanned<String>,
    pub expires: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    pub validation_signed_name: Option<Spanned<String>>,
    pub validation_bogus_name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCountry {
    pub code: Spanned<String>,
    pub name: Spanned<String>,
    pub policy: Option<Spanned<String>>,
    #[serde(default)]
    pub ca_files: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScope {
    pub names: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub networks: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow_discovered: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub host: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub service: Spanned<String>,
    pub address: Option<Spanned<String>>,
    pub sector: Spanned<String>,
    pub operator: Option<Spanned<String>>,
    pub xmpp_domain: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDomain {
    pub name: Spanned<String>,
    pub sector: Spanned<String>,
    pub operator: Option<Spanned<String>>,
}

/// A key as documented to users: what it must hold and a line that would be correct.
#[derive(Debug)]
pub(super) struct KeyInfo {
    pub name: &'static str,
    pub expects: &'static str,
    pub example: &'static str,
}

/// A table of the file and its keys, in the order the structs above declare them (which is
/// the order serde lists them in "unknown field" errors).
#[derive(Debug)]
pub(super) struct Table {
    /// Key of the table in its parent ("" for the document root).
    pub name: &'static str,
    /// How the table is written: "[country]", "[[endpoints]]".
    pub header: &'static str,
    pub keys: &'static [KeyInfo],
}

impl Table {
    /// Where a key of this table is: "at the top level", "in [country]".
    pub fn describe(&self) -> String {
        if self.header.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in {}", self.header)
        }
    }

    pub fn key(&self, name: &str) -> Option<&'static KeyInfo> {
        self.keys.iter().find(|k| k.name == name)
    }
}

const fn key(name: &'static str, expects: &'static str, example: &'static str) -> KeyInfo {
    KeyInfo { name, expects, example }
}

const SECTOR: KeyInfo = key(
    "sector",
    "a string in lower-case kebab-case such as \"cctld\", \"operator\", \"ixp\", \"regulator\", \"csirt\" or \"government\"",
    "sector = \"operator\"",
);
const OPERATOR: KeyInfo =
    key("operator", "a string naming the organisation that runs it", "operator = \"Example Telecom\"");

pub(super) const ROOT: Table = Table {
    name: "",
    header: "",
    keys: &[
        key("schema_version", "the integer 1", "schema_version = 1"),
        key("country", "a table", "a [country] table with `code` and `name`"),
        key(
            "scope",
            "a table",
            "a [scope] table listing the zones that may be assessed, e.g. [scope] names = [\"example.uy\"]",
        ),
        key(
            "endpoints",
            "an array of tables, written [[endpoints]]",
            "one [[endpoints]] table (double brackets) per endpoint",
        ),
        key(
            "domains",
            "an array of tables, written [[domains]]",
            "one [[domains]] table (double brackets) per domain",
        ),
        key(
            "weights",
            "a table of sector = weight (a number ≥ 0)",
            "[weights] cctld = 3",
        ),
        key(
            "exceptions",
            "an array of tables, written [[exceptions]]",
            "one [[exceptions]] table per accepted risk (check, target, reason, approved_by, expires)",
        ),
        key(
            "dns",
            "a table",
            "a [dns] table naming the names that tell a validating resolver, e.g. [dns] validation_signed_name = \"www.example.uy\"",
        ),
        key(
            "operators",
            "an array of tables, written [[operators]]",
            "one [[operators]] table per operator written to (name, contact, due, lang)",
        ),
    ],
};

pub(super) const TABLES: &[Table] = &[
    ROOT,
    Table {
        name: "country",
        header: "[country]",
        keys: &[
            key("code", "a string holding an ISO 3166-1 alpha-2 code", "code = \"UY\""),
            key("name", "a string", "name = \"Uruguay\""),
            key(
                "policy",
                "a string naming a file of profiles/policies/ without .toml",
                "policy = \"mozilla-intermediate\"",
            ),
            key(
                "ca_files",
                "an array of paths (relative to the profile) of PEM CA bundles",
                "ca_files = [\"uy-national-root.pem\"]",
            ),
        ],
    },
    Table {
        name: "scope",
        header: "[scope]",
        keys: &[
            key("names", "an array of DNS names", "names = [\"example.uy\"]"),
            key("networks", "an array of CIDR networks", "networks = [\"192.0.2.0/24\", \"2001:db8::/32\"]"),
            key(
                "allow_discovered",
                "true to contact discovered destinations (OCSP, CRL, AIA, MTA-STS hosts) outside the scope",
                "allow_discovered = false",
            ),
        ],
    },
    Table {
        name: "endpoints",
        header: "[[endpoints]]",
        keys: &[
            key("host", "a string holding a DNS name or an IP address", "host = \"www.example.uy\""),
            key("port", "an integer from 1 to 65535", "port = 443"),
            key("service", "a string naming a service such as \"https\" or \"smtp-starttls\"", "service = \"https\""),
            key("address", "a string holding an IPv4 or IPv6 address", "address = \"192.0.2.10\""),
            SECTOR,
            OPERATOR,
            key(
                "xmpp_domain",
                "a string holding the DNS name an XMPP stream is addressed to (xmpp-starttls, xmpp-server-starttls)",
                "xmpp_domain = \"example.uy\"",
            ),
        ],
    },
    Table {
        name: "exceptions",
        header: "[[exceptions]]",
        keys: &[
            key("check", "a check id", "check = \"tls.protocol.tls10\""),
            key("target", "HOST:PORT, HOST or a zone name", "target = \"www.example.uy:443\""),
            key("reason", "a string", "reason = \"legacy terminals until the 2027 upgrade\""),
            key("approved_by", "a string naming who accepted the risk", "approved_by = \"CISO, URSEC\""),
            key("expires", "a date YYYY-MM-DD", "expires = 2027-03-31"),
        ],
    },
    Table {
        name: "domains",
        header: "[[domains]]",
        keys: &[key("name", "a string holding a DNS name", "name = \"example.uy\""), SECTOR, OPERATOR],
    },
    Table {
        name: "dns",
        header: "[dns]",
        keys: &[
            key(
                "validation_signed_name",
                "a string holding a DNS name in a correctly signed zone",
                "validation_signed_name = \"www.example.uy\"",
            ),
            key(
                "validation_bogus_name",
                "a string holding a DNS name in a zone whose signatures are broken",
                "validation_bogus_name = \"www.dnssec-failed.org\"",
            ),
        ],
    },
    Table {
        name: "operators",
        header: "[[operators]]",
        keys: &[
            key(
                "name",
                "the operator's name as written in `operator` of its endpoints or domains",
                "name = \"Example Telecom\"",
            ),
            key(
                "contact",
                "a string naming who the notice is addressed to",
                "contact = \"Security officer <security@example.net>\"",
            ),
            key("due", "a date YYYY-MM-DD", "due = 2027-06-30"),
            key("lang", "one of \"en\", \"es\", \"pt\", \"fr\"", "lang = \"es\""),
        ],
    },
];

/// The table whose keys are exactly `keys` (as serde lists them in an "unknown field" error).
pub(super) fn table_with_keys(keys: &[&str]) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.keys.len() == keys.len() && t.keys.iter().zip(keys).all(|(k, n)| k.name == *n))
}

/// The only table that has `key`, if just one has it.
pub(super) fn table_of_key(key: &str) -> Option<&'static Table> {
    let mut having = TABLES.iter().filter(|t| t.key(key).is_some());
    let first = having.next()?;
    having.next().is_none().then_some(first)
}

/// Help for `key` wherever it appears (keys shared between tables mean the same thing).
pub(super) fn key_info(key: &str) -> Option<&'static KeyInfo> {
    TABLES.iter().find_map(|t| t.key(key))
}
