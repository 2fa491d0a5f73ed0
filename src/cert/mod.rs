//! The certificate probe-side analysis: takes the chain a server sent (and its stapled OCSP
//! response) from the TLS sweep and turns it into certificate facts — the chain's structure
//! (order, completeness, sent anchor, unrelated and duplicate certificates, AIA completion), a
//! verdict per trust store, names, keys, validity, revocation (staple, OCSP, CRL), SCTs and
//! policy facts. Facts only: whether any of it is acceptable is for the checks.
//!
//! Time is a parameter (`CertOptions::now`) so that validity facts can be asserted exactly.

mod crl;
mod der;
pub mod facts;
mod fetch;
mod names;
mod ocsp;
mod parse;
mod sig;
mod trust;

use std::sync::Arc;

use base64::Engine as _;

pub use facts::*;
pub use fetch::FetchLimits;
pub use parse::{parse_certificate, ParsedCert};
pub use trust::{StoreError, TrustStore};

use fetch::Fetcher;

/// How far AIA caIssuers is followed to complete a chain.
const MAX_AIA_HOPS: usize = 3;

/// Names kept per list of the leaf (SAN DNS names, SAN addresses, subject CNs): real leaves
/// carry at most a few hundred; one stuffed with tens of thousands must not make the facts,
/// checks and reports of every later stage pay for them. Hostname matching sees every name.
pub const MAX_NAMES_LISTED: usize = 1000;
/// Entries kept of the leaf's other lists (extended key usages, OCSP and CRL URLs, SCTs).
pub const MAX_ENTRIES_LISTED: usize = 64;

/// What the analysis may use.
#[derive(Debug, Clone)]
pub struct CertOptions {
    /// Trust stores, the default (Mozilla) first.
    pub stores: Arc<Vec<TrustStore>>,
    /// Whether HTTP fetches (AIA caIssuers, OCSP, CRL) are allowed.
    pub online: bool,
    pub fetch_limits: FetchLimits,
    /// The analysis time (Unix seconds); the clock when None.
    pub now: Option<i64>,
}

impl Default for CertOptions {
    fn default() -> Self {
        CertOptions {
            stores: Arc::new(vec![TrustStore::mozilla()]),
            online: true,
            fetch_limits: FetchLimits::default(),
            now: None,
        }
    }
}

/// What the analysis looks at.
#[derive(Debug, Clone, Copy)]
pub struct CertInput<'a> {
    /// The chain as sent, leaf first, PEM.
    pub chain_pem: &'a [String],
    /// A stapled OCSP response, DER in base64.
    pub ocsp_staple_base64: Option<&'a str>,
    /// The TLS extension's SignedCertificateTimestampList, base64 (`tls.sct_list_base64`).
    pub sct_list_base64: Option<&'a str>,
    /// The host name (or IP literal) the certificate must be valid for.
    pub name: &'a str,
    /// The connector of the target that sent the chain: fetches go through it (counted on its
    /// tally, inside its scope and deadline). None outside a scan.
    pub fetch_from: Option<&'a crate::net::Connector>,
}

/// RFC 3339 UTC text of Unix seconds.
pub(crate) fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("@{seconds}"))
}

/// Every base64 block between `-----BEGIN …-----` and `-----END …-----` lines, decoded.
pub(crate) fn pem_blocks(bytes: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let mut blocks = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") {
            body = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(content) = body.take() {
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(content) {
                    blocks.push(decoded);
                }
            }
        } else if let Some(content) = body.as_mut() {
            content.push_str(line);
        }
    }
    blocks
}

