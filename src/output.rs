//! The human summary printed after a scan: one block per target, facts only.

use std::fmt::Write as _;

use crate::cert::{CertificateFacts, RevocationCheck};
use crate::checks::model::{Finding, Status};
use crate::facts::{ScanReport, TargetResult, TlsFacts};
use crate::tls::registry::Protocol;

/// The terminal's progress bar, advanced as each target, zone and resolver finishes.
pub struct ProgressSink {
    bar: indicatif::ProgressBar,
}

impl ProgressSink {
    pub fn new() -> ProgressSink {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        ProgressSink { bar }
    }
}

impl Default for ProgressSink {
    fn default() -> Self {
        ProgressSink::new()
    }
}

impl crate::scan::Sink for ProgressSink {
    fn planned(&mut self, count: usize) {
        self.bar.inc_length(count as u64);
    }

    fn item(&mut self, item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        self.bar.inc(1);
        self.bar.set_message(match item {
            crate::scan::Item::Target(t) => format!("{}:{}", clean(&t.host), t.port),
            crate::scan::Item::Zone(z) => clean(&z.name),
            crate::scan::Item::Resolver(r) => clean(&r.address),
        });
        Ok(())
    }

    fn begin(&mut self, _summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        // Every probe is done; what follows (the assessment, the summary) is not drawn over.
        self.bar.finish_and_clear();
        Ok(())
    }

    fn finished(&mut self, _summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        self.bar.finish_and_clear();
        Ok(())
    }
}

/// The human summary, printed to `out` one item at a time as the assessment pass hands them on
/// (each target's and zone's block, each resolver's line), then the totals.
pub struct SummarySink<W: std::io::Write + Send> {
    out: W,
    failed: usize,
    connections: u64,
    queries: u64,
}

impl<W: std::io::Write + Send> SummarySink<W> {
    pub fn new(out: W) -> SummarySink<W> {
        SummarySink { out, failed: 0, connections: 0, queries: 0 }
    }
}

impl<W: std::io::Write + Send> crate::scan::Sink for SummarySink<W> {
    fn item(&mut self, _item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        Ok(())
    }

    fn assessed(&mut self, item: crate::scan::Item<'_>) -> Result<(), crate::scan::SinkError> {
        let mut text = String::new();
        match item {
            crate::scan::Item::Target(target) => {
                self.failed += usize::from(target.error.is_some());
                self.connections += target.tls.as_ref().map_or(0, |t| u64::from(t.connections));
                target_block(&mut text, target);
            }
            crate::scan::Item::Zone(zone) => {
                self.queries += u64::from(zone.queries);
                zone_block(&mut text, zone);
            }
            crate::scan::Item::Resolver(resolver) => resolver_line(&mut text, resolver),
        }
        self.out.write_all(text.as_bytes()).map_err(|e| crate::scan::SinkError(format!("cannot print: {e}")))
    }

    fn finished(&mut self, summary: &crate::scan::ScanSummary) -> Result<(), crate::scan::SinkError> {
        let mut text = String::new();
        if let Some(assessment) = &summary.assessment {
            policy_line(&mut text, assessment);
        }
        totals(
            &mut text,
            (summary.targets, self.failed, self.connections),
            (summary.zones, summary.resolvers, self.queries),
        );
        self.out.write_all(text.as_bytes()).map_err(|e| crate::scan::SinkError(format!("cannot print: {e}")))?;
        self.out.flush().map_err(|e| crate::scan::SinkError(format!("cannot print: {e}")))
    }
}

