//! The root's keys judged against a trust anchor (`--trust-anchor`): the lab root's own DS
//! makes the root link secure; IANA's root KSKs (the default with the IANA root servers) do not
//! match the lab root, which is then bogus and breaks every chain below it.

use super::*;
use postura::dns::facts::ChainLink;

fn anchor_file(name: &str, text: &str) -> String {
    let path = DnsLab::shared().dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn chain_of(report: &ScanReport) -> Vec<ChainLink> {
    zone(report, "healthy.test.").dnssec.as_ref().unwrap().chain.clone()
}

#[test]
fn the_root_is_judged_against_the_trust_anchor() {
    let lab = DnsLab::shared();
    let right = anchor_file("anchor-lab.ds", &lab.root_ds);
    let report = scan(&["healthy.test"], &["--trust-anchor", &right]);
    assert_eq!(
        chain_of(&report),
        vec![
            ChainLink { zone: ".".into(), status: "secure".into(), reason: None },
            ChainLink { zone: "test.".into(), status: "secure".into(), reason: None },
        ]
    );
    assert_eq!(finding(zone(&report, "healthy.test."), "dns.dnssec.chain_broken").status, Status::Pass);

    // IANA's KSK-2017 and KSK-2024, as Debian's /usr/share/dns/root.ds writes them.
    let iana = anchor_file(
        "anchor-iana.ds",
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
         . IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n",
    );
    let report = scan(&["healthy.test"], &["--trust-anchor", &iana]);
    let chain = chain_of(&report);
    assert_eq!((chain[0].zone.as_str(), chain[0].status.as_str()), (".", "bogus"));
    assert_eq!(chain[0].reason.as_deref(), Some(format!("no root DNSKEY matches the trust anchor ({iana})").as_str()));
    let broken = finding(zone(&report, "healthy.test."), "dns.dnssec.chain_broken");
    assert_eq!(broken.status, Status::Fail);
    assert!(broken.detail["chain"][0].as_str().unwrap().starts_with(".: bogus (no root DNSKEY matches"), "{broken:?}");

    // Without an anchor for a private root, the root is not judged (the walk's links only).
    assert_eq!(chain_of(&scan(&["healthy.test"], &[]))[0].zone, "test.");
}

#[test]
fn a_malformed_anchor_file_is_refused_with_its_line() {
    let lab = DnsLab::shared();
    let bad = anchor_file("anchor-bad.ds", "; IANA\n. IN DS 20326 8 2 not-hex\n");
    let (status, _, stderr) = lab.postura(&["scan", "--quiet", "--trust-anchor", &bad, "dns://healthy.test"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("--trust-anchor {bad}: line 2: the digest is not hexadecimal")), "{stderr}");
}