/// Certificates in an AIA caIssuers answer: one DER certificate, PEM, or a PKCS#7 certs-only
/// bundle (`.p7c`).
fn certificates_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    if bytes.starts_with(b"-----BEGIN") {
        return pem_blocks(bytes);
    }
    if parse_certificate(bytes).is_ok() {
        return vec![bytes.to_vec()];
    }
    // ContentInfo { signedData OID, [0] { SignedData { version, digestAlgorithms,
    // encapContentInfo, [0] IMPLICIT certificates … } } }
    let certificates = (|| {
        let content_info = der::single(bytes, der::TAG_SEQUENCE)?;
        let mut fields = content_info.reader();
        fields.expect(der::TAG_OID)?;
        let wrapper = fields.expect(der::context(0))?;
        let signed_data = wrapper.reader().expect(der::TAG_SEQUENCE)?;
        let mut inner = signed_data.reader();
        inner.expect(der::TAG_INTEGER)?;
        inner.expect(0x31)?;
        inner.expect(der::TAG_SEQUENCE)?;
        let certs = inner.expect(der::context(0))?;
        let mut reader = certs.reader();
        let mut out = Vec::new();
        while let Some(cert) = reader.next() {
            out.push(cert.raw.to_vec());
        }
        Some(out)
    })();
    certificates.unwrap_or_default()
}

fn days_between(from: i64, to: i64) -> i64 {
    (to - from).div_euclid(86_400)
}

/// The CA/Browser Forum maximum validity (BR 6.3.2) for a certificate issued at `issued`.
pub fn cab_max_lifetime_days(issued: i64) -> i64 {
    const MARCH_15_2026: i64 = 1_773_532_800;
    const MARCH_15_2027: i64 = 1_805_068_800;
    const MARCH_15_2029: i64 = 1_868_227_200;
    match issued {
        t if t < MARCH_15_2026 => 398,
        t if t < MARCH_15_2027 => 200,
        t if t < MARCH_15_2029 => 100,
        _ => 47,
    }
}

fn entry(source: &str, der_bytes: &[u8], parsed: &Result<ParsedCert, String>, now: i64) -> CertificateEntry {
    let mut entry = CertificateEntry {
        source: source.into(),
        fingerprint_sha256: parse::sha256_hex(der_bytes),
        ..CertificateEntry::default()
    };
    match parsed {
        Err(error) => entry.parse_error = Some(error.clone()),
        Ok(cert) => {
            entry.subject = Some(cert.subject.clone());
            entry.issuer = Some(cert.issuer.clone());
            entry.serial = Some(parse::hex(&cert.serial));
            entry.not_before = Some(rfc3339(cert.not_before));
            entry.not_after = Some(rfc3339(cert.not_after));
            entry.days_left = Some(days_between(now, cert.not_after));
            entry.expired = now > cert.not_after;
            entry.is_ca = cert.is_ca;
            entry.self_signed = is_self_signed(cert);
            entry.key = Some(cert.key.clone());
            entry.signature_algorithm = Some(sig::signature_name(&cert.signature_oid));
        }
    }
    entry
}

fn is_self_signed(cert: &ParsedCert) -> bool {
    cert.self_issued() && cert.signature_by(cert) == sig::SignatureCheck::Valid
}

