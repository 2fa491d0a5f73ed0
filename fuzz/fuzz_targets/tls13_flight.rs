//! Fuzz target: a TLS 1.3 server's encrypted flight, as `tls::codec::tls13_flight` reads it.
//!
//! The first byte picks the suite (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305), how the rest is
//! cut into records, and whether a record goes out in plaintext. The rest is fed twice: to the
//! message decoders (EncryptedExtensions, CertificateRequest, Certificate) as a decrypted body,
//! and, sealed here under the keys of RFC 8448's ClientHello and ServerHello (suite patched in),
//! through `FlightDecryptor` as the records a server would send, so that the reassembler, the
//! inner content type, the message parsers and the Finished check all see hostile plaintext.
//! Fails on a panic, a cap exceeded, or a decoded Certificate that does not re-encode to its bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use postura::tls::codec::tls13_flight::{
    decode_encrypted_extensions, decode_tls13_certificate, decode_tls13_certificate_request,
    encode_tls13_certificate, handshake_secrets, FlightDecryptor, MAX_CERTIFICATE_ENTRIES, MAX_ENTRY_EXTENSIONS,
    MAX_FLIGHT_RECORDS,
};
use postura::tls::codec::Record;
use ring::{aead, digest};

const CLIENT_HELLO: &str = "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001";
const SERVER_HELLO: &str = "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
/// Where the cipher suite sits in that ServerHello (header 4, version 2, random 32, empty session id 1).
const SUITE_OFFSET: usize = 39;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).filter_map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

fn check_decoders(body: &[u8]) {
    if let Ok(certificate) = decode_tls13_certificate(body) {
        assert!(certificate.entries.len() <= MAX_CERTIFICATE_ENTRIES);
        assert!(certificate.entries_sent >= certificate.entries.len());
        assert!(certificate.entries.iter().all(|e| e.extensions.len() <= MAX_ENTRY_EXTENSIONS));
        let whole = certificate.entries_sent == certificate.entries.len()
            && certificate.entries.iter().all(|e| e.extensions.len() < MAX_ENTRY_EXTENSIONS);
        if whole {
            assert_eq!(encode_tls13_certificate(&certificate), body, "Certificate round trip");
        }
    }
    if let Ok(request) = decode_tls13_certificate_request(body) {
        assert!(request.extensions.len() <= MAX_ENTRY_EXTENSIONS);
    }
    if let Ok(extensions) = decode_encrypted_extensions(body) {
        assert!(extensions.len() <= MAX_ENTRY_EXTENSIONS);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    check_decoders(rest);

    let suite: u16 = [0x1301, 0x1302, 0x1303][usize::from(selector % 3)];
    let chunk = 1 + usize::from(selector >> 2) * 257;
    let plaintext_first = selector & 0x02 != 0;
    let client_hello = hex(CLIENT_HELLO);
    let mut server_hello = hex(SERVER_HELLO);
    server_hello[SUITE_OFFSET..SUITE_OFFSET + 2].copy_from_slice(&suite.to_be_bytes());
    let secret = [0x42u8; 32];
    let Ok(mut decryptor) = FlightDecryptor::new(&client_hello, &server_hello, &secret) else {
        panic!("the fixed hello pair must give a decryptor");
    };
    let algorithm = if suite == 0x1302 { &digest::SHA384 } else { &digest::SHA256 };
    let hello_hash = digest::digest(algorithm, &[client_hello, server_hello].concat());
    let secrets = handshake_secrets(suite, &secret, hello_hash.as_ref()).expect("secrets");
    let aead_algorithm = match suite {
        0x1301 => &aead::AES_128_GCM,
        0x1302 => &aead::AES_256_GCM,
        _ => &aead::CHACHA20_POLY1305,
    };
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(aead_algorithm, &secrets.server_key).expect("key"));

    if plaintext_first {
        let record = Record { content_type: 23, version: 0x0303, fragment: rest.iter().copied().take(64).collect() };
        let _ = decryptor.push(&record);
    }
    for (sequence, piece) in rest.chunks(chunk).enumerate() {
        // The inner type is the piece's last byte when the selector says so, else handshake.
        let mut inner = piece.to_vec();
        if selector & 0x01 == 0 {
            inner.push(22);
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&secrets.server_iv);
        for (byte, s) in nonce.iter_mut().skip(4).zip((sequence as u64).to_be_bytes()) {
            *byte ^= s;
        }
        let length = (inner.len() + aead_algorithm.tag_len()) as u16;
        let header = [23, 3, 3, (length >> 8) as u8, length as u8];
        if key
            .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(header), &mut inner)
            .is_err()
        {
            return;
        }
        match decryptor.push(&Record { content_type: 23, version: 0x0303, fragment: inner }) {
            Ok(postura::tls::codec::tls13_flight::Progress::More) => {}
            Ok(_) | Err(_) => break,
        }
    }
    let flight = decryptor.into_flight();
    assert!(flight.records <= MAX_FLIGHT_RECORDS + 1);
    let _ = flight.alpn();
    if let Some(certificate) = &flight.certificate {
        assert!(certificate.entries.len() <= MAX_CERTIFICATE_ENTRIES);
    }
});
