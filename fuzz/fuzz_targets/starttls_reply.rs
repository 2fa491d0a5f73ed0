//! Fuzz target: whatever a server sends before STARTTLS, every dialogue's parser ends with a
//! value or an error (no panic), as `postura::starttls` reads it. The same bytes go to each:
//! - the line protocols (SMTP, LMTP, FTP, NNTP, ManageSieve): CRLF lines decoded leniently
//!   (invalid UTF-8 replaced), each through `smtp_reply_line`, `ftp_reply_ends` and
//!   `sieve_line`, at most 100 lines;
//! - XMPP: `stream_features` and `starttls_answer` (quick-xml), which must consume no more than
//!   they were given;
//! - LDAP: `extended_response` (BER, asn1-rs); MySQL: `server_greeting`; both must consume no
//!   more than they were given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use postura::starttls;

fuzz_target!(|data: &[u8]| {
    let mut lines = 0;
    for raw in data.split(|b| *b == b'\n').take(100) {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end();
        match starttls::smtp_reply_line(line) {
            Ok((code, text, more)) => {
                assert!((0..=999).contains(&code), "a three-digit code");
                assert!(text.len() <= line.len());
                assert!(!starttls::ftp_reply_ends(code, line) || !more, "a continuation line ends nothing");
                lines = if more { lines + 1 } else { 0 };
            }
            Err(error) => {
                // The error shows at most 80 printable characters of the line.
                let shown = error.to_string();
                assert!(!shown.chars().any(char::is_control), "control character in {shown:?}");
            }
        }
        if let starttls::SieveLine::Capability(name) = starttls::sieve_line(line) {
            assert!(name.len() < line.len());
        }
        if lines > 100 {
            break;
        }
    }
    if let Ok(Some((_, used))) = starttls::stream_features(data) {
        assert!(used <= data.len());
    }
    if let Ok(Some((_, used))) = starttls::starttls_answer(data) {
        assert!(used <= data.len());
    }
    if let Ok(Some((_, used))) = starttls::extended_response(data) {
        assert!(used <= data.len());
    }
    if let Ok(Some((greeting, used))) = starttls::server_greeting(data) {
        assert!(used <= data.len() && used >= 4, "{greeting:?}");
    }
});
