//! Runs every TLS/SSL codec decoder on arbitrary bytes and checks what must hold whatever the
//! input: no panic, and every success re-encodes to the bytes it came from.
//!
//! Shared by the proptests (`tests/codec_proptest.rs`) and the cargo-fuzz target
//! (`fuzz/fuzz_targets/tls_server_flight.rs`, which includes this file by path), so the fuzzer
//! and CI check the same properties.

use postura::tls::codec::*;

const KINDS: [KeyExchangeKind; 3] = [KeyExchangeKind::Dh, KeyExchangeKind::Ecdh, KeyExchangeKind::Rsa];

/// Feed `data` to every decoder, as a whole message and as a stream of records.
pub fn exercise(data: &[u8]) {
    // Each encoding is canonical, so a whole-message success must give the input back.
    if let Ok(hello) = ClientHello::decode_handshake(data) {
        assert_eq!(hello.encode_handshake(), data, "ClientHello re-encoding");
    }
    if let Ok(hello) = ServerHello::decode(data) {
        assert_eq!(hello.encode(), data, "ServerHello re-encoding");
        server_hello_accessors(&hello);
    }
    if let Ok(certificates) = CertificateMessage::decode(data) {
        assert_eq!(certificates.encode(), data, "Certificate re-encoding");
    }
    server_key_exchange(data);
    if let Ok(status) = CertificateStatus::decode(data) {
        assert_eq!(status.encode(), data, "CertificateStatus re-encoding");
    }
    certificate_request(data);
    if let Ok(alert) = Alert::decode(data) {
        assert_eq!(alert.encode(), data, "Alert re-encoding");
        let _ = alert.description_name();
    }
    if let Ok(message) = HandshakeMessage::decode(data) {
        assert_eq!(message.encode(), data, "HandshakeMessage re-encoding");
        typed_message(&message);
    }
    if let Ok((_version, specs, challenge)) = decode_sslv2_client_hello(data) {
        assert!((16..=32).contains(&challenge.len()));
        assert!(specs.iter().all(|&s| s < 1 << 24));
    }
    sslv2_server_hello(data);
    record_stream(data);
}

fn server_hello_accessors(hello: &ServerHello) {
    let _ = hello.is_hello_retry_request();
    let _ = hello.selected_version();
    let _ = hello.key_share_group();
    let _ = hello.alpn_protocol();
    let _ = hello.heartbeat_mode();
}

fn server_key_exchange(body: &[u8]) {
    for kind in KINDS {
        if let Ok(params) = decode_server_key_exchange(body, kind) {
            // Only the params are read; the rest is the signature.
            assert!(body.starts_with(&encode_server_key_exchange(&params)), "{kind:?} re-encoding");
            let _ = params.modulus_bits();
        }
    }
}

fn certificate_request(body: &[u8]) {
    for tls12 in [true, false] {
        if let Ok(request) = CertificateRequest::decode(body, tls12) {
            assert_eq!(request.encode(), body, "CertificateRequest re-encoding (TLS 1.2: {tls12})");
            assert_eq!(request.signature_algorithms.is_some(), tls12);
        }
    }
}

fn typed_message(message: &HandshakeMessage) {
    let body = &message.body;
    match message.handshake_type {
        2 => {
            if let Ok(hello) = ServerHello::decode(body) {
                server_hello_accessors(&hello);
            }
        }
        11 => {
            let _ = CertificateMessage::decode(body);
        }
        12 => server_key_exchange(body),
        13 => certificate_request(body),
        22 => {
            let _ = CertificateStatus::decode(body);
        }
        _ => {}
    }
}

fn sslv2_server_hello(data: &[u8]) {
    if let Ok(Some((hello, used))) = Sslv2ServerHello::decode_record(data) {
        assert!(used <= data.len());
        // Only a 2-byte header (high bit set) is what `encode_record` writes.
        if data.first().is_some_and(|b| b & 0x80 != 0) {
            assert_eq!(hello.encode_record(), data[..used], "SSLv2 SERVER-HELLO re-encoding");
        }
    }
}

/// What the sweep does with a server's reply: records → reassembler → typed decoders.
fn record_stream(data: &[u8]) {
    let mut rest = data;
    let mut reassembler = HandshakeReassembler::new(1 << 16);
    while let Ok(Some((record, used))) = Record::decode(rest) {
        assert!(used >= 5 && used <= rest.len());
        assert_eq!(record.encode(), rest[..used], "Record re-encoding");
        match record.content_type {
            22 => {
                reassembler.push(&record.fragment);
                while let Ok(Some(message)) = reassembler.next_message() {
                    typed_message(&message);
                }
            }
            21 => {
                if let Ok(alert) = Alert::decode(&record.fragment) {
                    let _ = alert.description_name();
                }
            }
            _ => {}
        }
        rest = &rest[used..];
    }
}
