//! Real-server test harness: `mod common;` in an integration test, then `use common::*;`.
//!
//! What it gives (see each module):
//! - [`pki`]: `Pki::shared()` — root CA → intermediate CA → RSA-2048 and ECDSA-P-256 leaves for
//!   `postura.test`/`localhost`/127.0.0.1, generated once per test process with the `openssl`
//!   CLI relative to now; `issue_leaf` for more; `dh1024()` / `dh1024_safe_prime()` /
//!   `ffdhe2048()` DH parameter files.
//! - [`servers`]: `OpenSslServer`, `Nginx`, `GnutlsServer` guards (`start`, `start_with`,
//!   `start_auto`); Drop kills the process group and removes the temp dir.
//! - [`hostile`]: `SilentServer`, `GarbageServer`, `TrickleServer`, `ResettingServer`, and
//!   `HostilePeer` (connections accepted and the most open at once, counted at the server);
//!   [`net::closed_port`].
//! - [`hostile_tls`]: `HostileTlsServer` (accept-everything, a suite not offered, a
//!   HelloRetryRequest loop, an endless handshake, a huge chain, every RSA suite, refuse-all),
//!   `HostileMailServer` (never greets, SMTP/IMAP/POP3 dialogues without end),
//!   `EndlessHttpsServer` (an endless body over rustls).
//! - [`hostile_dns`]: `ListingZoneServer` — a scripted root and zone listing hundreds of NS and
//!   MX records (and chosen extra records), on port 53 of its own address.
//! - [`oracle`]: `openssl_accepted_suites` / `openssl_accepts_protocol` — ground truth from
//!   `openssl s_client`, one suite per run, 8 runs in parallel.
//! - [`ca`]: `TestCa::shared()` — an `openssl ca` PKI with revocation (database, CRL over HTTP,
//!   a real `openssl ocsp` responder, delegated OCSP signer, RSA-1024 intermediate) and
//!   `issue(&LeafSpec)` for expired/not-yet-valid/SHA-1/RSA-1024/must-staple/self-signed leaves.
//! - [`legacy_openssl`]: `LegacyOpenSslServer` — a real OpenSSL 1.1.1w s_server (SSLv3, RC4,
//!   3DES, compression), built once from crates.io `openssl-src` and cached.
//! - [`openssl35`]: `OpenSsl35Server` — a real OpenSSL 3.5.4 s_server (hybrid ML-KEM groups) and
//!   `openssl_35()`, its binary for `s_client`, built once from crates.io `openssl-src` and cached.
//! - [`tls_responder`]: `ScriptedTlsServer` — a scripted TLS 1.2 server on postura's codec
//!   for Heartbleed and CCS injection (no buildable server has them).
//! - [`ticketbleed`]: `TicketbleedServer` — rustls TLS 1.2 with tickets, and a scripted F5-style
//!   answer to a hello offering a ticket (CVE-2016-9244; no buildable server has it).
//! - [`http`]: `HttpServer` with per-path routes, hostile ones included (hang, redirect loop, huge).
//! - [`mail`]: Dovecot (IMAP, POP3, LMTP, ManageSieve) and a scripted STARTTLS shim;
//!   [`starttls_servers`]: vsftpd, Prosody, slapd, PostgreSQL, MariaDB and INN's nnrpd for the
//!   other STARTTLS protocols, with and without a certificate.
//! - [`pg`]: `PgServer` — a real PostgreSQL (initdb in a temp dir, run as `postgres` on a 127.x
//!   address; `stop`/`start_again` restart it) and `TestStores` (one store test body, two backends).
//! - [`staple`]: `ocsp_response_with_scts` — a hand-built, issuer-signed OCSP response for the
//!   shared RSA leaf carrying SCTs (for nginx `ssl_stapling_file`).
//! - [`gate`]: `Gate` — a counting TCP relay (connections per port, most open at once).
//! - [`partition`]: `Partition` — a TCP relay that can be cut and healed (a network partition).
//! - [`net`]: the address/port allocator (`alloc_addr`, `alloc_endpoint`, `alloc_wildcard_port`).
//!
//! # Rules
//! Servers bind only 127.0.0.0/8. Each address-bound server gets its own 127.a.b.c with
//! a in 64..=191 (random start per process; anything already listening is skipped, because
//! other engineers' test servers run on the same machine — seen: 127.0.0.x:4499, 127.0.10.x:4433,
//! gnutls-serv on *:4443 and *:4498) on port 4433 (4430–4499 if a wildcard listener holds
//! 4433). gnutls-serv binds every address and gets a unique port in 4500–4999.
//! Clients' source address is 127.0.0.1 whatever 127.x destination they dial.
//!
//! # Facts found on these machines (Debian 12, OpenSSL 3.0, nginx 1.22.1, GnuTLS 3.7.9)
//! **openssl s_server**
//! - stdin: with `-www`/`-WWW`/`-HTTP` it never reads stdin, so EOF is harmless. In echo mode
//!   (no `-www`, also `-rev`) it reads stdin only while a client is connected, and EOF there
//!   ends the *whole server* (prints `DONE`, exits 0) — with `</dev/null` it dies on the first
//!   connection (the client sees `Cipher is (NONE)`). The harness keeps a pipe to stdin open for
//!   the server's lifetime, so both modes are safe; `-naccept` is never used. It adds `-www`
//!   unless the caller passes `-www`/`-WWW`/`-HTTP`/`-rev`.
//! - It serves one connection at a time: a client that stalls mid-handshake blocks the others.
//! - `-tls1` (a version flag) together with `-no_tls1_3` is refused: "Cannot supply both a
//!   protocol flag and '-no_<prot>'" — use `-min_protocol TLSv1 -max_protocol TLSv1.2`.
//! - TLS 1.0/1.1 and anon/NULL/RSA-kx suites need `@SECLEVEL=0` in `-cipher` (both sides).
//! - Without `-dhparam` it uses automatic DH groups, so an `ALL` server accepts DHE and anon DH.
//!   A `-dhparam` file it cannot load is **not fatal**: it prints the error and silently falls
//!   back to the automatic group. `openssl dhparam -dsaparam 1024` (0.05 s) writes
//!   "X9.42 DH PARAMETERS" that s_server rejects ("unexpected parameters type"). Check a weak-DH
//!   server with s_client's `Server Temp Key: DH, 1024 bits` line (the selftest does).
//! - `ALL:COMPLEMENTOFALL:@SECLEVEL=0`, TLS 1.0–1.2, RSA leaf: 61 of the 89 TLS 1.2 candidates
//!   and 20 of the 27 TLS 1.0/1.1 candidates are accepted (no ECDSA/DSS suites).
//! - `-dhparam` takes a PKCS#3 "DH PARAMETERS" PEM written by hand (`openssl asn1parse -genconf`
//!   with `p=INTEGER:0x…`, `g=INTEGER:2`, then base64 of the DER): OpenSSL 3 serves a composite
//!   or non-safe modulus without complaint (`tests/tls_vulns_more.rs`).
//! - `-serverinfo FILE` (PEM `SERVERINFO FOR signed_certificate_timestamp`: extension type,
//!   length, data) answers a TLS 1.2 hello offering extension 18 with those SCTs.
//! - `-verify 1 -CAfile F` requests a client certificate (naming F's subjects); `-Verify 1`
//!   requires one and answers an empty Certificate with `handshake_failure` (TLS 1.2) or
//!   `certificate_required` (TLS 1.3). OpenSSL 3 issues RFC 5077 tickets by default.
//!
//! **openssl s_client (oracle)**
//! - Each run loads the default CA bundle: ≈80 ms per run; with `-no-CAfile -no-CApath
//!   -no-CAstore` (spelled with a dash; `-noCAfile` is "Unknown option") ≈11 ms. The oracle
//!   passes them; an explicit `-CAfile` still works.
//! - Candidates (`openssl ciphers -V -stdname -s -<proto> 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'`):
//!   27 for tls1/tls1_1, 89 for tls1_2 (no TLS 1.3 ones in that list), and the five TLS 1.3
//!   suites (the default list has only 3; CCM ones need `-ciphersuites`). No PSK/SRP suites (a
//!   client without credentials cannot offer them) and Debian has no RC4/3DES/EXPORT/SSLv2/SSLv3.
//! - Acceptance is read from the ServerHello in `-msg`'s hex dump (version from
//!   supported_versions for 1.3), so handshakes that fail after the ServerHello still count;
//!   `-legacy_server_connect` lets OpenSSL 3 talk to servers without secure renegotiation.
//!
//! **nginx**
//! - Debian 12's `nginx-light` is a transitional package: it pulls `nginx` (binary in
//!   /usr/sbin, not in a non-root PATH) and libnginx-mod-http-echo. The build's error log is
//!   `stderr`; all *_temp_path modules are compiled in. The harness runs
//!   `nginx -p DIR/ -c DIR/nginx.conf -e DIR/error.log` with `daemon off; master_process off;`:
//!   one process, as the invoking user (root in CI) — no `user` directive needed (with a master
//!   process the workers would switch to nobody and could not read the keys in the 0700 temp
//!   dir). pid, logs and temp paths all live in DIR; nothing touches /var. Starts in ≈70–90 ms.
//! - Without `ssl_dhparam` nginx never negotiates DHE. `ssl_session_cache shared:…` works with
//!   `master_process off`. Mozilla intermediate (+ffdhe2048) with an RSA leaf: exactly 6 TLS 1.2
//!   suites (3 ECDHE-RSA, 3 DHE-RSA) and the 3 default TLS 1.3 suites.
//! - Installing the nginx package would start a system nginx on 0.0.0.0:80; these machines ship
//!   a `/usr/sbin/policy-rc.d` that exits 101 (and install-test-deps adds one if absent).
//!
//! **gnutls-serv**
//! - Has no bind-address option: it listens on 0.0.0.0 and :: (backlog 10). Default mode is an
//!   HTTP server; it does not read stdin (EOF harmless); one stdout line block per connection.
//! - `--priority NORMAL` (GnuTLS 3.7.9, no `--dhparams`): TLS 1.0 and 1.1 are ON (6 CBC suites
//!   each: ECDHE-RSA, DHE-RSA, RSA × AES-128/256-CBC-SHA), 18 TLS 1.2 suites (incl. DHE-RSA,
//!   RSA kx, CCM), 4 TLS 1.3 suites (incl. TLS_AES_128_CCM_SHA256).
//!
//! **Processes**
//! - Servers run in their own process group with PR_SET_PDEATHSIG=SIGKILL, forked from one
//!   process-lifetime thread (PDEATHSIG follows the forking *thread*, and libtest threads are
//!   short-lived). Verified: SIGKILL of the test process kills its servers. Temp dirs
//!   (/tmp/postura-pki-*, /tmp/postura-{s_server,nginx,gnutls}-*) do remain after a SIGKILL;
//!   after a normal exit an `atexit` hook removes the shared PKI dir.
//! - A failed start panics with the server's stderr/stdout (and nginx's error.log + config).
//!
//! # Timings (2 cores, selftest running 2 tests at a time)
//! PKI (2 CAs + 2 leaves) 1.1–2.0 s; one more RSA leaf 0.2–0.9 s; `dh1024()` (RFC 5114 named
//! group) ≈10 ms; `dh1024_safe_prime()` 0.2–3 s idle, 5–17 s with the other core busy. Oracle,
//! all four versions: s_server ALL TLS1.0–1.2 ≈3.7 s, TLS1.3-only ≈1.2 s, DHE-only ≈1.9 s, nginx
//! Mozilla intermediate ≈1.1 s, gnutls NORMAL ≈1.9 s.
#![allow(dead_code, unused_imports)]