fn policy_line(out: &mut String, assessment: &crate::checks::model::Assessment) {
    let index = assessment.index.map_or("n/a".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(
        out,
        "policy {}: index {index} / 100 — {} failing, {} passing, {} excepted, {} inconclusive findings",
        assessment.policy,
        assessment.counts.fail,
        assessment.counts.pass,
        assessment.counts.excepted,
        assessment.counts.inconclusive
    );
}

fn resolver_line(out: &mut String, resolver: &crate::dns::facts::ResolverFacts) {
    let _ = writeln!(
        out,
        "resolver {}  open {} · validates {}{}\n",
        clean(&resolver.address),
        yes_no(resolver.open),
        yes_no(resolver.validates),
        resolver.error.as_deref().map(|e| format!(" · error {}", clean(e))).unwrap_or_default()
    );
}

/// The closing lines: (targets, with errors, connections), (zones, resolvers, zone queries).
fn totals(out: &mut String, targets: (usize, usize, u64), dns: (usize, usize, u64)) {
    let _ =
        writeln!(out, "{} target(s) scanned, {} with errors, {} connections in all", targets.0, targets.1, targets.2);
    if dns.0 > 0 || dns.1 > 0 {
        let _ =
            writeln!(out, "{} zone(s) and {} resolver(s) assessed, {} DNS queries for the zones", dns.0, dns.1, dns.2);
    }
}

/// The human summary of a whole document (the CLI prints it item by item: [`SummarySink`]).
pub fn summary(report: &ScanReport) -> String {
    let mut out = String::new();
    for target in &report.targets {
        target_block(&mut out, target);
    }
    if let Some(assessment) = &report.assessment {
        policy_line(&mut out, assessment);
    }
    for zone in &report.zones {
        zone_block(&mut out, zone);
    }
    for resolver in &report.resolvers {
        resolver_line(&mut out, resolver);
    }
    let failed = report.targets.iter().filter(|t| t.error.is_some()).count();
    let connections = report.targets.iter().filter_map(|t| t.tls.as_ref()).map(|t| u64::from(t.connections)).sum();
    let queries = report.zones.iter().map(|z| u64::from(z.queries)).sum();
    totals(
        &mut out,
        (report.targets.len(), failed, connections),
        (report.zones.len(), report.resolvers.len(), queries),
    );
    out
}

/// `text` with every control character but the line feed escaped (`\u{1b}`, `\r`, `\t`):
/// error messages quote profiles, arguments and what servers sent, and none of it may drive
/// the terminal.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` on one line: every control character escaped, the line feed too.
pub fn escaped_line(text: &str) -> String {
    escaped(text).replace('\n', "\\n")
}

/// Remove control characters so that nothing a server sent can drive the terminal.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "n/a",
    }
}

fn target_block(out: &mut String, target: &TargetResult) {
    let address = target.address.as_deref().unwrap_or("unresolved");
    let connections = target.tls.as_ref().map(|t| t.connections).unwrap_or(0);
    let _ = writeln!(
        out,
        "{}:{} ({})  {} connections, {:.1} s",
        clean(&target.host),
        target.port,
        address,
        connections,
        target.duration_ms as f64 / 1000.0
    );
    if let Some(error) = &target.error {
        let _ = writeln!(out, "  error         {}", clean(error));
    }
    if let Some(tls) = &target.tls {
        tls_lines(out, tls);
    }
    if let Some(certificate) = &target.certificate {
        certificate_lines(out, certificate);
    }
    findings_lines(out, target);
    out.push('\n');
}

fn findings_lines(out: &mut String, target: &TargetResult) {
    if let Some(grade) = &target.grade {
        let caps = if grade.caps.is_empty() {
            String::new()
        } else {
            format!("  (caps: {})", grade.caps.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        };
        let _ = writeln!(out, "  grade         {}  score {}{}", grade.grade, grade.score, caps);
    }
    if target.findings.is_empty() {
        return;
    }
    if let Some(score) = &target.score {
        let value = score.value.map_or("n/a".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "  checks        score {value}: {} failed, {} passed, {} excepted, {} inconclusive",
            score.failed, score.passed, score.excepted, score.inconclusive
        );
    }
    let mut failing: Vec<&Finding> = target.findings.iter().filter(|f| f.status == Status::Fail).collect();
    failing.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(&b.check)));
    for finding in failing {
        let _ =
            writeln!(out, "    FAIL {:<9} {:<32} {}", finding.severity.name(), finding.check, clean(&finding.title));
    }
    for finding in target.findings.iter().filter(|f| f.status == Status::Excepted) {
        let until = finding.exception.as_ref().map_or(String::new(), |e| format!(" (until {})", e.expires));
        let _ = writeln!(
            out,
            "    EXCEPTED {:<5} {:<32} {}{}",
            finding.severity.name(),
            finding.check,
            clean(&finding.title),
            until
        );
    }
}

