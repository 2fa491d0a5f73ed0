//! Country profiles: `domains` become zones, `dns-resolver` endpoints resolvers, and the
//! profile's scope bounds which nameserver addresses are probed.

use super::*;

#[test]
fn profile_zones_and_resolvers() {
    open::open_zone_facts();
    let lab = DnsLab::shared();
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
    let report = scan(&[], &["--profile", &profile]);
    assert_eq!(report.zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), vec!["open.test."]);
    assert_eq!(report.zones[0].nameservers[0].axfr.open, Some(true));
    // The profile's names are used (they override the public defaults).
    assert_eq!(
        report
            .resolvers
            .iter()
            .map(|r| (r.address.as_str(), r.open, r.validates, r.signed_name.as_deref()))
            .collect::<Vec<_>>(),
        vec![("127.0.30.1:53", Some(true), Some(true), Some("www.healthy.test"))]
    );
    assert!(report.targets.is_empty());
}

#[test]
fn nameservers_outside_the_scope_are_not_probed() {
    let lab = DnsLab::shared();
    let narrow = lab.dir.path().join("narrow.toml");
    std::fs::write(
        &narrow,
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Lab\"\n[scope]\nnames = [\"test\"]\nnetworks = [\"127.0.21.0/24\"]\n\
         [[domains]]\nname = \"healthy.test\"\nsector = \"cctld\"\n",
    )
    .unwrap();
    let narrow = narrow.display().to_string();
    let report = scan(&[], &["--profile", &narrow]);
    let healthy = zone(&report, "healthy.test.");
    assert_well_behaved(server(healthy, BIND_A), 2024010101);
    let outside = server(healthy, KNOT_B);
    let reason = "out of scope: 127.0.22.1 is not in the profile's declared networks; not probed";
    assert_eq!((outside.soa_udp.clone(), outside.soa_tcp.clone()), (failed(reason), failed(reason)));
    assert_eq!((outside.answered, outside.authoritative, outside.queries), (None, None, 0));
    // Not asked is not silent: no "unresponsive" finding for it.
    assert_eq!(finding(healthy, "dns.ns.unresponsive").status, Status::Pass);
}
