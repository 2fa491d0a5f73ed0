//! Fuzz target: whatever a mail server sends before STARTTLS, the reply parsing ends with a
//! value or an error (no panic), as `postura::starttls` reads it: CRLF lines decoded leniently
//! (invalid UTF-8 replaced), each parsed as an SMTP reply line, at most 100 lines a reply.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = 0;
    for raw in data.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end();
        match postura::starttls::smtp_reply_line(line) {
            Ok((code, text, more)) => {
                assert!((0..=999).contains(&code), "a three-digit code");
                assert!(text.len() <= line.len());
                lines = if more { lines + 1 } else { 0 };
            }
            Err(error) => {
                // The error shows at most 80 printable characters of the line.
                let shown = error.to_string();
                assert!(!shown.chars().any(char::is_control), "control character in {shown:?}");
            }
        }
        if lines > 100 {
            break;
        }
    }
});
