//! DNS facts against a real lab (see `tests/common/dns.rs`): a private root and `test.` TLD,
//! BIND 9 and Knot authoritative servers, an Unbound validating resolver and hostile
//! nameservers, each on its own 127.0.x.y port 53 inside a network namespace. One scan covers
//! every zone and resolver (as `postura scan` runs it, inside the namespace); each case's facts
//! are then asserted exactly.

mod common;

use std::time::Instant;

use common::dns::*;
use postura::dns::facts::{NameserverFacts, QueryFact, ZoneFacts};
use postura::facts::ScanReport;

/// Per query: long enough for a loaded 2-core CI machine, short enough for the silent server.
const DNS_TIMEOUT: &str = "3";

const ZONES: [&str; 8] = [
    "healthy.test",
    "open.test",
    "lame.test",
    "expired.test",
    "inconsistent.test",
    "mail.test",
    "hostile.test",
    "alias.test",
];

fn zone<'a>(report: &'a ScanReport, name: &str) -> &'a ZoneFacts {
    report
        .zones
        .iter()
        .find(|z| z.name == name)
        .unwrap_or_else(|| panic!("no zone {name} in the report"))
}

fn server<'a>(zone: &'a ZoneFacts, address: &str) -> &'a NameserverFacts {
    zone.nameservers
        .iter()
        .find(|n| n.address == address)
        .unwrap_or_else(|| panic!("no server {address} in {}", zone.name))
}

fn answered(rcode: &str, authoritative: bool, answers: u32) -> QueryFact {
    QueryFact {
        rcode: Some(rcode.into()),
        authoritative: Some(authoritative),
        recursion_available: Some(false),
        truncated: Some(false),
        answers: Some(answers),
        opt: Some(true),
        error: None,
    }
}

fn failed(error: &str) -> QueryFact {
    QueryFact {
        error: Some(error.into()),
        ..QueryFact::default()
    }
}

/// The facts every well-behaved BIND/Knot server of the lab shows for a zone it serves.
fn assert_well_behaved(ns: &NameserverFacts, serial: u32) {
    let context = format!("{} {}", ns.name, ns.address);
    assert_eq!(ns.soa_udp, answered("NOERROR", true, 1), "{context}");
    assert_eq!(ns.soa_tcp, answered("NOERROR", true, 1), "{context}");
    assert_eq!(
        (ns.authoritative, ns.lame),
        (Some(true), Some(false)),
        "{context}"
    );
    assert_eq!(ns.soa.as_ref().map(|s| s.serial), Some(serial), "{context}");
    assert_eq!(ns.recursion_offered, Some(false), "{context}");
    assert_eq!(ns.recursion.rcode.as_deref(), Some("REFUSED"), "{context}");
    assert_eq!(ns.axfr.open, Some(false), "{context}");
    assert_eq!(ns.aaaa, answered("NOERROR", true, 0), "{context}");
    assert_eq!(ns.upward_referral, Some(false), "{context}");
    let edns = &ns.edns;
    assert_eq!(edns.opt_returned, Some(true), "{context}");
    assert_eq!(
        (edns.version1_rcode.as_deref(), edns.version1_opt_version),
        (Some("BADVERS"), Some(0)),
        "{context}"
    );
    assert_eq!(edns.unknown_option_echoed, Some(false), "{context}");
    assert_eq!(edns.z_flag_cleared, Some(true), "{context}");
    assert!(edns.errors.is_empty(), "{context}: {:?}", edns.errors);
}

