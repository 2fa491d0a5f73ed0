//! mail.test: SPF with 11 lookups (1 void), DMARC p=none, MTA-STS, TLS-RPT, CAA, DANE; its MX
//! hosts are then swept over STARTTLS on port 25 (mx1 upgrades, mx2 does not offer it).

use super::*;

#[test]
fn mail_zone() {
    let report = scan(&["mail.test"], &[]);
    let mail_zone = zone(&report, "mail.test.");
    // SPF with 11 lookups, DMARC p=none, and a TLSA record for mx2, which offers no STARTTLS at
    // all (RFC 7672: a sender then cannot deliver): DANE fails.
    assert_eq!(
        with_status(mail_zone, Status::Fail),
        ids(&[
            "dns.dnssec.unsigned",
            "dns.ns.no_ipv6",
            "dns.ns.special_purpose",
            "dns.version.disclosed",
            "mail.dane.invalid",
            "mail.dmarc.weak_policy",
            "mail.spf.lookup_limit",
        ])
    );
    assert_evidence_evaluates(mail_zone);
    assert_eq!(
        finding(mail_zone, "mail.dane.invalid").detail["mx_tlsa"],
        serde_json::json!(["mx1.mail.test.: 2 TLSA", "mx2.mail.test.: 1 TLSA"])
    );
    let mail = mail_zone.mail.as_ref().unwrap();
    assert!(mail.errors.is_empty(), "{:?}", mail.errors);
    assert_eq!(mail.rcodes.mx.as_deref(), Some("NOERROR"));
    let mx: Vec<(u16, &str, Vec<String>)> =
        mail.mx.iter().map(|m| (m.preference, m.exchange.as_str(), m.addresses.clone())).collect();
    assert_eq!(
        mx,
        vec![
            (10, "mx1.mail.test.", vec!["127.0.25.1".to_string()]),
            (20, "mx2.mail.test.", vec!["127.0.25.2".to_string()])
        ]
    );
    assert!(!mail.null_mx);
    let spf = mail.spf.as_ref().unwrap();
    assert_eq!(spf.records, vec!["v=spf1 include:_s1.mail.test include:_s2.mail.test a mx -all"]);
    assert_eq!((spf.dns_lookups, spf.void_lookups, spf.all.as_deref()), (11, 1, Some("-")));
    assert_eq!(spf.includes, vec!["_s1.mail.test.", "_s2.mail.test.", "_s3.mail.test."]);
    assert!(spf.syntax_errors.is_empty());
    assert_eq!(finding(mail_zone, "mail.spf.syntax").status, Status::Pass);
    let dmarc = mail.dmarc.as_ref().unwrap();
    assert_eq!((dmarc.p.as_deref(), dmarc.sp.as_deref(), dmarc.pct), (Some("none"), None, None));
    assert_eq!(dmarc.rua, vec!["mailto:dmarc@mail.test"]);
    assert_eq!(mail.mta_sts, vec!["v=STSv1; id=20240101"]);
    let policy = mail.mta_sts_policy.as_ref().unwrap();
    assert_eq!(policy.url, "https://mta-sts.mail.test/.well-known/mta-sts.txt");
    assert_eq!((policy.http_status, policy.error.as_deref()), (Some(200), None));
    assert_eq!(
        (policy.version.as_deref(), policy.mode.as_deref(), policy.max_age),
        (Some("STSv1"), Some("testing"), Some(86400))
    );
    assert_eq!((policy.mx.clone(), policy.certificate_verified), (vec!["mx1.mail.test".to_string()], false));
    assert_eq!(mail.tls_rpt, vec!["v=TLSRPTv1; rua=mailto:tls@mail.test"]);
    let caa = mail_zone.caa.as_ref().unwrap();
    assert_eq!(caa.found_at.as_deref(), Some("mail.test."));
    assert_eq!(
        caa.records.iter().map(|r| (r.critical, r.tag.as_str(), r.value.as_str())).collect::<Vec<_>>(),
        vec![(false, "issue", "ca.test")]
    );

    // The MX hosts were swept as STARTTLS targets on port 25: mx1 upgrades (OpenSSL behind a
    // scripted SMTP dialogue), mx2 does not offer STARTTLS.
    let mx: Vec<(&str, u16, &str, Option<&str>)> =
        report.targets.iter().map(|t| (t.host.as_str(), t.port, t.service.name(), t.address.as_deref())).collect();
    assert_eq!(
        mx,
        vec![
            ("mx1.mail.test", 25, "smtp-starttls", Some(MX_STARTTLS)),
            ("mx2.mail.test", 25, "smtp-starttls", Some(MX_PLAIN))
        ]
    );
    let starttls =
        |i: usize| report.targets[i].findings.iter().find(|f| f.check == "mail.starttls.missing").map(|f| f.status);
    assert_eq!(starttls(0), Some(Status::Pass));
    assert_eq!(starttls(1), Some(Status::Fail));
    // DANE: mx1's `3 1 1` matches the leaf it served, its `3 0 1` of zeros does not; mx2 sent no
    // chain (no STARTTLS), so its record is not matched either way.
    let spki = spki_sha256(&common::Pki::shared().rsa.cert);
    type TlsaRow<'a> = (&'a str, u8, u8, u8, String, Option<bool>);
    let mut tlsa: Vec<TlsaRow> = mail
        .mx
        .iter()
        .flat_map(|m| {
            m.tlsa
                .iter()
                .map(move |t| (m.exchange.as_str(), t.usage, t.selector, t.matching, t.data.clone(), t.matches_chain))
        })
        .collect();
    tlsa.sort();
    assert_eq!(
        tlsa,
        vec![
            ("mx1.mail.test.", 3, 0, 1, "0".repeat(64), Some(false)),
            ("mx1.mail.test.", 3, 1, 1, spki.clone(), Some(true)),
            ("mx2.mail.test.", 3, 1, 1, spki, None),
        ]
    );
    assert!(mail.mx.iter().all(|m| m.tlsa_authentic_data == Some(false) && m.tlsa_error.is_none()));
    let mx1 = &report.targets[0];
    assert_eq!(mx1.error, None, "{mx1:#?}");
    let tls = mx1.tls.as_ref().unwrap();
    assert!(
        tls.protocols.contains(&postura::tls::registry::Protocol::Tls12)
            && tls.protocols.contains(&postura::tls::registry::Protocol::Tls13)
    );
    assert_eq!(tls.chain_pem.len(), 2);
    assert_eq!(report.targets[1].error.as_deref(), Some("STARTTLS not offered (SMTP: not in the EHLO reply)"));

    // CAA: mail.test allows only "ca.test"; mx1's certificate comes from the test PKI, which no
    // CAA identifier table knows: a mismatch. A country that maps its CA to "ca.test" passes.
    let caa = |report: &ScanReport| {
        report.targets[0].findings.iter().find(|f| f.check == "cert.caa_mismatch").cloned().unwrap()
    };
    let finding = caa(&report);
    assert_eq!(finding.status, Status::Fail, "{finding:?}");
    assert_eq!(finding.detail["issue"], serde_json::json!(["ca.test"]));
    let catalog = postura::checks::catalog::Catalog::builtin().unwrap();
    let policy = postura::checks::policy::Policy::parse(
        "name = \"lab\"\ntitle = \"lab\"\ninclude = [\"cert.*\"]\n[params.\"cert.caa_mismatch\".caa_identifiers]\n\"Postura Test\" = [\"ca.test\"]\n",
        std::path::Path::new("lab-policy.toml"),
        &catalog,
    )
    .unwrap();
    let mut national = report.clone();
    postura::checks::Assessor {
        catalog: &catalog,
        policy: &policy,
        lang: "en".into(),
        exceptions: vec![],
        sector_weights: Default::default(),
        today: "2026-01-01".into(),
    }
    .assess(&mut national);
    assert_eq!(caa(&national).status, Status::Pass);
}
