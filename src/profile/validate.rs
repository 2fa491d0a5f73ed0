//! Semantic checks of a deserialized profile, turning the raw file into a [`Profile`].
//!
//! Every check records its problem and carries on, so that one run reports everything that is
//! wrong with a file. A value that is itself invalid is left out of the checks that depend on
//! it (an unparsable network does not make every address "out of scope"), so each mistake is
//! reported once, where it was made.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

use super::diagnostic::{self, closest, Diagnostic};
use super::raw::{RawDomain, RawEndpoint, RawException, RawProfile, RawScope, VersionProbe};
use super::{DnsSettings, Domain, Endpoint, Profile, ProfileException, Scope, Service, SCHEMA_VERSION};

/// Sectors that reports group by; others are accepted but these are the documented vocabulary.
const COMMON_SECTORS: &[&str] = &["cctld", "operator", "ixp", "regulator", "csirt", "government"];

pub(super) fn profile(text: &str, source: &Path) -> Result<Profile, Vec<Diagnostic>> {
    let probe: VersionProbe = toml::from_str(text).map_err(|e| vec![diagnostic::from_toml(&e, text)])?;
    check_version(probe.schema_version)?;
    let raw: RawProfile = toml::from_str(text).map_err(|e| vec![diagnostic::from_toml(&e, text)])?;

    let mut v =
        Validator { text, diagnostics: Vec::new(), endpoints_seen: HashMap::new(), domains_seen: HashMap::new() };
    let country_code = v.country_code(&raw.country.code);
    let country_name = v.non_empty(&raw.country.name, "country.name", "name = \"Uruguay\"");
    let policy = raw.country.policy.as_ref().and_then(|p| v.policy(p));
    let ca_files: Vec<PathBuf> = raw.country.ca_files.iter().filter_map(|f| v.ca_file(f, source)).collect();
    let scope = v.scope(&raw.scope);
    let endpoints: Vec<Endpoint> = raw.endpoints.iter().filter_map(|e| v.endpoint(e, &scope)).collect();
    let domains: Vec<Domain> = raw.domains.iter().filter_map(|d| v.domain(d, &scope)).collect();
    let dns = raw.dns.as_ref().map(|dns| DnsSettings {
        validation_signed_name: dns
            .validation_signed_name
            .as_ref()
            .and_then(|n| v.validation_name(n, "validation_signed_name")),
        validation_bogus_name: dns
            .validation_bogus_name
            .as_ref()
            .and_then(|n| v.validation_name(n, "validation_bogus_name")),
    });
    if raw.endpoints.is_empty() && raw.domains.is_empty() {
        v.error(
            0,
            "the profile declares no [[endpoints]] and no [[domains]]: there is nothing to assess",
            "add at least one [[endpoints]] table (host, service, sector) or [[domains]] table (name, sector)",
        );
    }

    let sector_weights = v.weights(&raw.weights);
    let exceptions: Vec<ProfileException> = raw.exceptions.iter().filter_map(|e| v.exception(e, &scope)).collect();
    let declared = endpoints
        .iter()
        .filter_map(|e| e.operator.clone())
        .chain(domains.iter().filter_map(|d| d.operator.clone()))
        .collect();
    let (operators, problems) = super::operators::operators(&raw.operators, &declared, is_date);
    v.diagnostics.extend(problems);

    if !v.diagnostics.is_empty() {
        return Err(v.diagnostics);
    }
    match (country_code, country_name) {
        (Some(country_code), Some(country_name)) => Ok(Profile {
            source: source.to_path_buf(),
            country_code,
            country_name,
            policy,
            ca_files,
            endpoints,
            domains,
            dns: dns.unwrap_or_default(),
            scope: scope.scope,
            sector_weights,
            exceptions,
            operators,
        }),
        // Unreachable: a missing value always comes with a diagnostic.
        _ => Err(vec![Diagnostic::new(0, "the profile is invalid", "see profiles/example.toml")]),
    }
}

