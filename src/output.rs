//! The human summary printed after a scan: one block per target, facts only.

use std::fmt::Write as _;

use crate::checks::model::{Finding, Status};
use crate::facts::{ScanReport, TargetResult, TlsFacts};
use crate::tls::registry::Protocol;

pub fn summary(report: &ScanReport) -> String {
    let mut out = String::new();
    for target in &report.targets {
        target_block(&mut out, target);
    }
    if let Some(assessment) = &report.assessment {
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
    let failed = report.targets.iter().filter(|t| t.error.is_some()).count();
    let _ = writeln!(
        out,
        "{} target(s) scanned, {} with errors, {} connections in all",
        report.targets.len(),
        failed,
        report.targets.iter().filter_map(|t| t.tls.as_ref()).map(|t| t.connections).sum::<u32>()
    );
    out
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
    findings_lines(out, target);
    out.push('\n');
}

fn findings_lines(out: &mut String, target: &TargetResult) {
    if let Some(grade) = &target.grade {
        let caps = if grade.caps.is_empty() { String::new() } else { format!("  (caps: {})", grade.caps.join("; ")) };
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
        let _ = writeln!(out, "    FAIL {:<9} {:<32} {}", finding.severity.name(), finding.check, clean(&finding.title));
    }
    for finding in target.findings.iter().filter(|f| f.status == Status::Excepted) {
        let until = finding.exception.as_ref().map_or(String::new(), |e| format!(" (until {})", e.expires));
        let _ = writeln!(out, "    EXCEPTED {:<5} {:<32} {}{}", finding.severity.name(), finding.check, clean(&finding.title), until);
    }
}

fn tls_lines(out: &mut String, tls: &TlsFacts) {
    if tls.protocol_details.is_empty() {
        return;
    }
    let refused: Vec<&str> =
        tls.protocol_details.iter().filter(|(_, d)| !d.accepted).map(|(p, _)| p.name()).collect();
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
