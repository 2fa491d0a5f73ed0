//! A stapled OCSP response built by hand for the shared RSA leaf, carrying SCTs in its
//! SingleResponse extension (what `openssl ocsp` cannot make): for nginx `ssl_stapling_file`.

use super::pki::Pki;

/// A DER TLV (definite length, long form when needed).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn generalized_time(offset_seconds: i64) -> Vec<u8> {
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    tlv(0x18, when.format(&format).unwrap().as_bytes())
}

/// A "good" OCSP response for the shared RSA leaf, signed by its issuer (the lab intermediate)
/// with `openssl dgst`, carrying `sct_list` in the SingleResponse's extension
/// 1.3.6.1.4.1.11129.2.4.5 as RFC 6962 §3.3 places it. Built by hand: `openssl ocsp` cannot add
/// single extensions to what it signs.
pub fn ocsp_response_with_scts(dir: &std::path::Path, sct_list: &[u8]) -> std::path::PathBuf {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let pki = Pki::shared();
    let der_of = |path: &std::path::Path| {
        let pem = std::fs::read_to_string(path).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    };
    let leaf_der = der_of(&pki.rsa.cert);
    let issuer_der = der_of(&pki.intermediate_cert);
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, issuer) = X509Certificate::from_der(&issuer_der).unwrap();
    let sha1 = |bytes: &[u8]| ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref().to_vec();
    let sha1_algorithm = tlv(0x30, &[tlv(0x06, &[0x2b, 0x0e, 0x03, 0x02, 0x1a]), vec![0x05, 0x00]].concat());
    let cert_id = tlv(
        0x30,
        &[
            sha1_algorithm,
            tlv(0x04, &sha1(issuer.subject().as_raw())),
            tlv(0x04, &sha1(&issuer.public_key().subject_public_key.data)),
            tlv(0x02, leaf.raw_serial()),
        ]
        .concat(),
    );
    let sct_oid = [0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05];
    let extension = tlv(0x30, &[tlv(0x06, &sct_oid), tlv(0x04, &tlv(0x04, sct_list))].concat());
    let single = tlv(
        0x30,
        &[
            cert_id,
            vec![0x80, 0x00], // good
            generalized_time(-3600),
            tlv(0xa0, &generalized_time(86_400)),
            tlv(0xa1, &tlv(0x30, &extension)),
        ]
        .concat(),
    );
    let tbs = tlv(0x30, &[tlv(0xa1, issuer.subject().as_raw()), generalized_time(-60), tlv(0x30, &single)].concat());
    let tbs_path = dir.join("tbs.der");
    std::fs::write(&tbs_path, &tbs).unwrap();
    let signature_path = dir.join("tbs.sig");
    let status = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", pki.intermediate_key.to_str().unwrap(), "-out"])
        .arg(&signature_path)
        .arg(&tbs_path)
        .status()
        .unwrap();
    assert!(status.success());
    let signature = std::fs::read(&signature_path).unwrap();
    let sha256_rsa =
        tlv(0x30, &[tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), vec![0x05, 0x00]].concat());
    let basic = tlv(0x30, &[tbs, sha256_rsa, tlv(0x03, &[&[0u8][..], &signature].concat())].concat());
    let ocsp_basic = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
    let response_bytes = tlv(0x30, &[tlv(0x06, &ocsp_basic), tlv(0x04, &basic)].concat());
    let response = tlv(0x30, &[vec![0x0a, 0x01, 0x00], tlv(0xa0, &response_bytes)].concat());
    let path = dir.join("staple.der");
    std::fs::write(&path, response).unwrap();
    path
}
