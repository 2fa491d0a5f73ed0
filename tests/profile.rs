//! Country profiles: the shipped profiles load, every kind of mistake is reported at the exact
//! `line:column` with the field and the fix named, and scope matching behaves as documented.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use postura::profile::{Domain, Endpoint, Profile, Scope, Service, SCHEMA_VERSION};
use proptest::prelude::*;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn fixture(name: &str) -> PathBuf {
    repo_path(&format!("tests/fixtures/profiles/{name}"))
}

/// The Display of the error of loading a bad fixture, and the path it names.
fn fixture_error(name: &str) -> (String, String) {
    let path = fixture(name);
    match Profile::load(&path) {
        Ok(p) => panic!("{name} should be rejected, loaded {p:?}"),
        Err(e) => (e.to_string(), path.display().to_string()),
    }
}

/// The Display of the error of parsing `text` as `t.toml`.
fn parse_error(text: &str) -> String {
    match Profile::parse(text, Path::new("t.toml")) {
        Ok(p) => panic!("should be rejected, parsed {p:?}\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn parse_ok(text: &str) -> Profile {
    match Profile::parse(text, Path::new("t.toml")) {
        Ok(p) => p,
        Err(e) => panic!("should parse:\n{e}\n{text}"),
    }
}

/// Asserts that `errors` has a block at `file:line:column` whose message contains every
/// `in_message` and whose help line contains every `in_help`.
#[track_caller]
fn assert_block(errors: &str, file: &str, (line, column): (usize, usize), in_message: &[&str], in_help: &[&str]) {
    let prefix = format!("{file}:{line}:{column}: error: ");
    let lines: Vec<&str> = errors.lines().collect();
    let Some(at) = lines.iter().position(|l| l.starts_with(&prefix)) else {
        panic!("no error at {file}:{line}:{column} in:\n{errors}");
    };
    let message = &lines[at][prefix.len()..];
    for part in in_message {
        assert!(message.contains(part), "message {message:?} lacks {part:?}\n{errors}");
    }
    let help = lines
        .get(at + 1)
        .and_then(|l| l.strip_prefix("  help: "))
        .unwrap_or_else(|| panic!("no help line after {prefix}\n{errors}"));
    for part in in_help {
        assert!(help.contains(part), "help {help:?} lacks {part:?}\n{errors}");
    }
}

fn error_count(errors: &str) -> usize {
    errors.lines().filter(|l| l.contains(": error: ")).count()
}

/// A valid profile up to and including its [scope]; tests append what they check.
const HEAD: &str = r#"schema_version = 1
[country]
code = "UY"
name = "Uruguay"
[scope]
names = ["example.uy"]
networks = ["127.0.0.0/8", "2001:db8::/32"]
"#;
// HEAD is 7 lines: appended text starts on line 8.

fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

// ---------------------------------------------------------------------------------------------
// Shipped profiles

#[test]
fn example_profile_loads_with_documented_defaults() {
    let path = repo_path("profiles/example.toml");
    let p = Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.source, path);
    assert_eq!(p.country_code, "UY");
    assert_eq!(p.country_name, "Uruguay");
    assert_eq!(p.policy.as_deref(), Some("mozilla-intermediate"));
    assert_eq!(p.scope.names, ["example.uy", "example.net"]);
    assert_eq!(p.scope.networks.len(), 2);
    assert_eq!(p.endpoints.len(), 5);
    assert_eq!(
        p.endpoints[0],
        Endpoint {
            host: "www.example.uy".into(),
            port: 443,
            service: Service::Https,
            address: Some("127.0.0.1".parse().unwrap()),
            sector: "regulator".into(),
            operator: Some("Example Regulator".into()),
            xmpp_domain: None,
        }
    );
    // No `port`: the service default.
    assert_eq!((p.endpoints[1].service, p.endpoints[1].port), (Service::SmtpStarttls, 25));
    assert_eq!(p.endpoints[2].port, 587);
    assert_eq!(p.endpoints[3].address, Some("::1".parse().unwrap()));
    assert_eq!((p.endpoints[3].port, p.endpoints[3].operator.as_deref()), (53, None));
    assert_eq!(p.endpoints[4].host, "127.0.0.3");
    assert_eq!(p.endpoints[4].address, None);
    assert_eq!(
        p.domains,
        [Domain {
            name: "example.uy".into(),
            sector: "government".into(),
            operator: Some("Example Government".into()),
        }]
    );
    assert!(p.scope_violations().is_empty());
}

#[test]
fn example_profile_documents_every_service_and_key() {
    let text = std::fs::read_to_string(repo_path("profiles/example.toml")).unwrap();
    for service in Service::ALL {
        // Each service has a line "#   NAME   description   (PORT...)".
        let prefix = format!("#   {:<15}", service.name());
        let documented =
            text.lines().any(|l| l.starts_with(&prefix) && l.contains(&format!("({}", service.default_port())));
        assert!(documented, "example.toml does not document {service}");
    }
    for key in [
        "schema_version",
        "[country]",
        "code",
        "name",
        "policy",
        "[scope]",
        "names",
        "networks",
        "[[endpoints]]",
        "host",
        "port",
        "service",
        "address",
        "sector",
        "operator",
        "[[domains]]",
        "[weights]",
        "[[exceptions]]",
        "approved_by",
        "expires",
    ] {
        assert!(text.contains(key), "example.toml does not mention {key}");
    }
    assert!(text.contains("Wildcards are NOT allowed"));
}

#[test]
fn uy_lab_profile_loads_and_points_only_at_lab_loopback() {
    let p = Profile::load(&repo_path("profiles/uy.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.country_code, "UY");
    assert_eq!(p.scope.networks, ["127.0.10.0/24".parse().unwrap()]);
    assert!(p.endpoints.len() >= 10);
    assert!(!p.domains.is_empty());
    let sectors: std::collections::BTreeSet<&str> = p.endpoints.iter().map(|e| e.sector.as_str()).collect();
    for sector in ["cctld", "operator", "ixp", "regulator", "csirt", "government"] {
        assert!(sectors.contains(sector), "uy.toml has no {sector} endpoint");
    }
    for e in &p.endpoints {
        let Some(IpAddr::V4(address)) = e.address else {
            panic!("{} is not pinned to an IPv4 lab address", e.host);
        };
        assert_eq!(address.octets()[..3], [127, 0, 10], "{} -> {address}", e.host);
        assert!(e.host.ends_with(".example.uy"), "{}", e.host);
    }
    let text = std::fs::read_to_string(repo_path("profiles/uy.toml")).unwrap();
    assert!(text.contains("LAB SAMPLE"));
    assert!(p.scope_violations().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Normalisation and the Service vocabulary

#[test]
fn names_and_codes_are_normalised() {
    let p = parse_ok(&with_head(
        r#"[[endpoints]]
host = "WWW.Example.UY."
service = "tls"
sector = "operator"
[[domains]]
name = "Example.UY."
sector = "cctld"
"#,
    ));
    assert_eq!(p.endpoints[0].host, "www.example.uy");
    assert_eq!(p.domains[0].name, "example.uy");
    assert_eq!(p.policy, None);
    let p = parse_ok(&with_head("[[domains]]\nname = \"example.uy\"\nsector = \"x\"\n").replace("\"UY\"", "\"uy\""));
    assert_eq!(p.country_code, "UY");
}

#[test]
fn every_service_has_its_documented_default_port() {
    let expected = [
        ("https", 443),
        ("tls", 443),
        ("smtp-starttls", 25),
        ("smtps", 465),
        ("imap-starttls", 143),
        ("imaps", 993),
        ("pop3-starttls", 110),
        ("pop3s", 995),
        ("dns-auth", 53),
        ("dns-resolver", 53),
        ("ftp-starttls", 21),
        ("xmpp-starttls", 5222),
        ("xmpp-server-starttls", 5269),
        ("ldap-starttls", 389),
        ("postgres-starttls", 5432),
        ("mysql-starttls", 3306),
        ("nntp-starttls", 119),
        ("sieve-starttls", 4190),
        ("lmtp-starttls", 24),
    ];
    assert_eq!(Service::ALL.len(), expected.len());
    for (name, port) in expected {
        let service: Service = name.parse().unwrap();
        assert_eq!((service.name(), service.default_port()), (name, port));
        assert_eq!(service.to_string(), name);
        assert_eq!(serde_json::to_string(&service).unwrap(), format!("\"{name}\""));
        let p = parse_ok(&with_head(&format!(
            "[[endpoints]]\nhost = \"a.example.uy\"\nservice = \"{name}\"\nsector = \"x\"\n"
        )));
        assert_eq!(p.endpoints[0].port, port);
    }
    assert!("HTTPS".parse::<Service>().is_err());
    let err = "smtp".parse::<Service>().unwrap_err().to_string();
    assert!(err.contains("smtp-starttls") && err.contains("dns-resolver"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// TOML syntax errors

#[test]
fn unquoted_value_is_located_and_quoting_is_suggested() {
    let (errors, file) = fixture_error("syntax_unquoted_value.toml");
    assert_block(&errors, &file, (13, 11), &["invalid TOML"], &["quoted", "service = \"https\""]);
    assert_eq!(error_count(&errors), 1);
}

#[test]
fn unterminated_string_is_located_at_the_end_of_its_line() {
    let (errors, file) = fixture_error("syntax_unterminated_string.toml");
    assert_block(&errors, &file, (6, 16), &["invalid TOML", "string"], &["close the string"]);
}

#[test]
fn duplicate_key_is_a_syntax_error_naming_the_key() {
    let errors = parse_error("schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\nname = \"Uruguay\"\n");
    assert_block(&errors, "t.toml", (5, 1), &["duplicate key `name`"], &["remove one of the `name` lines"]);
    let errors = parse_error(&with_head("[scope]\nnames = []\n"));
    assert_block(&errors, "t.toml", (8, 1), &["duplicate key `scope`"], &["merge the two [scope] sections"]);
}

// ---------------------------------------------------------------------------------------------
// serde errors: types, unknown keys, missing keys

#[test]
fn wrong_type_names_the_field_and_the_fix() {
    let (errors, file) = fixture_error("wrong_type_port.toml");
    assert_block(
        &errors,
        &file,
        (13, 8),
        &["`port` must be an integer from 1 to 65535", "found string \"443\""],
        &["remove the quotes: port = 443"],
    );
    let errors = parse_error(&with_head("[[domains]]\nname = 5\nsector = \"x\"\n"));
    assert_block(
        &errors,
        "t.toml",
        (9, 8),
        &["`name` must be a string holding a DNS name", "integer 5"],
        &["name = \"example.uy\""],
    );
    let errors =
        parse_error("schema_version = 1\n[country]\ncode = \"UY\"\nname = \"U\"\n[scope]\nnames = \"example.uy\"\n");
    assert_block(
        &errors,
        "t.toml",
        (6, 9),
        &["`names` must be an array", "found string"],
        &["names = [\"example.uy\"]"],
    );
}

#[test]
fn single_bracket_endpoints_table_asks_for_double_brackets() {
    let errors = parse_error(&with_head("[endpoints]\nhost = \"a.example.uy\"\nservice = \"https\"\nsector = \"x\"\n"));
    assert_block(
        &errors,
        "t.toml",
        (8, 1),
        &["`endpoints` must be an array of tables", "found a table"],
        &["[[endpoints]]", "double brackets"],
    );
}

#[test]
fn unknown_key_suggests_the_closest_known_key() {
    let (errors, file) = fixture_error("unknown_key.toml");
    assert_block(
        &errors,
        &file,
        (14, 1),
        &["unknown key `adress` in [[endpoints]]"],
        &["did you mean `address`?", "`host`, `port`, `service`, `address`, `sector`, `operator`"],
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_allowed_keys() {
    let errors = parse_error("schema_version = 1\ncolour = \"blue\"\n");
    assert_block(
        &errors,
        "t.toml",
        (2, 1),
        &["unknown key `colour` at the top level"],
        &["remove `colour`", "`schema_version`, `country`, `scope`, `endpoints`, `domains`"],
    );
    // Inline tables are the same tables.
    let errors = parse_error("schema_version = 1\ncountry = { code = \"UY\", nmae = \"U\" }\n");
    assert_block(&errors, "t.toml", (2, 26), &["unknown key `nmae` in [country]"], &["did you mean `name`?"]);
    let errors = parse_error(&with_head("[[domains]]\nname = \"example.uy\"\nsectr = \"x\"\n"));
    assert_block(&errors, "t.toml", (10, 1), &["`sectr` in [[domains]]"], &["did you mean `sector`?"]);
}

#[test]
fn missing_key_points_at_its_table_and_shows_an_example() {
    let (errors, file) = fixture_error("missing_key.toml");
    assert_block(
        &errors,
        &file,
        (11, 1),
        &["missing required key `sector` in [[endpoints]]"],
        &["add sector = \"operator\"", "kebab-case"],
    );
    let errors = parse_error("schema_version = 1\n[country]\ncode = \"UY\"\nname = \"U\"\n");
    assert_block(&errors, "t.toml", (1, 1), &["missing required key `scope` at the top level"], &["[scope]", "names"]);
}

// ---------------------------------------------------------------------------------------------
// schema_version

#[test]
fn schema_version_other_than_1_is_reported_before_anything_else() {
    // The fixture also has an unknown key (`flag`): the version is what matters.
    let (errors, file) = fixture_error("schema_version_2.toml");
    assert_block(
        &errors,
        &file,
        (2, 18),
        &["unsupported `schema_version` 2", "reads schema_version 1"],
        &["set schema_version = 1"],
    );
    assert_eq!(error_count(&errors), 1);
    let errors = parse_error("schema_version = \"1\"\n");
    assert_block(
        &errors,
        "t.toml",
        (1, 18),
        &["`schema_version` must be the integer 1", "string"],
        &["schema_version = 1 (no quotes)"],
    );
    let errors = parse_error("[country]\ncode = \"UY\"\n");
    assert_block(&errors, "t.toml", (1, 1), &["missing required key `schema_version`"], &["add `schema_version = 1`"]);
    assert_eq!(SCHEMA_VERSION, 1);
}

// ---------------------------------------------------------------------------------------------
// Semantic errors

#[test]
fn all_semantic_errors_are_reported_in_file_order() {
    let (errors, file) = fixture_error("many_errors.toml");
    assert_block(&errors, &file, (5, 8), &["`country.code`", "alpha-2", "\"URY\""], &["alpha-3", "code = \"UY\""]);
    assert_block(
        &errors,
        &file,
        (10, 28),
        &["`scope.networks` entry \"2001:db8::/33x\" is not a CIDR network"],
        &["ADDRESS/PREFIX-LENGTH", "\"2001:db8::/32\""],
    );
    assert_block(&errors, &file, (14, 8), &["`port` must be from 1 to 65535, found 0"], &["from 1 to 65535"]);
    assert_block(
        &errors,
        &file,
        (15, 11),
        &["unknown `service` \"htps\""],
        &[
            "did you mean \"https\"?",
            "https, tls, smtp-starttls, smtps, imap-starttls, imaps, pop3-starttls, pop3s, dns-auth, dns-resolver",
        ],
    );
    assert_block(
        &errors,
        &file,
        (16, 11),
        &["`address` \"127.0.0.300\" is not a valid IPv4 or IPv6 address"],
        &["address = \"192.0.2.10\""],
    );
    assert_block(
        &errors,
        &file,
        (17, 10),
        &["`sector` \"Regulator\" must be lower-case kebab-case"],
        &["sector = \"regulator\""],
    );
    assert_block(
        &errors,
        &file,
        (20, 8),
        &["`host` \"https://mail.example.uy/\" is not a valid DNS name or IP address", "URL"],
        &["\"mail.example.uy\""],
    );
    assert_block(
        &errors,
        &file,
        (25, 8),
        &[
            "`host` \"www.example.com\" is outside the declared scope",
            "scope.names = [\"example.uy\", \"example.net\"]",
        ],
        &["add \"example.com\" to scope.names", "remove this endpoint"],
    );
    assert_block(
        &errors,
        &file,
        (35, 8),
        &["duplicate endpoint", "\"ns1.example.uy\"", "`port` 53", "\"dns-auth\"", "line 30"],
        &["remove one of the two [[endpoints]] tables"],
    );
    assert_eq!(error_count(&errors), 9, "{errors}");
    // Blocks are two lines each and in file order.
    assert_eq!(errors.lines().count(), 18);
    let positions: Vec<(usize, usize)> = errors
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{file}:")))
        .map(|l| {
            let mut parts = l.split(':');
            let line = parts.next().unwrap().parse().unwrap();
            let column = parts.next().unwrap().parse().unwrap();
            (line, column)
        })
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn country_code_must_be_two_letters() {
    for (code, help) in [("U1", "two-letter ISO 3166-1 alpha-2"), ("", "two-letter"), ("ÜY", "two-letter")] {
        let errors = parse_error(&HEAD.replace("\"UY\"", &format!("\"{code}\"")));
        assert_block(&errors, "t.toml", (3, 8), &["`country.code` must be an ISO 3166-1 alpha-2 code"], &[help]);
    }
}

#[test]
fn ports_outside_1_to_65535_are_rejected_with_the_service_default() {
    for (port, column) in [("0", 8), ("65536", 8), ("-1", 8)] {
        let errors = parse_error(&with_head(&format!(
            "[[endpoints]]\nhost = \"a.example.uy\"\nservice = \"imaps\"\nport = {port}\nsector = \"x\"\n"
        )));
        assert_block(
            &errors,
            "t.toml",
            (11, column),
            &[&format!("`port` must be from 1 to 65535, found {port}")],
            &["remove `port` to use the imaps default (993)"],
        );
    }
}

#[test]
fn invalid_addresses_get_specific_help() {
    for (address, help) in [
        ("::1/128", "drop the /prefix"),
        ("[::1]", "without brackets"),
        ("127.0.0.1:443", "move the port to `port`"),
        ("localhost", "write one IPv4 or IPv6 address"),
        ("0.0.0.0", "pin the unicast address"),
    ] {
        let errors = parse_error(&with_head(&format!(
            "[[endpoints]]\nhost = \"a.example.uy\"\nservice = \"tls\"\naddress = \"{address}\"\nsector = \"x\"\n"
        )));
        assert_block(&errors, "t.toml", (11, 11), &["`address`"], &[help]);
        assert_eq!(error_count(&errors), 1, "{errors}");
    }
}

#[test]
fn invalid_cidr_networks_are_explained() {
    let errors = parse_error(
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"U\"\n[scope]\nnames = [\"example.uy\"]\nnetworks = [\"10.0.0.0/33\", \"127.0.0.1/8\", \"192.0.2.7\", \"fe80::/200\"]\n[[domains]]\nname = \"example.uy\"\nsector = \"x\"\n",
    );
    assert_block(
        &errors,
        "t.toml",
        (7, 13),
        &["`scope.networks` entry \"10.0.0.0/33\" is not a CIDR network"],
        &["prefix 0-32"],
    );
    assert_block(
        &errors,
        "t.toml",
        (7, 28),
        &["\"127.0.0.1/8\"", "host bits set"],
        &["\"127.0.0.0/8\" for the whole network", "\"127.0.0.1/32\""],
    );
    assert_block(&errors, "t.toml", (7, 43), &["\"192.0.2.7\"", "no prefix length"], &["\"192.0.2.7/32\""]);
    assert_block(&errors, "t.toml", (7, 56), &["\"fe80::/200\""], &["prefix 0-128"]);
    assert_eq!(error_count(&errors), 4);
}

#[test]
fn hosts_must_be_dns_names_or_ip_literals() {
    let long_label = "a".repeat(64);
    for (host, reason, help) in [
        ("", "it is empty", "www.example.uy"),
        ("a.example.uy:8443", "includes a port", "port = 8443"),
        ("a..example.uy", "empty label", "\"a.example.uy\""),
        ("a_b.example.uy", "`_` is not allowed", "remove or replace `_`"),
        ("*.example.uy", "`*` is not allowed", "remove or replace `*`"),
        ("-a.example.uy", "hyphen", "www.example.uy"),
        ("www example.uy", "whitespace", "\"wwwexample.uy\""),
        ("ñandú.example.uy", "non-ASCII", "xn--"),
        ("127.0.0.256", "looks like an IPv4 address", "0 to 255"),
        ("[2001:db8::1]", "without brackets", "\"2001:db8::1\""),
        (&format!("{long_label}.example.uy"), "longer than 63", "www.example.uy"),
    ] {
        let errors =
            parse_error(&with_head(&format!("[[endpoints]]\nhost = \"{host}\"\nservice = \"tls\"\nsector = \"x\"\n")));
        assert_block(
            &errors,
            "t.toml",
            (9, 8),
            &[&format!("`host` \"{host}\" is not a valid DNS name or IP address"), reason],
            &[help],
        );
        assert_eq!(error_count(&errors), 1, "{errors}");
    }
}

#[test]
fn duplicate_endpoints_compare_normalised_host_and_effective_port() {
    let errors = parse_error(&with_head(
        r#"[[endpoints]]
host = "www.example.uy"
service = "https"
sector = "x"
[[endpoints]]
host = "WWW.EXAMPLE.UY."
port = 443
service = "https"
sector = "x"
[[endpoints]]
host = "www.example.uy"
service = "tls"
sector = "x"
"#,
    ));
    assert_block(
        &errors,
        "t.toml",
        (13, 8),
        &["duplicate endpoint", "\"www.example.uy\"", "`port` 443", "\"https\"", "line 9"],
        &["remove one of the two"],
    );
    // Same host and port with another service is a different endpoint.
    assert_eq!(error_count(&errors), 1, "{errors}");
}

#[test]
fn endpoints_and_domains_outside_the_scope_are_rejected() {
    let (errors, file) = fixture_error("out_of_scope.toml");
    assert_block(
        &errors,
        &file,
        (13, 8),
        &["`host` \"www.badexample.uy\" is outside the declared scope", "scope.names = [\"example.uy\"]"],
        &["add \"badexample.uy\" to scope.names"],
    );
    assert_block(
        &errors,
        &file,
        (20, 11),
        &["pinned `address` 192.0.2.10 is outside the declared scope", "\"127.0.10.0/24\", \"2001:db8::/32\""],
        &["add a network containing it to scope.networks", "\"192.0.2.10/32\""],
    );
    assert_block(
        &errors,
        &file,
        (24, 8),
        &["`host` 2001:db9::1 is outside the declared scope"],
        &["\"2001:db9::1/128\""],
    );
    assert_block(
        &errors,
        &file,
        (29, 8),
        &["domain `name` \"example.net\" is outside the declared scope"],
        &["add \"example.net\" to scope.names", "remove this domain"],
    );
    assert_eq!(error_count(&errors), 4, "{errors}");
}

#[test]
fn pinned_address_must_agree_with_an_ip_literal_host() {
    let errors = parse_error(&with_head(
        "[[endpoints]]\nhost = \"127.0.0.1\"\naddress = \"127.0.0.2\"\nservice = \"tls\"\nsector = \"x\"\n",
    ));
    assert_block(
        &errors,
        "t.toml",
        (10, 11),
        &["pinned `address` 127.0.0.2 contradicts `host` 127.0.0.1"],
        &["remove it"],
    );
}

#[test]
fn an_invalid_scope_entry_does_not_cascade_into_scope_errors() {
    // The bad network may have been meant to cover the address: report the network only.
    let errors = parse_error(
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"U\"\n[scope]\nnames = [\"*.example.uy\"]\nnetworks = [\"192.0.2.0/33\"]\n[[endpoints]]\nhost = \"www.example.uy\"\naddress = \"192.0.2.1\"\nservice = \"tls\"\nsector = \"x\"\n",
    );
    assert_block(
        &errors,
        "t.toml",
        (6, 10),
        &["`scope.names` pattern \"*.example.uy\"", "wildcards are not allowed"],
        &["write \"example.uy\""],
    );
    assert_block(&errors, "t.toml", (7, 13), &["\"192.0.2.0/33\""], &["ADDRESS/PREFIX-LENGTH"]);
    assert_eq!(error_count(&errors), 2, "{errors}");
}

#[test]
fn scope_names_must_be_plain_dns_names() {
    let errors = parse_error(
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"U\"\n[scope]\nnames = [\"*\", \"10.0.0.1\", \"bad..uy\"]\n[[endpoints]]\nhost = \"10.0.0.1\"\nservice = \"tls\"\nsector = \"x\"\n",
    );
    assert_block(
        &errors,
        "t.toml",
        (6, 10),
        &["pattern \"*\" contains `*`", "not allowed"],
        &["a pattern already covers every name under it"],
    );
    assert_block(
        &errors,
        "t.toml",
        (6, 15),
        &["\"10.0.0.1\" is an IP address"],
        &["scope.networks", "\"10.0.0.1/32\""],
    );
    assert_block(&errors, "t.toml", (6, 27), &["\"bad..uy\" is not a valid DNS name", "empty label"], &["\"bad.uy\""]);
}

#[test]
fn duplicate_domains_sectors_operators_and_policy_are_checked() {
    let errors = parse_error(
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \" \"\npolicy = \"../../etc/passwd\"\n[scope]\nnames = [\"uy\"]\n[[domains]]\nname = \"example.uy\"\nsector = \"ccTLD\"\noperator = \"\"\n[[domains]]\nname = \"EXAMPLE.uy\"\nsector = \"cctld\"\n",
    );
    assert_block(&errors, "t.toml", (4, 8), &["`country.name` is empty"], &["name = \"Uruguay\""]);
    assert_block(
        &errors,
        "t.toml",
        (5, 10),
        &["`country.policy`", "not a policy name"],
        &["profiles/policies/", "policy = \"mozilla-intermediate\""],
    );
    assert_block(&errors, "t.toml", (10, 10), &["`sector` \"ccTLD\""], &["sector = \"cctld\""]);
    assert_block(&errors, "t.toml", (11, 12), &["`operator` is empty"], &["remove `operator`"]);
    assert_block(
        &errors,
        "t.toml",
        (13, 8),
        &["duplicate domain", "\"example.uy\"", "line 9"],
        &["remove one of the two [[domains]]"],
    );
    assert_eq!(error_count(&errors), 5, "{errors}");
}

#[test]
fn a_profile_with_nothing_to_assess_is_rejected() {
    let errors = parse_error(HEAD);
    assert_block(&errors, "t.toml", (1, 1), &["no [[endpoints]] and no [[domains]]"], &["add at least one"]);
}

#[test]
fn columns_count_characters_not_bytes() {
    // "Perú" has a two-byte character before the bad value on the same line.
    let errors = parse_error(&with_head(
        "[[endpoints]]\nhost = \"a.example.uy\"\nservice = \"tls\"\nsector = \"x\"\noperator = \"Perú\"; port = 0\n",
    ));
    assert_block(&errors, "t.toml", (12, 18), &["invalid TOML"], &[]);
}

// ---------------------------------------------------------------------------------------------
// Reading files

#[test]
fn unreadable_file_names_the_file_and_the_reason() {
    let path = fixture("does-not-exist.toml");
    let errors = Profile::load(&path).unwrap_err().to_string();
    let prefix = format!("{}: error: cannot read: ", path.display());
    assert!(errors.starts_with(&prefix), "{errors}");
    assert!(errors.len() > prefix.len());
    assert_eq!(errors.lines().count(), 1);
}

#[test]
fn non_utf8_file_is_located() {
    let (errors, file) = fixture_error("not_utf8.toml");
    assert_block(&errors, &file, (5, 12), &["not valid UTF-8"], &["save the profile as UTF-8"]);
}

#[test]
fn load_reads_a_written_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xx.toml");
    std::fs::write(&path, with_head("[[domains]]\nname = \"example.uy\"\nsector = \"x\"\n")).unwrap();
    let p = Profile::load(&path).unwrap();
    assert_eq!(p.source, path);
    std::fs::write(&path, with_head("[[domains]]\nname = \"example.uy\"\nsector = \"X\"\n")).unwrap();
    let errors = Profile::load(&path).unwrap_err().to_string();
    assert_block(&errors, &path.display().to_string(), (10, 10), &["`sector` \"X\""], &["sector = \"x\""]);
}

// ---------------------------------------------------------------------------------------------
// Scope matching

fn scope(names: &[&str], networks: &[&str]) -> Scope {
    Scope {
        names: names.iter().map(|n| n.to_string()).collect(),
        networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
        allow_discovered: false,
    }
}

#[test]
fn allows_name_matches_the_pattern_and_names_under_it() {
    let s = scope(&["example.uy"], &[]);
    assert!(s.allows_name("www.example.uy"));
    assert!(s.allows_name("example.uy"));
    assert!(s.allows_name("a.b.c.example.uy"));
    assert!(!s.allows_name("badexample.uy"));
    assert!(!s.allows_name("www.badexample.uy"));
    assert!(!s.allows_name("example.uy.evil.net"));
    assert!(!s.allows_name("uy"));
    assert!(!s.allows_name(""));
    assert!(!s.allows_name("."));
}

#[test]
fn allows_name_ignores_case_and_trailing_dots() {
    let s = scope(&["Example.UY."], &[]);
    assert!(s.allows_name("WWW.example.uy"));
    assert!(s.allows_name("www.EXAMPLE.UY."));
    assert!(s.allows_name("example.uy."));
    assert!(!s.allows_name("www.badexample.uy."));
}

#[test]
fn allows_name_with_a_cctld_pattern_and_without_patterns() {
    let s = scope(&["uy", "example.net"], &[]);
    assert!(s.allows_name("gub.uy"));
    assert!(s.allows_name("mail.example.net"));
    assert!(!s.allows_name("example.com"));
    assert!(!s.allows_name("guy"));
    // Literal matching: "*" is not a wildcard, and addresses are not names.
    assert!(!scope(&["*"], &[]).allows_name("www.example.uy"));
    assert!(!scope(&[], &[]).allows_name("www.example.uy"));
    assert!(!scope(&["1"], &[]).allows_name("127.0.0.1"));
}

#[test]
fn allows_address_checks_ipv4_and_ipv6_networks() {
    let s = scope(&[], &["127.0.10.0/24", "2001:db8::/32"]);
    let allowed = |a: &str| s.allows_address(a.parse().unwrap());
    assert!(allowed("127.0.10.1"));
    assert!(allowed("127.0.10.255"));
    assert!(!allowed("127.0.11.1"));
    assert!(!allowed("192.0.2.1"));
    assert!(allowed("2001:db8::1"));
    assert!(allowed("2001:db8:ffff::1"));
    assert!(!allowed("2001:db9::1"));
    assert!(!allowed("::1"));
    // An IPv4-mapped IPv6 address is the IPv4 address.
    assert!(allowed("::ffff:127.0.10.7"));
    assert!(!allowed("::ffff:127.0.11.7"));
}

#[test]
fn empty_networks_allow_any_address() {
    let s = scope(&["example.uy"], &[]);
    for a in ["127.0.0.1", "192.0.2.1", "::1", "2001:db8::1"] {
        assert!(s.allows_address(a.parse().unwrap()), "{a}");
    }
}

#[test]
fn allows_host_dispatches_on_ip_literals() {
    let s = scope(&["example.uy"], &["127.0.0.0/8", "::1/128"]);
    assert!(s.allows_host("www.example.uy"));
    assert!(s.allows_host("127.0.0.9"));
    assert!(s.allows_host("::1"));
    assert!(s.allows_host("[::1]"));
    assert!(!s.allows_host("10.0.0.1"));
    assert!(!s.allows_host("www.example.net"));
}

#[test]
fn scope_violations_lists_what_code_put_out_of_scope() {
    let mut p = Profile::load(&repo_path("profiles/example.toml")).unwrap();
    p.scope.names = vec!["example.net".into()];
    p.scope.networks = vec!["127.0.0.0/8".parse().unwrap()];
    let v = p.scope_violations();
    assert!(v.iter().any(|m| m.contains("www.example.uy") && m.contains("host")), "{v:?}");
    assert!(v.iter().any(|m| m.contains("ns1.example.uy") && m.contains("::1")), "{v:?}");
    assert!(v.iter().any(|m| m.contains("domain example.uy")), "{v:?}");
    assert_eq!(v.len(), 4, "{v:?}");
}

// ---------------------------------------------------------------------------------------------
// Robustness: any text gives a profile or well-formed errors, never a panic.

fn assert_well_formed(text: &str) {
    match Profile::parse(text, Path::new("p.toml")) {
        Ok(p) => assert!(p.scope_violations().is_empty()),
        Err(e) => {
            let errors = e.to_string();
            let lines: Vec<&str> = errors.lines().collect();
            assert!(!lines.is_empty() && lines.len() % 2 == 0, "{errors}");
            let last_line = text.lines().count().max(1) + 1;
            for pair in lines.chunks(2) {
                let rest = pair[0].strip_prefix("p.toml:").unwrap_or_else(|| panic!("{errors}"));
                let mut parts = rest.splitn(3, ':');
                let line: usize = parts.next().unwrap().parse().unwrap();
                let column: usize = parts.next().unwrap().parse().unwrap();
                assert!(line >= 1 && line <= last_line && column >= 1, "{errors}");
                assert!(parts.next().unwrap().starts_with(" error: "), "{errors}");
                assert!(pair[1].starts_with("  help: "), "{errors}");
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        assert_well_formed(&text);
    }

    #[test]
    fn damaged_example_never_panics(start in 0usize..6000, len in 0usize..40, insert in "[\\[\\]\"= \n.a-z0-9*:/]{0,4}") {
        let text = std::fs::read_to_string(repo_path("profiles/example.toml")).unwrap();
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let damaged = format!("{}{}{}", &text[..start], insert, &text[end..]);
        assert_well_formed(&damaged);
    }

    #[test]
    fn every_name_under_a_pattern_is_allowed(
        labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 0..4),
        pattern in "[a-z]{1,8}(\\.[a-z]{2,3})?",
        upper in any::<bool>(),
    ) {
        let mut host = labels.iter().map(|l| format!("{l}.")).collect::<String>();
        host.push_str(&pattern);
        if upper { host = host.to_uppercase(); }
        let s = scope(&[&pattern], &[]);
        prop_assert!(s.allows_name(&host));
        let dotted = format!("{host}.");
        prop_assert!(s.allows_name(&dotted));
        let glued = format!("x{pattern}");
        prop_assert!(!s.allows_name(&glued));
    }
}

#[test]
fn values_and_keys_with_newlines_stay_inside_their_block() {
    let multi_line_sector = "[[domains]]\nname = \"example.uy\"\nsector = \"\"\"Critical\nOperator\"\"\"\n";
    let multi_line_key = "[[domains]]\nname = \"example.uy\"\nsector = \"x\"\n\"odd\\nkey\" = 1\n";
    for rest in [multi_line_sector, multi_line_key] {
        let errors = parse_error(&with_head(rest));
        assert_eq!(error_count(&errors), 1, "{errors}");
        assert_eq!(errors.lines().count(), 2, "{errors}");
    }
    let errors = parse_error(&with_head(multi_line_sector));
    assert_block(&errors, "t.toml", (10, 10), &[r#""Critical\nOperator""#], &["sector = \"critical-operator\""]);
}

#[test]
fn missing_or_unquoted_values_get_help_for_their_key() {
    let errors = parse_error(&with_head(
        "[[endpoints]]\nhost = \"a.example.uy\"\nservice = \"tls\"\nport = https\nsector = \"x\"\n",
    ));
    assert_block(
        &errors,
        "t.toml",
        (11, 8),
        &["invalid TOML"],
        &["`port` takes an integer from 1 to 65535, e.g. port = 443"],
    );
    let errors = parse_error(&with_head("[[domains]]\nname =\nsector = \"x\"\n"));
    assert_block(
        &errors,
        "t.toml",
        (9, 7),
        &["invalid TOML"],
        &["give `name` a value after `=`, e.g. name = \"example.uy\""],
    );
}

#[test]
fn exceptions_and_weights_are_validated_with_locations() {
    let base = "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\n[scope]\nnames = [\"example.uy\"]\n[[endpoints]]\nhost = \"www.example.uy\"\nservice = \"https\"\nsector = \"regulator\"\n";
    let good = format!("{base}[weights]\nregulator = 2.5\n[[exceptions]]\ncheck = \"tls.protocol.tls10\"\ntarget = \"www.example.uy:443\"\nreason = \"r\"\napproved_by = \"a\"\nexpires = 2027-03-31\n");
    let profile = Profile::parse(&good, Path::new("p.toml")).unwrap();
    assert_eq!(profile.sector_weights.get("regulator"), Some(&2.5));
    assert_eq!(profile.exceptions.len(), 1);
    assert_eq!(profile.exceptions[0].expires, "2027-03-31");
    assert_eq!(profile.exceptions[0].line, 14);

    let bad_date = good.replace("expires = 2027-03-31", "expires = \"next year\"");
    let error = Profile::parse(&bad_date, Path::new("p.toml")).unwrap_err().to_string();
    assert!(error.contains("p.toml:18:") && error.contains("expires must be a date"), "{error}");

    let out_of_scope = good.replace("www.example.uy:443", "www.other.org:443");
    let error = Profile::parse(&out_of_scope, Path::new("p.toml")).unwrap_err().to_string();
    assert!(error.contains("p.toml:15:") && error.contains("outside the declared scope"), "{error}");

    let negative = good.replace("regulator = 2.5", "regulator = -1");
    let error = Profile::parse(&negative, Path::new("p.toml")).unwrap_err().to_string();
    assert!(error.contains("p.toml:12:") && error.contains("weights.regulator"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// country.ca_files

#[test]
fn ca_files_are_resolved_against_the_profile_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("national.pem"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        .unwrap();
    let text = "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\nca_files = [\"national.pem\", \"missing.pem\"]\n\
                [scope]\nnames = [\"example.uy\"]\n[[domains]]\nname = \"example.uy\"\nsector = \"cctld\"\n";
    let path = dir.path().join("uy.toml");
    std::fs::write(&path, text).unwrap();
    let errors = match Profile::load(&path) {
        Ok(p) => panic!("missing CA file accepted: {p:?}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(error_count(&errors), 1, "{errors}");
    assert_block(
        &errors,
        &path.display().to_string(),
        (5, 29),
        &["`country.ca_files` entry \"missing.pem\"", "is not a readable file"],
        &["relative to the profile file"],
    );
    std::fs::write(&path, text.replace(", \"missing.pem\"", "")).unwrap();
    let profile = Profile::load(&path).unwrap();
    assert_eq!(profile.ca_files, vec![dir.path().join("national.pem")]);
}

// ---------------------------------------------------------------------------------------------
// [dns]: names that tell a validating resolver

#[test]
fn dns_validation_names_are_names_and_need_no_scope() {
    let p = parse_ok(&with_head(
        "[[domains]]\nname = \"example.uy\"\nsector = \"cctld\"\n[dns]\nvalidation_signed_name = \"WWW.Example.UY.\"\nvalidation_bogus_name = \"www.dnssec-failed.org\"\n",
    ));
    assert_eq!(p.dns.validation_signed_name.as_deref(), Some("www.example.uy"));
    assert_eq!(p.dns.validation_bogus_name.as_deref(), Some("www.dnssec-failed.org"));
    let p = parse_ok(&with_head("[[domains]]\nname = \"example.uy\"\nsector = \"cctld\"\n"));
    assert_eq!(p.dns, Default::default());
    // Line 8 is [[domains]]; the bad name is on line 12.
    let errors = parse_error(&with_head(
        "[[domains]]\nname = \"example.uy\"\nsector = \"cctld\"\n[dns]\nvalidation_bogus_name = \"not a name\"\n",
    ));
    assert_block(&errors, "t.toml", (12, 25), &["`dns.validation_bogus_name`", "not a valid DNS name"], &[]);
    let errors =
        parse_error(&with_head("[[domains]]\nname = \"example.uy\"\nsector = \"cctld\"\n[dns]\nsigned = \"x.uy\"\n"));
    assert!(errors.contains("validation_signed_name"), "{errors}");
}

#[test]
fn an_xmpp_endpoint_may_name_its_stream_domain() {
    let p = parse_ok(&with_head(
        "[[endpoints]]\nhost = \"xmpp.example.uy\"\nservice = \"xmpp-starttls\"\nxmpp_domain = \"Example.UY.\"\nsector = \"x\"\n",
    ));
    assert_eq!((p.endpoints[0].port, p.endpoints[0].xmpp_domain.as_deref()), (5222, Some("example.uy")));
    let specs = postura::target::specs_from_profile(&p).0;
    assert_eq!(specs[0].starttls_domain(), "example.uy");

    let err = parse_error(&with_head(
        "[[endpoints]]\nhost = \"ldap.example.uy\"\nservice = \"ldap-starttls\"\nxmpp_domain = \"example.uy\"\nsector = \"x\"\n",
    ));
    assert!(err.contains("`xmpp_domain` applies only to xmpp-starttls and xmpp-server-starttls endpoints"), "{err}");
    let err = parse_error(&with_head(
        "[[endpoints]]\nhost = \"xmpp.example.uy\"\nservice = \"xmpp-server-starttls\"\nxmpp_domain = \"not a name\"\nsector = \"x\"\n",
    ));
    assert!(err.contains("`xmpp_domain` \"not a name\" is not a valid DNS name"), "{err}");
}