fn check_version(version: Option<Spanned<toml::Value>>) -> Result<(), Vec<Diagnostic>> {
    let Some(version) = version else {
        return Err(vec![Diagnostic::new(
            0,
            "missing required key `schema_version` at the top level",
            format!("add `schema_version = {SCHEMA_VERSION}` as the first line of the file"),
        )]);
    };
    let offset = version.span().start;
    match version.get_ref() {
        toml::Value::Integer(n) if *n == SCHEMA_VERSION => Ok(()),
        toml::Value::Integer(n) => Err(vec![Diagnostic::new(
            offset,
            format!("unsupported `schema_version` {n}: this version of postura reads schema_version {SCHEMA_VERSION}"),
            format!("write the profile in the version {SCHEMA_VERSION} format (see profiles/example.toml) and set schema_version = {SCHEMA_VERSION}"),
        )]),
        other => Err(vec![Diagnostic::new(
            offset,
            format!("`schema_version` must be the integer {SCHEMA_VERSION}, found {}", found(other)),
            format!("write schema_version = {SCHEMA_VERSION} (no quotes)"),
        )]),
    }
}

/// A value as messages show it; only short scalars are shown in full, so that a diagnostic
/// stays on its line.
fn found(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Float(f) => format!("float {f}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        other => format!("a {}", other.type_str()),
    }
}

/// The scope as declared, plus whether it could be used to judge names and addresses.
struct CheckedScope {
    scope: Scope,
    names_usable: bool,
    networks_usable: bool,
}

struct Validator<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// Where each (host, port, service) was first declared, to report duplicates.
    endpoints_seen: HashMap<(String, u16, Service), usize>,
    domains_seen: HashMap<String, usize>,
}

/// An endpoint host: a DNS name (normalised) or an IP literal.
enum Host {
    Name(String),
    Address(IpAddr),
}

impl Host {
    fn text(&self) -> String {
        match self {
            Host::Name(name) => name.clone(),
            Host::Address(ip) => ip.to_string(),
        }
    }
}

/// Why a string is not a DNS name, and what to write instead when that can be guessed.
struct NameProblem {
    reason: String,
    help: Option<String>,
}