/// Analyses the chain. Never panics on hostile input; problems become facts.
pub async fn analyze(input: CertInput<'_>, options: &CertOptions) -> CertificateFacts {
    let now = options.now.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let mut facts = CertificateFacts {
        checked_name: input.name.to_string(),
        checked_at: rfc3339(now),
        ..CertificateFacts::default()
    };
    facts.revocation.online_checks = options.online;

    // The chain as sent: each PEM decoded and parsed on its own.
    let sent_der: Vec<Vec<u8>> =
        input.chain_pem.iter().map(|pem| pem_blocks(pem.as_bytes()).into_iter().next().unwrap_or_default()).collect();
    let sent: Vec<Result<ParsedCert, String>> =
        sent_der
            .iter()
            .map(|der_bytes| {
                if der_bytes.is_empty() {
                    Err("not a PEM certificate".to_string())
                } else {
                    parse_certificate(der_bytes)
                }
            })
            .collect();
    facts.certificates =
        sent_der.iter().zip(&sent).map(|(der_bytes, parsed)| entry("sent", der_bytes, parsed, now)).collect();
    facts.largest_certificate_bytes = sent_der.iter().map(Vec::len).max().unwrap_or(0);
    facts.chain_bytes = sent_der.iter().map(Vec::len).sum();
    let leaf = match sent.first() {
        None => {
            facts.error = Some("no certificate was sent".into());
            return facts;
        }
        Some(Err(error)) => {
            facts.error = Some(format!("leaf certificate unusable: {error}"));
            return facts;
        }
        Some(Ok(leaf)) => leaf.clone(),
    };

    // Leaf facts.
    facts.subject = Some(leaf.subject.clone());
    facts.issuer = Some(leaf.issuer.clone());
    facts.serial = Some(parse::hex(&leaf.serial));
    facts.fingerprint_sha256 = Some(parse::sha256_hex(&leaf.der));
    facts.san_present = leaf.san_present;
    facts.san_dns = leaf.dns_names.clone();
    facts.san_ip = leaf.ip_addresses.iter().map(ToString::to_string).collect();
    facts.common_names = leaf.common_names.clone();
    facts.not_before = Some(rfc3339(leaf.not_before));
    facts.not_after = Some(rfc3339(leaf.not_after));
    facts.expired = now > leaf.not_after;
    facts.not_yet_valid = now < leaf.not_before;
    facts.days_left = Some(days_between(now, leaf.not_after));
    facts.lifetime_days = Some(days_between(leaf.not_before, leaf.not_after));
    facts.cab_max_lifetime_days = Some(cab_max_lifetime_days(leaf.not_before));
    facts.key = leaf.key.clone();
    facts.signature_algorithm = Some(sig::signature_name(&leaf.signature_oid));
    facts.extended_key_usage = leaf.extended_key_usage.clone();
    facts.eku_server_auth = leaf
        .extended_key_usage
        .as_ref()
        .is_some_and(|names| names.iter().any(|n| n == "serverAuth" || n == "anyExtendedKeyUsage"));
    facts.must_staple = leaf.must_staple;
    facts.scts = leaf
        .scts
        .iter()
        .map(|(log_id, millis)| SctFact {
            source: "certificate".into(),
            log_id: base64::engine::general_purpose::STANDARD.encode(log_id),
            timestamp: rfc3339(i64::try_from(millis / 1000).unwrap_or(i64::MAX)),
        })
        .collect();
    if let Some(Ok(bytes)) = input.sct_list_base64.map(|list| base64::engine::general_purpose::STANDARD.decode(list)) {
        facts.scts.extend(ocsp::tls_sct_list(&bytes, "tls_extension"));
    }
    let matched = names::match_name(&leaf, input.name);
    facts.hostname_match = matched.is_some();
    facts.hostname_match_via = matched.map(|via| via.as_str().to_string());
    facts.self_signed = is_self_signed(&leaf);

    // Structure of the chain as sent.
    for (index, der_bytes) in sent_der.iter().enumerate().skip(1) {
        if sent_der[..index].contains(der_bytes) {
            facts.duplicate_certificates.push(index);
        }
    }
    facts.chain_in_order = sent.windows(2).all(|pair| match (&pair[0], &pair[1]) {
        (Ok(subject), Ok(issuer)) => subject.issued_by(issuer),
        _ => false,
    });
    let stores = options.stores.as_slice();
    facts.anchor_sent = sent
        .iter()
        .skip(1)
        .flatten()
        .any(|cert| (cert.is_ca && is_self_signed(cert)) || stores.iter().any(|store| store.contains(cert)));

    // Path: from the leaf through sent certificates, then AIA caIssuers, until a self-signed
    // certificate or a certificate whose issuer is an anchor of some store.
    let fetcher = Fetcher::new(options.fetch_limits, input.fetch_from);
    let mut pool: Vec<ParsedCert> = sent.iter().skip(1).flatten().cloned().collect();
    let sent_pool = pool.len();
    let anchored = |cert: &ParsedCert| stores.iter().any(|store| store.has_subject(&cert.issuer_raw));
    let mut path: Vec<ParsedCert> = vec![leaf.clone()];
    let mut used_aia = false;
    let mut complete = facts.self_signed || anchored(&leaf);
    let mut hops = 0;
    while let Some(current) = path.last().cloned() {
        if is_self_signed(&current) {
            break;
        }
        // Sent issuers are followed even past an anchored certificate, so that a sent root
        // counts as part of the path rather than as an unrelated certificate.
        let found = pool.iter().position(|candidate| {
            current.issued_by(candidate) && !path.iter().any(|on_path| on_path.der == candidate.der)
        });
        match found {
            Some(index) if index < sent_pool || !complete => {
                let issuer = pool[index].clone();
                complete |= is_self_signed(&issuer) || anchored(&issuer);
                used_aia |= index >= sent_pool;
                path.push(issuer);
            }
            _ => {
                if complete || !options.online || hops >= MAX_AIA_HOPS || current.ca_issuers_urls.is_empty() {
                    break;
                }
                hops += 1;
                let mut progressed = false;
                for url in current.ca_issuers_urls.iter().take(2) {
                    let (record, body) = fetcher.get(url).await;
                    facts.ca_issuers_fetched.push(record);
                    for der_bytes in body.map(|b| certificates_in(&b)).unwrap_or_default() {
                        let parsed = parse_certificate(&der_bytes);
                        facts.certificates.push(entry("aia", &der_bytes, &parsed, now));
                        if let Ok(cert) = parsed {
                            progressed |= current.issued_by(&cert);
                            pool.push(cert);
                        }
                    }
                    if progressed {
                        break;
                    }
                }
                if !progressed {
                    break;
                }
            }
        }
    }
    facts.chain_complete = complete && !used_aia;
    let on_path: Vec<&Vec<u8>> = path.iter().map(|cert| &cert.der).collect();
    facts.unrelated_certificates = (1..sent_der.len())
        .filter(|index| !facts.duplicate_certificates.contains(index) && !on_path.contains(&&sent_der[*index]))
        .collect();

    // Trust per store.
    let intermediates: Vec<Vec<u8>> = pool.iter().map(|cert| cert.der.clone()).collect();
    let path_refs: Vec<&ParsedCert> = path.iter().collect();
    for store in stores {
        let verdict = trust::verify(store, &leaf, &intermediates, now, &path_refs, facts.self_signed);
        facts.trust.insert(store.name.clone(), verdict);
    }
    facts.trusted = stores.first().and_then(|store| facts.trust.get(&store.name)).is_some_and(|v| v.trusted);

    // Revocation. The issuer is the next certificate on the path, else an anchor certificate
    // from a CA file.
    let issuer: Option<ParsedCert> = path
        .get(1)
        .cloned()
        .or_else(|| stores.iter().flat_map(|store| &store.certificates).find(|anchor| leaf.issued_by(anchor)).cloned());
    facts.revocation.ocsp_urls = leaf.ocsp_urls.clone();
    facts.revocation.crl_urls = leaf.crl_urls.clone();
    facts.revocation.no_pointer = leaf.ocsp_urls.is_empty() && leaf.crl_urls.is_empty();
    let no_issuer = || RevocationCheck {
        status: RevocationStatus::Error,
        reason: Some("the issuer's certificate is not available, so the answer cannot be checked".into()),
        url: None,
        this_update: None,
        next_update: None,
        revocation_time: None,
        signer: None,
    };
    if let Some(staple) = input.ocsp_staple_base64 {
        facts.revocation.stapled = Some(match (base64::engine::general_purpose::STANDARD.decode(staple), &issuer) {
            (Err(_), _) => RevocationCheck { reason: Some("staple is not base64".into()), ..no_issuer() },
            (Ok(_), None) => no_issuer(),
            (Ok(bytes), Some(issuer)) => {
                let outcome = ocsp::validate_response(&bytes, &leaf, issuer, now);
                facts.scts.extend(outcome.scts);
                outcome.check
            }
        });
    }
    if options.online {
        let ocsp_url = leaf.ocsp_urls.first().cloned();
        let crl_url = leaf.crl_urls.first().cloned();
        let ocsp_check = async {
            let url = ocsp_url?;
            let Some(issuer) = &issuer else {
                return Some(RevocationCheck { url: Some(url), ..no_issuer() });
            };
            let request = ocsp::build_request(&leaf, issuer);
            let (record, body) = fetcher.post(&url, "application/ocsp-request", request).await;
            let mut check = match body {
                Some(body) => ocsp::validate_response(&body, &leaf, issuer, now).check,
                None => RevocationCheck { reason: record.error, ..no_issuer() },
            };
            check.url = Some(url);
            Some(check)
        };
        let crl_check = async {
            let url = crl_url?;
            let Some(issuer) = &issuer else {
                return Some(RevocationCheck { url: Some(url), ..no_issuer() });
            };
            let (record, body) = fetcher.get(&url).await;
            let mut check = match body {
                Some(body) => crl::check_crl(&body, &leaf, issuer, now),
                None => RevocationCheck { reason: record.error, ..no_issuer() },
            };
            check.url = Some(url);
            Some(check)
        };
        let (ocsp_result, crl_result) = tokio::join!(ocsp_check, crl_check);
        facts.revocation.ocsp = ocsp_result;
        facts.revocation.crl = crl_result;
    }
    facts.sct_count = facts.scts.len();
    let from = |source: &str| facts.scts.iter().filter(|sct| sct.source == source).count();
    facts.sct_sources =
        SctSources { certificate: from("certificate"), tls_extension: from("tls_extension"), ocsp: from("ocsp") };
    facts.fetches = fetcher.count();
    cap_lists(&mut facts);
    facts
}

