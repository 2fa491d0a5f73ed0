//! Fuzz target: whatever certificate chain and stapled OCSP response a server sends, the
//! certificate analysis must survive it (no panic, no hang), offline.
//!
//! Input layout: a byte N (0–3) of intermediates, then for the leaf and each intermediate a
//! big-endian u16 length and that many DER bytes; the rest is the stapled OCSP response.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use postura::cert::{analyze, CertInput, CertOptions, TrustStore};

fn split(data: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let Some((&count, mut rest)) = data.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let mut chain = Vec::new();
    for _ in 0..=(count % 4) {
        let Some(length) = rest
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            break;
        };
        let end = (2 + length).min(rest.len());
        chain.push(rest[2..end].to_vec());
        rest = &rest[end..];
    }
    (chain, rest.to_vec())
}

fuzz_target!(|data: &[u8]| {
    use base64::Engine as _;
    let (chain, staple) = split(data);
    let chain_pem: Vec<String> = chain
        .iter()
        .map(|der| postura::tls::sweep::pem("CERTIFICATE", der))
        .collect();
    let staple = base64::engine::general_purpose::STANDARD.encode(staple);
    let options = CertOptions {
        stores: Arc::new(vec![TrustStore::mozilla()]),
        online: false,
        ..CertOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(analyze(
        CertInput {
            chain_pem: &chain_pem,
            ocsp_staple_base64: Some(&staple),
            sct_list_base64: Some(&staple),
            name: "postura.test",
            fetch_from: None,
        },
        &options,
    ));
});