impl Validator<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(offset, message, help));
    }

    fn country_code(&mut self, code: &Spanned<String>) -> Option<String> {
        let value = code.get_ref();
        if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Some(value.to_ascii_uppercase());
        }
        let help = if value.chars().count() == 3 && value.chars().all(|c| c.is_ascii_alphabetic()) {
            format!(
                "{value:?} looks like an alpha-3 code: use the alpha-2 code instead (e.g. code = \"UY\", not \"URY\")"
            )
        } else {
            "write the two-letter ISO 3166-1 alpha-2 code, e.g. code = \"UY\"".to_string()
        };
        self.error(
            code.span().start,
            format!("`country.code` must be an ISO 3166-1 alpha-2 code (two ASCII letters), found {value:?}"),
            help,
        );
        None
    }

    fn non_empty(&mut self, value: &Spanned<String>, field: &str, example: &str) -> Option<String> {
        let text = value.get_ref().trim();
        if text.is_empty() {
            self.error(value.span().start, format!("`{field}` is empty"), format!("write a value, e.g. {example}"));
            return None;
        }
        Some(text.to_string())
    }

    fn policy(&mut self, policy: &Spanned<String>) -> Option<String> {
        let value = policy.get_ref();
        // The name becomes a file name under profiles/policies/, so it must not be a path.
        if is_kebab(value) {
            return Some(value.clone());
        }
        self.error(
            policy.span().start,
            format!("`country.policy` {value:?} is not a policy name: it must be lower-case kebab-case (letters, digits, hyphens)"),
            "name a file of profiles/policies/ without its .toml extension, e.g. policy = \"mozilla-intermediate\"; or remove `policy`",
        );
        None
    }

    /// A CA bundle path, relative to the profile's directory; it must be a readable file.
    fn ca_file(&mut self, file: &Spanned<String>, source: &Path) -> Option<PathBuf> {
        let value = file.get_ref();
        let base = source.parent().unwrap_or_else(|| Path::new(""));
        let path = base.join(value);
        if !value.is_empty() && std::fs::File::open(&path).is_ok_and(|f| f.metadata().is_ok_and(|m| m.is_file())) {
            return Some(path);
        }
        self.error(
            file.span().start,
            format!("`country.ca_files` entry {value:?}: {} is not a readable file", path.display()),
            "give the path of a PEM CA bundle, relative to the profile file, e.g. ca_files = [\"uy-national-root.pem\"]",
        );
        None
    }

    fn weights(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<toml::Value>>,
    ) -> std::collections::BTreeMap<String, f64> {
        let mut weights = std::collections::BTreeMap::new();
        for (sector, value) in raw {
            let number = match value.get_ref() {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                _ => None,
            };
            match number {
                Some(w) if w.is_finite() && w >= 0.0 => {
                    weights.insert(sector.clone(), w);
                }
                _ => self.error(
                    value.span().start,
                    format!("weights.{sector} must be a number of 0 or more"),
                    format!("write it as {sector} = 2"),
                ),
            }
        }
        weights
    }

    fn exception(&mut self, raw: &RawException, scope: &CheckedScope) -> Option<ProfileException> {
        let before = self.diagnostics.len();
        let check = raw.check.get_ref().trim().to_string();
        let id_ok = check.split('.').count() >= 2
            && check
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        if !id_ok {
            self.error(
                raw.check.span().start,
                format!("exceptions.check \"{check}\" is not a check id"),
                "use an id from `postura checks list`, e.g. check = \"tls.protocol.tls10\"",
            );
        }
        let target = raw.target.get_ref().trim().to_ascii_lowercase();
        let host = match target.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() && !host.contains(':') => host,
            _ => target.as_str(),
        };
        if host.is_empty() {
            self.error(
                raw.target.span().start,
                "exceptions.target is empty",
                "name the endpoint as HOST:PORT or HOST, or a zone",
            );
        } else if scope.names_usable && !scope.scope.allows_host(host) {
            self.error(
                raw.target.span().start,
                format!("exceptions.target \"{target}\" is outside the declared scope"),
                scope_help(host, "the exception's target"),
            );
        }
        for (value, field) in [(&raw.reason, "reason"), (&raw.approved_by, "approved_by")] {
            if value.get_ref().trim().is_empty() {
                self.error(
                    value.span().start,
                    format!("exceptions.{field} is empty"),
                    "comply-or-explain needs the reason and who approved it",
                );
            }
        }
        let expires = match raw.expires.get_ref() {
            toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            toml::Value::String(s) if is_date(s) => s.clone(),
            _ => {
                self.error(
                    raw.expires.span().start,
                    "exceptions.expires must be a date",
                    "write it as expires = 2027-03-31",
                );
                String::new()
            }
        };
        if self.diagnostics.len() != before {
            return None;
        }
        let line = self.text[..raw.check.span().start.min(self.text.len())].matches('\n').count() + 1;
        Some(ProfileException {
            check,
            target,
            reason: raw.reason.get_ref().trim().to_string(),
            approved_by: raw.approved_by.get_ref().trim().to_string(),
            expires,
            line,
        })
    }

    fn sector(&mut self, sector: &Spanned<String>) -> Option<String> {
        let value = sector.get_ref();
        if is_kebab(value) {
            return Some(value.clone());
        }
        let common = COMMON_SECTORS.join(", ");
        let kebab = to_kebab(value);
        let help = if kebab.is_empty() {
            format!("write a lower-case kebab-case sector; common ones: {common}")
        } else {
            format!("write sector = \"{kebab}\" (lower-case kebab-case; common sectors: {common})")
        };
        self.error(
            sector.span().start,
            format!("`sector` {value:?} must be lower-case kebab-case (letters, digits, hyphens)"),
            help,
        );
        None
    }

    fn operator(&mut self, operator: Option<&Spanned<String>>) -> Option<String> {
        let operator = operator?;
        if operator.get_ref().trim().is_empty() {
            self.error(
                operator.span().start,
                "`operator` is empty",
                "name the organisation that runs it, e.g. operator = \"Example Telecom\", or remove `operator`",
            );
            return None;
        }
        Some(operator.get_ref().trim().to_string())
    }

    fn scope(&mut self, raw: &RawScope) -> CheckedScope {
        let mut scope = Scope::default();
        let mut names_usable = true;
        let mut networks_usable = true;
        for pattern in raw.names.get_ref() {
            let value = pattern.get_ref();
            let offset = pattern.span().start;
            if value.contains('*') {
                names_usable = false;
                let without = value.trim_start_matches(['*', '.']);
                let help = if without.is_empty() || without.contains('*') {
                    "list the zones that may be assessed, e.g. names = [\"example.uy\"]; a pattern already covers every name under it".to_string()
                } else {
                    format!("write {without:?}: a pattern already covers that name and every name under it")
                };
                self.error(
                    offset,
                    format!("`scope.names` pattern {value:?} contains `*`: wildcards are not allowed"),
                    help,
                );
            } else if let Ok(address) = value.parse::<IpAddr>() {
                names_usable = false;
                let prefix = if address.is_ipv4() { 32 } else { 128 };
                self.error(
                    offset,
                    format!("`scope.names` pattern {value:?} is an IP address, not a DNS name"),
                    format!("put addresses in scope.networks, e.g. networks = [\"{address}/{prefix}\"]"),
                );
            } else {
                match dns_name(value) {
                    Ok(name) => scope.names.push(name),
                    Err(problem) => {
                        names_usable = false;
                        self.error(
                            offset,
                            format!("`scope.names` pattern {value:?} is not a valid DNS name: {}", problem.reason),
                            problem.help.unwrap_or_else(|| "write a zone name such as \"example.uy\"".to_string()),
                        );
                    }
                }
            }
        }
        for network in &raw.networks {
            match self.network(network) {
                Some(net) => scope.networks.push(net),
                None => networks_usable = false,
            }
        }
        scope.allow_discovered = raw.allow_discovered;
        CheckedScope { scope, names_usable, networks_usable }
    }

    fn network(&mut self, network: &Spanned<String>) -> Option<ipnet::IpNet> {
        let value = network.get_ref().trim();
        let offset = network.span().start;
        let message = format!("`scope.networks` entry {value:?} is not a CIDR network");
        if let Ok(address) = value.parse::<IpAddr>() {
            let prefix = if address.is_ipv4() { 32 } else { 128 };
            self.error(
                offset,
                format!("{message}: it has no prefix length"),
                format!(
                    "write \"{address}/{prefix}\" to allow this single address, or give the network's prefix length"
                ),
            );
            return None;
        }
        match value.parse::<ipnet::IpNet>() {
            Ok(net) if net.addr() != net.network() => {
                // A host part usually means a mistyped prefix length; guessing could widen the
                // scope, so ask instead of truncating.
                self.error(
                    offset,
                    format!("{message}: {} has host bits set beyond the /{} prefix", net.addr(), net.prefix_len()),
                    format!(
                        "write \"{}\" for the whole network, or \"{}/{}\" for the single address",
                        net.trunc(),
                        net.addr(),
                        net.max_prefix_len()
                    ),
                );
                None
            }
            Ok(net) => Some(net),
            Err(_) => {
                self.error(
                    offset,
                    message,
                    "write ADDRESS/PREFIX-LENGTH, e.g. \"192.0.2.0/24\" (prefix 0-32) or \"2001:db8::/32\" (prefix 0-128)",
                );
                None
            }
        }
    }

    fn address(&mut self, address: &Spanned<String>) -> Option<IpAddr> {
        let value = address.get_ref().trim();
        let offset = address.span().start;
        if let Ok(ip) = value.parse::<IpAddr>() {
            if ip.is_unspecified() || ip.is_multicast() {
                self.error(
                    offset,
                    format!("`address` {ip} is not a host address (unspecified or multicast) and cannot be scanned"),
                    "pin the unicast address of the server, or remove `address` to resolve `host`",
                );
                return None;
            }
            return Some(ip);
        }
        let help = if value.contains('/') {
            "`address` pins one address: drop the /prefix, and put networks in scope.networks".to_string()
        } else if value.starts_with('[') {
            format!("write the IPv6 address without brackets, e.g. address = {:?}", value.trim_matches(['[', ']']))
        } else if value.parse::<std::net::SocketAddr>().is_ok() {
            "`address` is the address alone: move the port to `port`".to_string()
        } else {
            "write one IPv4 or IPv6 address, e.g. address = \"192.0.2.10\" or \"2001:db8::10\"; or remove `address` to resolve `host`".to_string()
        };
        self.error(offset, format!("`address` {value:?} is not a valid IPv4 or IPv6 address"), help);
        None
    }

    fn service(&mut self, service: &Spanned<String>) -> Option<Service> {
        let value = service.get_ref();
        match value.parse::<Service>() {
            Ok(s) => Some(s),
            Err(_) => {
                let list = Service::names_list();
                let help = match closest(value, Service::ALL.iter().map(|s| s.name())) {
                    Some(near) => format!("did you mean \"{near}\"? valid services: {list}"),
                    None => format!("use one of: {list}"),
                };
                self.error(service.span().start, format!("unknown `service` {value:?}"), help);
                None
            }
        }
    }

    fn port(&mut self, port: &Spanned<i64>, service: Option<Service>) -> Option<u16> {
        let value = *port.get_ref();
        if let Some(p) = u16::try_from(value).ok().filter(|&p| p != 0) {
            return Some(p);
        }
        let help = match service {
            Some(s) => format!(
                "set the port the service listens on, or remove `port` to use the {s} default ({})",
                s.default_port()
            ),
            None => "set the port the service listens on, from 1 to 65535".to_string(),
        };
        self.error(port.span().start, format!("`port` must be from 1 to 65535, found {value}"), help);
        None
    }

    fn endpoint(&mut self, raw: &RawEndpoint, scope: &CheckedScope) -> Option<Endpoint> {
        let host = self.host(&raw.host);
        let service = self.service(&raw.service);
        let port = match &raw.port {
            Some(p) => self.port(p, service),
            None => service.map(Service::default_port),
        };
        let address = raw.address.as_ref().and_then(|a| self.address(a));
        let sector = self.sector(&raw.sector);
        let operator = self.operator(raw.operator.as_ref());
        let xmpp_domain = raw.xmpp_domain.as_ref().and_then(|domain| self.xmpp_domain(domain, service));
        let host_offset = raw.host.span().start;

        match &host {
            Some(Host::Name(name)) if scope.names_usable && !scope.scope.allows_name(name) => {
                self.error(
                    host_offset,
                    format!("`host` {name:?} is outside the declared scope ({})", names_in_scope(&scope.scope)),
                    scope_help(name, "this endpoint"),
                );
            }
            Some(Host::Address(ip)) if scope.networks_usable && !scope.scope.allows_address(*ip) => {
                self.error(
                    host_offset,
                    format!("`host` {ip} is outside the declared scope ({})", networks_in_scope(&scope.scope)),
                    network_help(*ip, "this endpoint"),
                );
            }
            _ => {}
        }
        if let (Some(ip), Some(a)) = (address, &raw.address) {
            if let Some(Host::Address(literal)) = &host {
                // The host literal is what gets scanned and was checked above; a different
                // pinned address must be resolved before its scope matters.
                if *literal != ip {
                    self.error(
                        a.span().start,
                        format!("pinned `address` {ip} contradicts `host` {literal}"),
                        "an endpoint whose host is an address needs no `address`: remove it, or set `host` to the server's name",
                    );
                }
            } else if scope.networks_usable && !scope.scope.allows_address(ip) {
                self.error(
                    a.span().start,
                    format!(
                        "pinned `address` {ip} is outside the declared scope ({})",
                        networks_in_scope(&scope.scope)
                    ),
                    network_help(ip, "the address"),
                );
            }
        }

        let (host, port, service) = (host?, port?, service?);
        let key = (host.text(), port, service);
        if let Some(&first) = self.endpoints_seen.get(&key) {
            let (line, _) = diagnostic::line_column(self.text, first);
            self.error(
                host_offset,
                format!(
                    "duplicate endpoint: `host` \"{}\", `port` {port} and `service` \"{service}\" are the same as in the endpoint at line {line}",
                    key.0
                ),
                "remove one of the two [[endpoints]] tables, or correct its host, port or service",
            );
        } else {
            self.endpoints_seen.insert(key, host_offset);
        }
        Some(Endpoint { host: host.text(), port, service, address, sector: sector?, operator, xmpp_domain })
    }

    /// The domain an XMPP endpoint's stream names (`to`), when it is not the host.
    fn xmpp_domain(&mut self, raw: &Spanned<String>, service: Option<Service>) -> Option<String> {
        let offset = raw.span().start;
        if service.is_some_and(|s| !s.starttls().is_some_and(|protocol| protocol.is_xmpp())) {
            self.error(
                offset,
                "`xmpp_domain` applies only to xmpp-starttls and xmpp-server-starttls endpoints".to_string(),
                "remove it, or set `service` to \"xmpp-starttls\" or \"xmpp-server-starttls\"",
            );
            return None;
        }
        match dns_name(raw.get_ref()) {
            Ok(name) => Some(name),
            Err(problem) => {
                self.error(
                    offset,
                    format!("`xmpp_domain` {:?} is not a valid DNS name: {}", raw.get_ref(), problem.reason),
                    problem.help.unwrap_or_else(|| "write the XMPP domain, such as \"example.uy\"".to_string()),
                );
                None
            }
        }
    }

    fn host(&mut self, host: &Spanned<String>) -> Option<Host> {
        let value = host.get_ref();
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Some(Host::Address(ip));
        }
        match dns_name(value) {
            Ok(name) => Some(Host::Name(name)),
            Err(problem) => {
                self.error(
                    host.span().start,
                    format!("`host` {value:?} is not a valid DNS name or IP address: {}", problem.reason),
                    problem.help.unwrap_or_else(|| {
                        "write a host name such as \"www.example.uy\" or an address such as \"192.0.2.10\"".to_string()
                    }),
                );
                None
            }
        }
    }

    /// A name a resolver is asked for (it need not be in the scope: it is not scanned).
    fn validation_name(&mut self, raw: &Spanned<String>, field: &str) -> Option<String> {
        match dns_name(raw.get_ref()) {
            Ok(name) => Some(name),
            Err(problem) => {
                self.error(
                    raw.span().start,
                    format!("`dns.{field}` {:?} is not a valid DNS name: {}", raw.get_ref(), problem.reason),
                    problem.help.unwrap_or_else(|| "write a name such as \"www.example.uy\"".to_string()),
                );
                None
            }
        }
    }

    fn domain(&mut self, raw: &RawDomain, scope: &CheckedScope) -> Option<Domain> {
        let value = raw.name.get_ref();
        let offset = raw.name.span().start;
        let name = if value.parse::<IpAddr>().is_ok() {
            self.error(
                offset,
                format!("domain `name` {value:?} is an IP address, not a DNS zone"),
                "name the zone, e.g. name = \"example.uy\"; addresses to probe go in [[endpoints]]",
            );
            None
        } else {
            match dns_name(value) {
                Ok(name) => Some(name),
                Err(problem) => {
                    self.error(
                        offset,
                        format!("domain `name` {value:?} is not a valid DNS name: {}", problem.reason),
                        problem.help.unwrap_or_else(|| "write a zone name such as \"example.uy\"".to_string()),
                    );
                    None
                }
            }
        };
        let sector = self.sector(&raw.sector);
        let operator = self.operator(raw.operator.as_ref());
        let name = name?;
        if scope.names_usable && !scope.scope.allows_name(&name) {
            self.error(
                offset,
                format!("domain `name` {name:?} is outside the declared scope ({})", names_in_scope(&scope.scope)),
                scope_help(&name, "this domain"),
            );
        }
        if let Some(&first) = self.domains_seen.get(&name) {
            let (line, _) = diagnostic::line_column(self.text, first);
            self.error(
                offset,
                format!("duplicate domain: `name` {name:?} is already declared at line {line}"),
                "remove one of the two [[domains]] tables",
            );
        } else {
            self.domains_seen.insert(name.clone(), offset);
        }
        Some(Domain { name, sector: sector?, operator })
    }
}