/// Cut the lists a certificate controls at their caps, noting each cut in `facts.truncated`.
fn cap_lists(facts: &mut CertificateFacts) {
    fn cut<T>(path: &str, list: &mut Vec<T>, cap: usize, truncated: &mut std::collections::BTreeMap<String, usize>) {
        if list.len() > cap {
            truncated.insert(path.to_string(), list.len());
            list.truncate(cap);
        }
    }
    let truncated = &mut facts.truncated;
    cut("san_dns", &mut facts.san_dns, MAX_NAMES_LISTED, truncated);
    cut("san_ip", &mut facts.san_ip, MAX_NAMES_LISTED, truncated);
    cut("common_names", &mut facts.common_names, MAX_NAMES_LISTED, truncated);
    if let Some(usages) = facts.extended_key_usage.as_mut() {
        cut("extended_key_usage", usages, MAX_ENTRIES_LISTED, truncated);
    }
    cut("scts", &mut facts.scts, MAX_ENTRIES_LISTED, truncated);
    cut("revocation.ocsp_urls", &mut facts.revocation.ocsp_urls, MAX_ENTRIES_LISTED, truncated);
    cut("revocation.crl_urls", &mut facts.revocation.crl_urls, MAX_ENTRIES_LISTED, truncated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cab_limits_follow_the_issue_date() {
        assert_eq!(cab_max_lifetime_days(1_773_532_799), 398);
        assert_eq!(cab_max_lifetime_days(1_773_532_800), 200);
        assert_eq!(cab_max_lifetime_days(1_805_068_799), 200);
        assert_eq!(cab_max_lifetime_days(1_805_068_800), 100);
        assert_eq!(cab_max_lifetime_days(1_868_227_199), 100);
        assert_eq!(cab_max_lifetime_days(1_868_227_200), 47);
    }

    #[test]
    fn days_round_down() {
        assert_eq!(days_between(0, 86_399), 0);
        assert_eq!(days_between(0, 86_400), 1);
        assert_eq!(days_between(86_400, 0), -1);
        assert_eq!(days_between(1, 0), -1);
    }
}