#[test]
fn dns_lab_facts() {
    let lab = DnsLab::start();
    let hints = lab.hints.display().to_string();
    // BIND "a" and "open" in one AS, Knot "b" in another; 127.0.24.0/24 in none.
    let asn_table = lab.dir.path().join("asn.txt");
    std::fs::write(
        &asn_table,
        "127.0.21.0/24 64501\n127.0.23.0/24 64501\n127.0.22.0/24 AS64502\n",
    )
    .unwrap();
    let asn_table = asn_table.display().to_string();
    let mut args = vec![
        "scan",
        "--quiet",
        "--json",
        "-",
        "--root-hints",
        &hints,
        "--dns-timeout",
        DNS_TIMEOUT,
        "--asn-table",
        &asn_table,
    ];
    let targets: Vec<String> = ZONES.iter().map(|z| format!("dns://{z}")).collect();
    args.extend(targets.iter().map(String::as_str));
    let started = Instant::now();
    let (status, stdout, stderr) = lab.postura(&args);
    let elapsed = started.elapsed();
    assert!(status.success(), "{stderr}\n{}", lab.diagnostics());
    let report: ScanReport =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        report
            .zones
            .iter()
            .map(|z| z.name.as_str())
            .collect::<Vec<_>>(),
        ZONES.map(|z| format!("{z}.")).to_vec()
    );
    // Hostile servers cost a few query timeouts (the silent one: SOA over UDP and TCP), never
    // the whole deadline (300 s).
    assert!(elapsed.as_secs() < 30, "scan took {elapsed:?}");

    // The checks' verdicts on the same facts (default policy). Every zone of the lab lacks IPv6
    // nameservers, and all but mail.test lack CAA, SPF and DMARC: those fail everywhere.
    let failing = |name: &str| -> std::collections::BTreeSet<String> {
        let z = zone(&report, name);
        z.findings.iter().filter(|f| f.status == postura::checks::model::Status::Fail).map(|f| f.check.clone()).collect()
    };
    let expect = |ids: &[&str]| -> std::collections::BTreeSet<String> { ids.iter().map(|s| s.to_string()).collect() };
    let no_mail_records = ["dns.caa.missing", "dns.ns.no_ipv6", "mail.dmarc.missing", "mail.spf.missing"];
    let with = |extra: &[&str]| expect(&[&no_mail_records[..], extra].concat());
    // Knot discloses its version by default.
    assert_eq!(failing("healthy.test."), with(&["dns.version.disclosed"]));
    assert_eq!(
        failing("open.test."),
        with(&["dns.axfr.open", "dns.dnssec.unsigned", "dns.ns.count", "dns.ns.prefix_diversity", "dns.recursion.open", "dns.version.disclosed"])
    );
    assert_eq!(
        failing("lame.test."),
        with(&["dns.delegation.inconsistent", "dns.delegation.lame", "dns.dnssec.unsigned", "dns.ns.count", "dns.ns.prefix_diversity", "dns.version.disclosed"])
    );
    assert_eq!(failing("expired.test."), with(&["dns.dnssec.bogus", "dns.dnssec.rrsig_expired", "dns.version.disclosed"]));
    assert_eq!(
        failing("inconsistent.test."),
        with(&["dns.delegation.inconsistent", "dns.dnssec.unsigned", "dns.soa.serial_mismatch", "dns.version.disclosed"])
    );
    // SPF with 11 lookups, DMARC p=none, and a TLSA record for mx2, which offers no STARTTLS at
    // all (RFC 7672: a sender then cannot deliver): DANE fails.
    assert_eq!(
        failing("mail.test."),
        expect(&["dns.dnssec.unsigned", "dns.ns.no_ipv6", "dns.version.disclosed", "mail.dane.invalid", "mail.dmarc.weak_policy", "mail.spf.lookup_limit"])
    );
    assert_eq!(failing("hostile.test."), with(&["dns.dnssec.unsigned", "dns.ns.prefix_diversity"]));
    assert_eq!(failing("alias.test."), with(&["dns.dnssec.unsigned", "dns.ns.prefix_diversity", "dns.version.disclosed"]));
    let lame_timers = zone(&report, "lame.test.").findings.iter().find(|f| f.check == "dns.soa.timers").unwrap();
    assert_eq!(lame_timers.status, postura::checks::model::Status::Inconclusive, "no SOA from a lame zone: not a pass");
    // The MX hosts, swept over STARTTLS, are targets with their own findings.
    let starttls = |i: usize| report.targets[i].findings.iter().find(|f| f.check == "mail.starttls.missing").map(|f| f.status);
    assert_eq!(starttls(0), Some(postura::checks::model::Status::Pass));
    assert_eq!(starttls(1), Some(postura::checks::model::Status::Fail));
    // CAA: mail.test allows only "ca.test"; mx1's certificate comes from the test PKI, which no
    // CAA identifier table knows: a mismatch. A country that maps its CA to "ca.test" passes.
    let caa = |report: &ScanReport| report.targets[0].findings.iter().find(|f| f.check == "cert.caa_mismatch").cloned().unwrap();
    let finding = caa(&report);
    assert_eq!(finding.status, postura::checks::model::Status::Fail, "{finding:?}");
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
    assert_eq!(caa(&national).status, postura::checks::model::Status::Pass);

    // Healthy and signed (RSA-2048, NSEC3), on BIND and Knot.
    let healthy = zone(&report, "healthy.test.");
    assert_eq!(healthy.error, None);
    let delegation = healthy.delegation.as_ref().unwrap();
    assert_eq!(delegation.parent, "test.");
    assert_eq!(delegation.parent_servers, vec![TLD]);
    assert_eq!(
        delegation.parent_ns,
        vec!["ns1.healthy.test.", "ns2.healthy.test."]
    );
    assert_eq!(delegation.child_ns, delegation.parent_ns);
    assert_eq!(delegation.addresses, vec![BIND_A, KNOT_B]);
    assert!(delegation.shared_addresses.is_empty());
    assert_eq!(
        delegation.ipv4_prefixes,
        vec!["127.0.21.0/24", "127.0.22.0/24"]
    );
    assert!(delegation.ipv6_prefixes.is_empty());
    assert_eq!((delegation.ns_with_ipv4, delegation.ns_with_ipv6), (2, 0));
    assert_eq!(delegation.asns, Some(vec![64501, 64502]));
    assert!(delegation.addresses_without_asn.is_empty());
    let reverse: Vec<(&str, Option<&str>, Vec<String>)> = delegation
        .reverse
        .iter()
        .map(|r| (r.address.as_str(), r.rcode.as_deref(), r.names.clone()))
        .collect();
    assert_eq!(
        reverse,
        vec![
            (
                BIND_A,
                Some("NOERROR"),
                vec!["ns1.healthy.test.".to_string()]
            ),
            (KNOT_B, Some("NXDOMAIN"), vec![])
        ]
    );
    assert_eq!(delegation.special_purpose.len(), 2);
    assert!(delegation
        .special_purpose
        .iter()
        .all(|s| s.range == "127.0.0.0/8 (loopback)"));
    for ns in &delegation.ns_names {
        assert!(
            ns.in_parent && ns.in_child && ns.cname.is_none() && ns.error.is_none(),
            "{ns:?}"
        );
        assert_eq!(ns.glue, ns.addresses, "{ns:?}");
    }
    assert_eq!(healthy.nameservers.len(), 2);
    for ns in &healthy.nameservers {
        assert_well_behaved(ns, 2024010101);
        assert_eq!(ns.ns_set, vec!["ns1.healthy.test.", "ns2.healthy.test."]);
        // Two RSA-2048 DNSKEYs and their RRSIGs do not fit 512 bytes: TC, and OPT kept.
        assert_eq!(
            (ns.edns.small_payload_truncated, ns.edns.truncated_keeps_opt),
            (Some(true), Some(true)),
            "{}",
            ns.address
        );
    }
    // BIND: `version none` (nothing disclosed; its CHAOS view rate-limits, so the answer may be
    // dropped); Knot discloses its version by default.
    assert_eq!(server(healthy, BIND_A).version_bind.text, None);
    assert_eq!(
        server(healthy, BIND_A).axfr.rcode.as_deref(),
        Some("REFUSED")
    );
    assert_eq!(
        server(healthy, KNOT_B).version_bind.text.as_deref(),
        Some("Knot DNS 3.2.6")
    );
    assert_eq!(
        server(healthy, KNOT_B).version_server.text.as_deref(),
        Some("Knot DNS 3.2.6")
    );
    assert_eq!(
        server(healthy, KNOT_B).axfr.rcode.as_deref(),
        Some("NOTAUTH")
    );
    let soa = healthy.soa.as_ref().unwrap();
    let fields = soa.fields.as_ref().unwrap();
    assert_eq!(
        (
            fields.mname.as_str(),
            fields.rname.as_str(),
            fields.refresh,
            fields.retry,
            fields.expire,
            fields.minimum
        ),
        (
            "ns1.healthy.test.",
            "hostmaster.healthy.test.",
            14400,
            3600,
            1209600,
            3600
        )
    );
    assert_eq!(
        (soa.serials.clone(), soa.fields_consistent),
        (vec![2024010101], Some(true))
    );
    let dnssec = healthy.dnssec.as_ref().unwrap();
    assert_eq!(
        (dnssec.status.as_str(), dnssec.reason.as_deref()),
        ("secure", None)
    );
    assert_eq!(dnssec.ds.len(), 1);
    assert_eq!(
        (
            dnssec.ds[0].algorithm,
            dnssec.ds[0].digest_type,
            dnssec.ds[0].matches_dnskey
        ),
        (8, 2, true)
    );
    assert_eq!(dnssec.ds_matches_dnskey, Some(true));
    let mut keys: Vec<(u16, u8, bool, Option<u32>)> = dnssec
        .dnskeys
        .iter()
        .map(|k| (k.flags, k.algorithm, k.sep, k.rsa_bits))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![(256, 8, false, Some(2048)), (257, 8, true, Some(2048))]
    );
    let mut covered: Vec<&str> = dnssec
        .signatures
        .iter()
        .map(|s| s.covers.as_str())
        .collect();
    covered.sort();
    assert_eq!(covered, vec!["DNSKEY", "DNSKEY", "NS", "SOA"]);
    for signature in &dnssec.signatures {
        assert!(
            signature.valid && signature.error.is_none(),
            "{signature:?}"
        );
        // dnssec-signzone's defaults: inception 1 h ago, expiration 30 days after.
        assert!(
            (29 * 86400..=30 * 86400).contains(&signature.seconds_left),
            "{signature:?}"
        );
    }
    let nsec3 = dnssec.nsec3.as_ref().unwrap();
    assert_eq!(
        (nsec3.iterations, nsec3.salt.as_str(), nsec3.opt_out),
        (0, "", false)
    );
    let denial = dnssec.denial.as_ref().unwrap();
    assert_eq!(
        (
            denial.rcode.as_deref(),
            denial.kind.as_deref(),
            denial.signed
        ),
        (Some("NXDOMAIN"), Some("NSEC3"), true)
    );
    // NXDOMAIN with NSEC3: closest encloser, next closer and wildcard proofs (2 or 3 NSEC3s).
    assert!((2..=3).contains(&denial.signatures.len()), "{denial:?}");
    assert!(
        denial
            .signatures
            .iter()
            .all(|s| s.covers == "NSEC3" && s.valid && s.seconds_left > 0),
        "{denial:?}"
    );
    assert!(dnssec.errors.is_empty(), "{:?}", dnssec.errors);
    let mail = healthy.mail.as_ref().unwrap();
    assert!(
        mail.mx.is_empty() && mail.spf.is_none() && mail.dmarc.is_none() && mail.errors.is_empty(),
        "{mail:?}"
    );
    assert!(mail.mta_sts.is_empty() && mail.mta_sts_policy.is_none());
    assert_eq!(healthy.caa.as_ref().unwrap().found_at, None);

    // Single NS with open recursion, open AXFR and version disclosure (BIND).
    let open = zone(&report, "open.test.");
    assert_eq!(open.error, None);
    assert_eq!(
        open.delegation.as_ref().unwrap().parent_ns,
        vec!["ns.open.test."]
    );
    assert_eq!(open.delegation.as_ref().unwrap().asns, Some(vec![64501]));
    assert_eq!(open.nameservers.len(), 1);
    let ns = &open.nameservers[0];
    assert_eq!(
        (ns.authoritative, ns.lame, ns.soa.as_ref().map(|s| s.serial)),
        (Some(true), Some(false), Some(3))
    );
    assert_eq!(ns.recursion_offered, Some(true));
    // A fresh BIND resolver answers `NS .` from its root hints as a referral (Zonemaster's
    // NAMESERVER07 UPWARD_REFERRAL on the same server).
    assert_eq!(ns.upward_referral, Some(true));
    assert_eq!(
        (
            ns.recursion.rcode.as_deref(),
            ns.recursion.recursion_available,
            ns.recursion.answers
        ),
        (Some("NOERROR"), Some(true), Some(1))
    );
    assert_eq!(
        (ns.axfr.open, ns.axfr.rcode.as_deref(), ns.axfr.records),
        (Some(true), Some("NOERROR"), 5)
    );
    assert_eq!(
        ns.version_bind.text.as_deref(),
        Some("9.18.49-1~deb12u3-Debian")
    );
    assert_eq!(ns.version_server.rcode.as_deref(), Some("REFUSED"));
    assert_eq!(open.dnssec.as_ref().unwrap().status, "insecure");

    // Lame: delegated to a Knot that does not serve the zone.
    let lame = zone(&report, "lame.test.");
    assert_eq!(
        lame.error.as_deref(),
        Some("no nameserver of lame.test. answered authoritatively")
    );
    assert_eq!(lame.nameservers.len(), 1);
    let ns = &lame.nameservers[0];
    assert_eq!(
        (ns.name.as_str(), ns.address.as_str()),
        ("ns.lame.test.", KNOT_B)
    );
    assert_eq!(
        (ns.authoritative, ns.lame, ns.soa.as_ref()),
        (Some(true).map(|_| false), Some(true), None)
    );
    assert_eq!(ns.soa_udp.rcode.as_deref(), Some("REFUSED"));
    assert_eq!(ns.soa_tcp.rcode.as_deref(), Some("REFUSED"));
    assert!(lame.delegation.as_ref().unwrap().child_ns.is_empty());
    // Its in-zone NS name cannot be resolved (the only server refuses): the reason is kept.
    let lame_ns = &lame.delegation.as_ref().unwrap().ns_names[0];
    assert_eq!(
        (lame_ns.glue.clone(), lame_ns.addresses.clone()),
        (vec![KNOT_B.to_string()], vec![])
    );
    assert_eq!(
        lame_ns.error.as_deref(),
        Some("no usable answer from the servers of lame.test.: 127.0.22.1:53: REFUSED")
    );
    assert_eq!(lame.soa.as_ref().unwrap().serials, Vec::<u32>::new());

    // Signed with expired RRSIGs (2020-01-01 to 2020-02-01), on BIND and Knot.
    let expired = zone(&report, "expired.test.");
    assert_eq!(expired.error, None);
    for ns in &expired.nameservers {
        assert_well_behaved(ns, 1);
    }
    let dnssec = expired.dnssec.as_ref().unwrap();
    assert_eq!(
        (dnssec.status.as_str(), dnssec.reason.as_deref()),
        ("bogus", Some("every RRSIG over DNSKEY has expired"))
    );
    assert_eq!(dnssec.ds_matches_dnskey, Some(true));
    assert_eq!(dnssec.signatures.len(), 4);
    for signature in &dnssec.signatures {
        assert_eq!(
            (signature.inception, signature.expiration, signature.valid),
            (1577836800, 1580515200, true),
            "{signature:?}"
        );
        assert!(signature.seconds_left < 0);
    }
    assert_eq!(
        dnssec
            .denial
            .as_ref()
            .map(|d| (d.kind.as_deref(), d.signed)),
        Some((Some("NSEC"), true))
    );
    // The NSEC proofs verify but expired with the rest (Zonemaster: DS10_NSEC_RRSIG_VERIFY_ERROR).
    let proofs = &dnssec.denial.as_ref().unwrap().signatures;
    assert!(
        !proofs.is_empty()
            && proofs
                .iter()
                .all(|s| s.covers == "NSEC" && s.valid && s.expiration == 1580515200),
        "{proofs:?}"
    );

    // Inconsistent: serial 1 on BIND, 2 on Knot; parent says ns1+ns2, child says ns1+ns3.
    let inconsistent = zone(&report, "inconsistent.test.");
    assert_eq!(inconsistent.error, None);
    let delegation = inconsistent.delegation.as_ref().unwrap();
    assert_eq!(
        delegation.parent_ns,
        vec!["ns1.inconsistent.test.", "ns2.inconsistent.test."]
    );
    assert_eq!(
        delegation.child_ns,
        vec!["ns1.inconsistent.test.", "ns3.inconsistent.test."]
    );
    let flags: Vec<(&str, bool, bool)> = delegation
        .ns_names
        .iter()
        .map(|n| (n.name.as_str(), n.in_parent, n.in_child))
        .collect();
    assert_eq!(
        flags,
        vec![
            ("ns1.inconsistent.test.", true, true),
            ("ns2.inconsistent.test.", true, false),
            ("ns3.inconsistent.test.", false, true)
        ]
    );
    // Glue and the child's own A record for ns2 differ: both addresses are probed.
    let ns2 = &delegation.ns_names[1];
    assert_eq!(
        (ns2.glue.clone(), ns2.addresses.clone()),
        (vec![KNOT_B.to_string()], vec![GLUE_ELSEWHERE.to_string()])
    );
    assert_eq!(
        delegation.addresses,
        vec![BIND_A, KNOT_B, GLUE_ELSEWHERE, NOTHING]
    );
    assert_eq!(delegation.asns, Some(vec![64501, 64502]));
    assert_eq!(delegation.addresses_without_asn, vec![NOTHING]);
    assert_eq!(inconsistent.nameservers.len(), 4);
    assert_eq!(
        server(inconsistent, GLUE_ELSEWHERE).soa_udp,
        failed("connection refused")
    );
    assert_eq!(inconsistent.soa.as_ref().unwrap().serials, vec![1, 2]);
    assert_eq!(
        inconsistent.soa.as_ref().unwrap().fields_consistent,
        Some(true)
    );
    assert_well_behaved(server(inconsistent, BIND_A), 1);
    assert_well_behaved(server(inconsistent, KNOT_B), 2);
    let ns3 = server(inconsistent, NOTHING);
    assert_eq!(
        (ns3.soa_udp.clone(), ns3.soa_tcp.clone()),
        (failed("connection refused"), failed("connection refused"))
    );
    assert_eq!((ns3.authoritative, ns3.lame), (None, None));
    // Nothing listens there: asked twice (SOA over UDP and TCP), then left alone.
    assert_eq!(
        (ns3.queries, ns3.axfr.error.as_deref()),
        (2, Some("not asked: no answer to SOA over UDP or TCP"))
    );

    // Mail: SPF with 11 lookups (1 void), DMARC p=none, MTA-STS, TLS-RPT, CAA.
    let mail_zone = zone(&report, "mail.test.");
    let mail = mail_zone.mail.as_ref().unwrap();
    assert!(mail.errors.is_empty(), "{:?}", mail.errors);
    let mx: Vec<(u16, &str, Vec<String>)> = mail
        .mx
        .iter()
        .map(|m| (m.preference, m.exchange.as_str(), m.addresses.clone()))
        .collect();
    assert_eq!(
        mx,
        vec![
            (10, "mx1.mail.test.", vec!["127.0.25.1".to_string()]),
            (20, "mx2.mail.test.", vec!["127.0.25.2".to_string()])
        ]
    );
    assert!(!mail.null_mx);
    let spf = mail.spf.as_ref().unwrap();
    assert_eq!(
        spf.records,
        vec!["v=spf1 include:_s1.mail.test include:_s2.mail.test a mx -all"]
    );
    assert_eq!(
        (spf.dns_lookups, spf.void_lookups, spf.all.as_deref()),
        (11, 1, Some("-"))
    );
    assert_eq!(
        spf.includes,
        vec!["_s1.mail.test.", "_s2.mail.test.", "_s3.mail.test."]
    );
    assert!(spf.syntax_errors.is_empty());
    let dmarc = mail.dmarc.as_ref().unwrap();
    assert_eq!(
        (dmarc.p.as_deref(), dmarc.sp.as_deref(), dmarc.pct),
        (Some("none"), None, None)
    );
    assert_eq!(dmarc.rua, vec!["mailto:dmarc@mail.test"]);
    assert_eq!(mail.mta_sts, vec!["v=STSv1; id=20240101"]);
    let policy = mail.mta_sts_policy.as_ref().unwrap();
    assert_eq!(
        policy.url,
        "https://mta-sts.mail.test/.well-known/mta-sts.txt"
    );
    assert_eq!(
        (policy.http_status, policy.error.as_deref()),
        (Some(200), None)
    );
    assert_eq!(
        (
            policy.version.as_deref(),
            policy.mode.as_deref(),
            policy.max_age
        ),
        (Some("STSv1"), Some("testing"), Some(86400))
    );
    assert_eq!(
        (policy.mx.clone(), policy.certificate_verified),
        (vec!["mx1.mail.test".to_string()], false)
    );
    assert_eq!(mail.tls_rpt, vec!["v=TLSRPTv1; rua=mailto:tls@mail.test"]);
    let caa = mail_zone.caa.as_ref().unwrap();
    assert_eq!(caa.found_at.as_deref(), Some("mail.test."));
    assert_eq!(
        caa.records
            .iter()
            .map(|r| (r.critical, r.tag.as_str(), r.value.as_str()))
            .collect::<Vec<_>>(),
        vec![(false, "issue", "ca.test")]
    );

    // An NS name that is an alias: the CNAME is reported, and the address is used twice.
    let alias = zone(&report, "alias.test.");
    assert_eq!(alias.error, None);
    let delegation = alias.delegation.as_ref().unwrap();
    let names: Vec<(&str, Option<&str>, Vec<String>)> = delegation
        .ns_names
        .iter()
        .map(|n| (n.name.as_str(), n.cname.as_deref(), n.addresses.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("ns1.alias.test.", None, vec![KNOT_B.to_string()]),
            (
                "ns2.alias.test.",
                Some("ns1.alias.test."),
                vec![KNOT_B.to_string()]
            ),
        ]
    );
    assert_eq!(delegation.shared_addresses, vec![KNOT_B]);
    // It also publishes a Null MX (RFC 7505): no SMTP target comes from it.
    let mail = alias.mail.as_ref().unwrap();
    assert!(mail.null_mx);
    assert_eq!(
        mail.mx
            .iter()
            .map(|m| (m.preference, m.exchange.as_str(), m.addresses.len()))
            .collect::<Vec<_>>(),
        vec![(0, ".", 0)]
    );
    assert!(!report
        .targets
        .iter()
        .any(|t| t.host.is_empty() || t.host == "."));
    assert_eq!(alias.nameservers.len(), 2);
    for ns in &alias.nameservers {
        assert_well_behaved(ns, 9);
    }

    // Hostile: silent, garbage and compression-loop servers beside one good BIND.
    let hostile = zone(&report, "hostile.test.");
    assert_eq!(hostile.error, None);
    assert_eq!(hostile.nameservers.len(), 4);
    assert_well_behaved(server(hostile, BIND_A), 5);
    let silent = server(hostile, SILENT);
    assert_eq!(
        (silent.soa_udp.clone(), silent.soa_tcp.clone()),
        (
            failed("no answer within 3000 ms"),
            failed("no answer within 3000 ms")
        )
    );
    assert_eq!(
        silent.axfr.error.as_deref(),
        Some("not asked: no answer to SOA over UDP or TCP")
    );
    assert_eq!(silent.queries, 2);
    let garbage = server(hostile, GARBAGE);
    assert_eq!(
        garbage.soa_udp.error.as_deref(),
        Some("malformed answer: unrecognized label code: 1101100")
    );
    assert_eq!(garbage.soa_tcp.error, garbage.soa_udp.error);
    assert_eq!((garbage.authoritative, garbage.lame), (None, None));
    let looping = server(hostile, LOOPING);
    for fact in [&looping.soa_udp, &looping.soa_tcp, &looping.aaaa] {
        assert!(
            fact.error.as_deref().is_some_and(
                |e| e.starts_with("malformed answer: label points to data not prior to")
            ),
            "{fact:?}"
        );
    }
    assert_eq!(hostile.soa.as_ref().unwrap().serials, vec![5]);

    // The MX hosts were swept as STARTTLS targets on port 25: mx1 upgrades (OpenSSL behind a
    // scripted SMTP dialogue), mx2 does not offer STARTTLS.
    let mx: Vec<(&str, u16, &str, Option<&str>)> = report
        .targets
        .iter()
        .map(|t| {
            (
                t.host.as_str(),
                t.port,
                t.service.name(),
                t.address.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        mx,
        vec![
            ("mx1.mail.test", 25, "smtp-starttls", Some(MX_STARTTLS)),
            ("mx2.mail.test", 25, "smtp-starttls", Some(MX_PLAIN))
        ]
    );
    // DANE: mx1's `3 1 1` matches the leaf it served, its `3 0 1` of zeros does not; mx2 sent no
    // chain (no STARTTLS), so its record is not matched either way.
    let spki = spki_sha256(&common::Pki::shared().rsa.cert);
    let mail = zone(&report, "mail.test.").mail.as_ref().unwrap();
    type TlsaRow<'a> = (&'a str, u8, u8, u8, String, Option<bool>);
    let mut tlsa: Vec<TlsaRow> = mail
        .mx
        .iter()
        .flat_map(|m| {
            m.tlsa.iter().map(move |t| {
                (
                    m.exchange.as_str(),
                    t.usage,
                    t.selector,
                    t.matching,
                    t.data.clone(),
                    t.matches_chain,
                )
            })
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
    assert!(mail
        .mx
        .iter()
        .all(|m| m.tlsa_authentic_data == Some(false) && m.tlsa_error.is_none()));
    let mx1 = &report.targets[0];
    assert_eq!(mx1.error, None, "{mx1:#?}");
    let tls = mx1.tls.as_ref().unwrap();
    assert!(
        tls.protocols
            .contains(&postura::tls::registry::Protocol::Tls12)
            && tls
                .protocols
                .contains(&postura::tls::registry::Protocol::Tls13)
    );
    assert_eq!(tls.chain_pem.len(), 2);
    assert_eq!(
        report.targets[1].error.as_deref(),
        Some("protocol error: STARTTLS not offered (not in the EHLO reply)")
    );

    // Resolvers, in a second run: the resolver probes fill BIND's cache, after which it answers
    // `NS .` from the cache instead of with the upward referral asserted above.
    let (status, stdout, stderr) = lab.postura(&[
        "scan",
        "--quiet",
        "--json",
        "-",
        "--dns-timeout",
        DNS_TIMEOUT,
        "--dns-signed-name",
        "www.healthy.test",
        "--dns-bogus-name",
        "www.expired.test",
        "resolver://127.0.30.1",
        "resolver://127.0.23.1",
    ]);
    assert!(status.success(), "{stderr}\n{}", lab.diagnostics());
    let report: ScanReport =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(report.zones.is_empty() && report.targets.is_empty());
    // Unbound validates; BIND with recursion for anyone and no validation does not.
    assert_eq!(report.resolvers.len(), 2);
    let unbound = &report.resolvers[0];
    assert_eq!(
        (unbound.address.as_str(), unbound.open, unbound.validates),
        ("127.0.30.1:53", Some(true), Some(true))
    );
    assert_eq!(unbound.authentic_data, Some(true));
    assert_eq!(unbound.bogus_query.rcode.as_deref(), Some("SERVFAIL"));
    let bind = &report.resolvers[1];
    assert_eq!(
        (bind.address.as_str(), bind.open, bind.validates),
        ("127.0.23.1:53", Some(true), Some(false))
    );
    assert_eq!(
        (bind.authentic_data, bind.bogus_query.rcode.as_deref()),
        (Some(false), Some("NOERROR"))
    );
    // Both answer anyone (the lab's clients are everyone on loopback); only BIND fails to validate.
    let verdicts = |r: &postura::dns::facts::ResolverFacts| -> Vec<(String, postura::checks::model::Status)> {
        r.findings.iter().map(|f| (f.check.clone(), f.status)).collect()
    };
    use postura::checks::model::Status::{Fail, Pass};
    assert_eq!(verdicts(unbound), vec![("resolver.not_validating".into(), Pass), ("resolver.open".into(), Fail)]);
    assert_eq!(verdicts(bind), vec![("resolver.not_validating".into(), Fail), ("resolver.open".into(), Fail)]);

    // A country profile: its `domains` are zones, its `dns-resolver` endpoints are resolvers.
    let profile = lab.dir.path().join("lab.toml");
    std::fs::write(
        &profile,
        format!(
            "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Lab\"\n[scope]\nnames = [\"test\"]\nnetworks = [\"127.0.0.0/8\"]\n\
             [[endpoints]]\nhost = \"{UNBOUND}\"\nservice = \"dns-resolver\"\nsector = \"operator\"\n\
             [[domains]]\nname = \"open.test\"\nsector = \"government\"\n\
             [dns]\nvalidation_signed_name = \"www.healthy.test\"\nvalidation_bogus_name = \"www.expired.test\"\n"
        ),
    )
    .unwrap();
    let profile = profile.display().to_string();
    let (status, stdout, stderr) = lab.postura(&[
        "scan",
        "--quiet",
        "--json",
        "-",
        "--root-hints",
        &hints,
        "--dns-timeout",
        DNS_TIMEOUT,
        "--profile",
        &profile,
    ]);
    assert!(status.success(), "{stderr}");
    let report: ScanReport =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        report
            .zones
            .iter()
            .map(|z| z.name.as_str())
            .collect::<Vec<_>>(),
        vec!["open.test."]
    );
    assert_eq!(report.zones[0].nameservers[0].axfr.open, Some(true));
    assert_eq!(
        report
            .resolvers
            .iter()
            .map(|r| (r.address.as_str(), r.open, r.validates))
            .collect::<Vec<_>>(),
        vec![("127.0.30.1:53", Some(true), Some(true))]
    );
    assert!(report.targets.is_empty());

    // Nameserver addresses outside the profile's declared networks are not probed.
    let narrow = lab.dir.path().join("narrow.toml");
    std::fs::write(
        &narrow,
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Lab\"\n[scope]\nnames = [\"test\"]\nnetworks = [\"127.0.21.0/24\"]\n\
         [[domains]]\nname = \"healthy.test\"\nsector = \"cctld\"\n",
    )
    .unwrap();
    let narrow = narrow.display().to_string();
    let (status, stdout, stderr) = lab.postura(&[
        "scan",
        "--quiet",
        "--json",
        "-",
        "--root-hints",
        &hints,
        "--dns-timeout",
        DNS_TIMEOUT,
        "--profile",
        &narrow,
    ]);
    assert!(status.success(), "{stderr}");
    let report: ScanReport =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let healthy = zone(&report, "healthy.test.");
    assert_well_behaved(server(healthy, BIND_A), 2024010101);
    let outside = server(healthy, KNOT_B);
    let reason = "out of scope: 127.0.22.1 is not in the profile's declared networks; not probed";
    assert_eq!(
        (outside.soa_udp.clone(), outside.soa_tcp.clone()),
        (failed(reason), failed(reason))
    );
    assert_eq!((outside.authoritative, outside.queries), (None, 0));

    // The human summary names the same facts.
    let (status, stdout, stderr) = lab.postura(&[
        "scan",
        "--root-hints",
        &hints,
        "--dns-timeout",
        DNS_TIMEOUT,
        "dns://open.test",
    ]);
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains("ns.open.test. 127.0.23.1  serial 3 · recursion yes · AXFR yes · version 9.18.49-1~deb12u3-Debian · EDNS OPT yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("DNSSEC        insecure (no DS at the parent, no DNSKEY)"),
        "{stdout}"
    );
}