/// Checks a DNS name (letters, digits and hyphens in labels of 1-63 characters, 253 in all; a
/// trailing dot is allowed) and returns it lower case without the trailing dot.
fn dns_name(value: &str) -> Result<String, NameProblem> {
    let problem = |reason: &str, help: Option<String>| NameProblem { reason: reason.to_string(), help };
    if value.is_empty() {
        return Err(problem("it is empty", None));
    }
    if let Some((_, rest)) = value.split_once("://") {
        let bare = rest.split(['/', ':', '?', '#']).next().unwrap_or(rest);
        return Err(problem(
            "it is a URL",
            Some(format!("write only the name, {bare:?}; the scheme, port and path are not part of it")),
        ));
    }
    if value.chars().any(char::is_whitespace) {
        let squeezed: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        return Err(problem("it contains whitespace", Some(format!("remove the spaces: \"{squeezed}\""))));
    }
    if !value.is_ascii() {
        return Err(problem(
            "it contains non-ASCII characters",
            Some(
                "write an internationalised name in its ASCII (punycode) form, which starts with \"xn--\"".to_string(),
            ),
        ));
    }
    if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        if inner.parse::<IpAddr>().is_ok() {
            return Err(problem(
                "IPv6 addresses are written without brackets here",
                Some(format!("write \"{inner}\"")),
            ));
        }
    }
    if let Some((name, port)) = value.rsplit_once(':') {
        if !name.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(problem(
                "it includes a port",
                Some(format!("write {name:?} and put the port in its own key: port = {port}")),
            ));
        }
    }
    if value.contains('/') {
        return Err(problem(
            "it contains `/`",
            Some("write only the name; paths and prefix lengths are not part of it".to_string()),
        ));
    }
    let name = value.strip_suffix('.').unwrap_or(value).to_ascii_lowercase();
    if name.is_empty() {
        return Err(problem("it is only a dot", None));
    }
    if name.len() > 253 {
        return Err(problem("it is longer than 253 characters", None));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(problem(
                "it has an empty label (a leading dot or two dots in a row)",
                Some(format!("remove the extra dot: \"{}\"", squeeze_dots(&name))),
            ));
        }
        if label.len() > 63 {
            return Err(problem(&format!("label {label:?} is longer than 63 characters"), None));
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(problem(
                &format!("`{bad}` is not allowed in a DNS name (only letters, digits, hyphens and dots)"),
                Some(format!("remove or replace `{bad}`")),
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(problem(&format!("label {label:?} starts or ends with a hyphen"), None));
        }
    }
    if name.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(problem(
            "it looks like an IPv4 address but is not one",
            Some("an IPv4 address is four numbers from 0 to 255, e.g. \"192.0.2.10\"".to_string()),
        ));
    }
    Ok(name)
}

