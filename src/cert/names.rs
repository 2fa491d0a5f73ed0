//! Host name matching per RFC 6125: DNS names against dNSName SANs (a wildcard only as the whole
//! left-most label, never on a single-label suffix), IP literals against iPAddress SANs, and the
//! subject CN only when the certificate has no SAN extension at all (reported as such).

use std::net::IpAddr;

use super::parse::ParsedCert;

/// How a name matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchVia {
    DnsSan,
    IpSan,
    CommonName,
}

impl MatchVia {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchVia::DnsSan => "dns_san",
            MatchVia::IpSan => "ip_san",
            MatchVia::CommonName => "common_name",
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether the presented identifier `pattern` covers `host` (both DNS names).
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (normalise(pattern), normalise(host));
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if let Some(suffix) = pattern.strip_prefix("*.") {
        // The wildcard stands for exactly one whole label, and the suffix must have at least
        // two labels of its own (no `*.com`), without further wildcards.
        if suffix.contains('*') || !suffix.contains('.') || suffix.split('.').any(str::is_empty) {
            return false;
        }
        return match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix,
            None => false,
        };
    }
    !pattern.contains('*') && pattern == host
}

/// Matches `name` (a DNS name or an IP literal) against the certificate.
pub fn match_name(cert: &ParsedCert, name: &str) -> Option<MatchVia> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = bare.parse::<IpAddr>() {
        return cert.ip_addresses.contains(&address).then_some(MatchVia::IpSan);
    }
    if cert.dns_names.iter().any(|pattern| dns_name_matches(pattern, name)) {
        return Some(MatchVia::DnsSan);
    }
    if !cert.san_present && cert.common_names.iter().any(|cn| dns_name_matches(cn, name)) {
        return Some(MatchVia::CommonName);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::dns_name_matches;

    #[test]
    fn wildcards_cover_one_whole_left_most_label() {
        assert!(dns_name_matches("*.example.org", "www.example.org"));
        assert!(dns_name_matches("*.Example.org.", "WWW.example.org"));
        assert!(!dns_name_matches("*.example.org", "example.org"));
        assert!(!dns_name_matches("*.example.org", "a.b.example.org"));
        assert!(!dns_name_matches("w*.example.org", "www.example.org"));
        assert!(!dns_name_matches("www.*.org", "www.example.org"));
        assert!(!dns_name_matches("*.org", "example.org"));
        assert!(!dns_name_matches("*.*.org", "a.b.org"));
        assert!(dns_name_matches("postura.test", "postura.test."));
        assert!(!dns_name_matches("postura.test", "other.test"));
    }
}