fn tls_lines(out: &mut String, tls: &TlsFacts) {
    if tls.protocol_details.is_empty() {
        return;
    }
    let refused: Vec<&str> = tls.protocol_details.iter().filter(|(_, d)| !d.accepted).map(|(p, _)| p.name()).collect();
    let accepted: Vec<&str> = tls.protocols.iter().map(|p| p.name()).collect();
    let _ = writeln!(
        out,
        "  protocols     {}{}",
        if accepted.is_empty() { "none".to_string() } else { accepted.join(" ") },
        if refused.is_empty() { String::new() } else { format!("   (refused: {})", refused.join(" ")) }
    );
    for protocol in Protocol::ALL.iter().rev() {
        let Some(suites) = tls.cipher_suites.get(protocol) else { continue };
        let order = match tls.server_preference.get(protocol).copied().flatten() {
            Some(true) => "server order",
            Some(false) => "client order",
            None => "order n/a",
        };
        let _ = writeln!(out, "  {:<13} {} suites, {}", protocol.name(), suites.len(), order);
        for suite in suites {
            let _ = writeln!(out, "                  {}", clean(suite));
        }
    }
    if !tls.groups.is_empty() {
        let _ = writeln!(out, "  groups        {}", tls.groups.join(" "));
    }
    if !tls.key_exchange.is_empty() {
        let kx: Vec<String> = tls
            .key_exchange
            .iter()
            .map(|k| match (&k.group, k.bits) {
                (Some(group), _) => format!("{} {} ({})", k.kind, group, k.protocol),
                (None, Some(bits)) => format!("{} {} bits ({})", k.kind, bits, k.protocol),
                (None, None) => k.kind.clone(),
            })
            .collect();
        let _ = writeln!(out, "  key exchange  {}", kx.join(", "));
    }
    let e = &tls.extensions;
    let _ = writeln!(
        out,
        "  extensions    secure renegotiation {} · compression {} · session tickets {} · OCSP stapling {} · extended master secret {} · heartbeat {}",
        yes_no(e.secure_renegotiation),
        yes_no(e.compression),
        yes_no(e.session_ticket),
        yes_no(e.ocsp_stapling),
        yes_no(e.extended_master_secret),
        yes_no(e.heartbeat)
    );
    if !e.alpn.is_empty() {
        let alpn: Vec<String> = e.alpn.iter().map(|a| clean(a)).collect();
        let _ = writeln!(out, "  ALPN          {}", alpn.join(", "));
    }
    let _ = writeln!(out, "  fallback SCSV {}", yes_no(tls.fallback_scsv));
    if !tls.chain_pem.is_empty() {
        let from = tls.chain_protocol.map(|p| p.name()).unwrap_or("?");
        let _ = writeln!(out, "  chain         {} certificate(s) as sent over {}", tls.chain_pem.len(), from);
    }
    for error in &tls.probe_errors {
        let _ = writeln!(out, "  probe error   {}", clean(error));
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(|n| clean(n)).collect::<Vec<_>>().join(" ")
    }
}