fn squeeze_dots(name: &str) -> String {
    name.split('.').filter(|l| !l.is_empty()).collect::<Vec<_>>().join(".")
}

/// Lower-case kebab-case: `[a-z0-9]+(-[a-z0-9]+)*`.
fn is_kebab(value: &str) -> bool {
    !value.is_empty()
        && value
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// The kebab-case spelling of free text ("Critical Operator" → "critical-operator").
fn to_kebab(value: &str) -> String {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

fn names_in_scope(scope: &Scope) -> String {
    if scope.names.is_empty() {
        return "scope.names is empty".to_string();
    }
    let names = scope.names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    format!("scope.names = [{names}]")
}

fn networks_in_scope(scope: &Scope) -> String {
    let networks = scope.networks.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    format!("scope.networks = [{networks}]")
}

fn scope_help(name: &str, what: &str) -> String {
    // The registrable part is usually what the owner of a profile means to add.
    let labels: Vec<&str> = name.rsplitn(3, '.').collect();
    let zone = match labels.as_slice() {
        [tld, second, ..] => format!("{second}.{tld}"),
        _ => name.to_string(),
    };
    format!(
        "if it belongs to this assessment, add \"{zone}\" to scope.names; otherwise remove {what} or correct the name"
    )
}

fn network_help(ip: IpAddr, what: &str) -> String {
    let prefix = if ip.is_ipv4() { 32 } else { 128 };
    format!("if it belongs to this assessment, add a network containing it to scope.networks (e.g. \"{ip}/{prefix}\"); otherwise correct {what}")
}

fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && matches!(parts[1].parse::<u8>(), Ok(1..=12))
        && matches!(parts[2].parse::<u8>(), Ok(1..=31))
}