pub mod assess;
pub mod ca;
pub mod dns;
pub mod gate;
pub mod hostile;
pub mod hostile_dns;
pub mod hostile_tls;
pub mod http;
pub mod legacy_openssl;
pub mod mail;
pub mod net;
pub mod openssl35;
pub mod oracle;
pub mod partition;
pub mod pg;
pub mod pki;
pub mod process;
pub mod servers;
pub mod staple;
pub mod starttls_servers;
pub mod ticketbleed;
pub mod tls_responder;

pub use ca::{IssuedLeaf, Issuer, LeafSpec, TestCa, Validity, DAY};
pub use hostile::{GarbageServer, HostilePeer, ResettingServer, SilentServer, TrickleServer};
pub use hostile_tls::{HostileMailServer, HostileTlsServer, MailHostility, TlsHostility};
pub use http::{HttpServer, Route};
pub use net::{alloc_addr, alloc_endpoint, alloc_wildcard_port, closed_port, DEFAULT_PORT};
pub use oracle::{candidate_suites, openssl_accepted_suites, openssl_accepts_protocol, s_client, Suite};
pub use pki::{KeyKind, Leaf, Pki, TEST_HOST};
pub use process::ServerProcess;
pub use servers::{GnutlsServer, Nginx, OpenSslServer, MOZILLA_INTERMEDIATE};