fn zone_block(out: &mut String, zone: &crate::dns::facts::ZoneFacts) {
    let _ = writeln!(
        out,
        "zone {}  {} queries, {:.1} s",
        clean(&zone.name),
        zone.queries,
        zone.duration_ms as f64 / 1000.0
    );
    if let Some(error) = &zone.error {
        let _ = writeln!(out, "  error         {}", clean(error));
    }
    if let Some(delegation) = &zone.delegation {
        let _ = writeln!(out, "  parent        {} (NS {})", clean(&delegation.parent), names(&delegation.parent_ns));
        let _ = writeln!(out, "  child NS      {}", names(&delegation.child_ns));
        let _ = writeln!(
            out,
            "  addresses     {} (IPv4 /24s {}, IPv6 /48s {}, {} special-purpose)",
            names(&delegation.addresses),
            delegation.ipv4_prefixes.len(),
            delegation.ipv6_prefixes.len(),
            delegation.special_purpose.len()
        );
    }
    for ns in &zone.nameservers {
        let reach = match (&ns.soa_udp.error, ns.lame) {
            (Some(error), None) => format!("no answer ({})", clean(error)),
            (_, Some(true)) => format!("lame ({})", ns.soa_udp.rcode.as_deref().unwrap_or("?")),
            _ => format!("serial {}", ns.soa.as_ref().map(|s| s.serial.to_string()).unwrap_or_else(|| "?".into())),
        };
        let version = match (&ns.version_bind.text, &ns.version_server.text) {
            (Some(text), _) | (None, Some(text)) => clean(text),
            // Hidden only when the server answered at least one of the two questions.
            _ if ns.version_bind.rcode.is_some() || ns.version_server.rcode.is_some() => "hidden".into(),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "  {} {}  {} · recursion {} · AXFR {} · version {} · EDNS OPT {}",
            clean(&ns.name),
            clean(&ns.address),
            reach,
            yes_no(ns.recursion_offered),
            yes_no(ns.axfr.open),
            version,
            yes_no(ns.edns.opt_returned)
        );
    }
    if let Some(soa) = &zone.soa {
        if !soa.serials.is_empty() {
            let serials: Vec<String> = soa.serials.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(out, "  SOA serials   {}", serials.join(" "));
        }
    }
    if let Some(dnssec) = &zone.dnssec {
        let _ = writeln!(
            out,
            "  DNSSEC        {}{}",
            clean(&dnssec.status),
            dnssec.reason.as_deref().map(|r| format!(" ({})", clean(r))).unwrap_or_default()
        );
    }
    if let Some(mail) = &zone.mail {
        let mx: Vec<String> = mail.mx.iter().map(|m| format!("{} {}", m.preference, clean(&m.exchange))).collect();
        let spf = mail
            .spf
            .as_ref()
            .map(|s| {
                format!(
                    "{} lookups, {} void, all {}",
                    s.dns_lookups,
                    s.void_lookups,
                    s.all.as_deref().unwrap_or("none")
                )
            })
            .unwrap_or_else(|| "none".into());
        let dmarc = mail
            .dmarc
            .as_ref()
            .and_then(|d| d.p.clone())
            .map(|p| format!("p={}", clean(&p)))
            .unwrap_or_else(|| "none".into());
        let _ = writeln!(
            out,
            "  mail          MX {} · SPF {} · DMARC {}",
            if mx.is_empty() { "none".into() } else { mx.join(", ") },
            spf,
            dmarc
        );
    }
    if let Some(caa) = &zone.caa {
        if let Some(at) = &caa.found_at {
            let records: Vec<String> =
                caa.records.iter().map(|r| format!("{} {}", clean(&r.tag), clean(&r.value))).collect();
            let _ = writeln!(out, "  CAA           at {}: {}", clean(at), records.join(", "));
        }
    }
    out.push('\n');
}

fn revocation_word(check: &Option<RevocationCheck>) -> String {
    match check {
        None => "n/a".into(),
        Some(check) => {
            let status = serde_json::to_value(check.status).ok().and_then(|v| v.as_str().map(str::to_string));
            let status = status.unwrap_or_default();
            match &check.reason {
                Some(reason) => format!("{status} ({})", clean(reason)),
                None => status,
            }
        }
    }
}

fn certificate_lines(out: &mut String, cert: &CertificateFacts) {
    if let Some(error) = &cert.error {
        let _ = writeln!(out, "  certificate   {}", clean(error));
        return;
    }
    let key = match (&cert.key.curve, cert.key.bits) {
        (Some(curve), _) => format!("{} {}", cert.key.r#type, curve),
        (None, Some(bits)) => format!("{} {} bits", cert.key.r#type, bits),
        (None, None) => cert.key.r#type.clone(),
    };
    let _ = writeln!(
        out,
        "  certificate   {} · {} · {} · {} days left of {}",
        clean(cert.subject.as_deref().unwrap_or("?")),
        clean(&key),
        clean(cert.signature_algorithm.as_deref().unwrap_or("?")),
        cert.days_left.unwrap_or_default(),
        cert.lifetime_days.unwrap_or_default()
    );
    let trust: Vec<String> = cert
        .trust
        .iter()
        .map(|(store, verdict)| match &verdict.reason_code {
            None => format!("{}: trusted", clean(store)),
            Some(code) => format!("{}: not trusted ({code})", clean(store)),
        })
        .collect();
    let _ = writeln!(out, "  trust         {}", trust.join(" · "));
    let _ = writeln!(
        out,
        "  name          {} {}",
        clean(&cert.checked_name),
        match &cert.hostname_match_via {
            Some(via) => format!("matches ({via})"),
            None => "does not match".into(),
        }
    );
    let _ = writeln!(
        out,
        "  path          complete {} · in order {} · anchor sent {} · self-signed {}",
        yes_no(Some(cert.chain_complete)),
        yes_no(Some(cert.chain_in_order)),
        yes_no(Some(cert.anchor_sent)),
        yes_no(Some(cert.self_signed))
    );
    let _ = writeln!(
        out,
        "  revocation    stapled {} · OCSP {} · CRL {} · must-staple {}",
        revocation_word(&cert.revocation.stapled),
        revocation_word(&cert.revocation.ocsp),
        revocation_word(&cert.revocation.crl),
        yes_no(Some(cert.must_staple))
    );
}
