#!/usr/bin/env python3
"""Verdict agreement between postura, SSLyze, testssl.sh and sslscan on the lab endpoints
(`scripts/bench lab` outputs), or between postura and zonemaster-cli on the lab zones
(`--dns`). For each endpoint and each verdict, prints every tool's value and whether they agree;
"-" means the tool does not report that verdict. Used by scripts/bench; read by
docs/benchmarks.md, which explains each disagreement."""

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

PROTOCOLS = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
VERDICTS = ["protocols", "suites", "expired", "self-signed", "name matches", "trusted (lab CA)",
            "key bits", "SHA-1 signature", "chain complete", "revoked", "compression",
            "secure renegotiation", "fallback SCSV", "heartbleed", "DH <= 1024 bits"]


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def postura(path):
    doc = load_json(path)
    if not doc or not doc.get("targets") or not doc["targets"][0].get("tls"):
        return None
    t = doc["targets"][0]
    tls, cert = t["tls"], t.get("certificate") or {}
    suites = {p: len(v) for p, v in tls["cipher_suites"].items() if v}
    dh = [k["bits"] for k in tls.get("key_exchange", []) if k["kind"] == "DH" and k.get("bits")]
    trust = cert.get("trust") or {}
    lab = [v for store, v in trust.items() if store.endswith("root.pem")]
    revocation = cert.get("revocation") or {}
    ocsp = (revocation.get("ocsp") or {}).get("status")
    return {
        "protocols": " ".join(p for p in PROTOCOLS if p in tls["protocols"]),
        "suites": suites,
        "expired": cert.get("expired"),
        "self-signed": cert.get("self_signed"),
        "name matches": cert.get("hostname_match"),
        "trusted (lab CA)": (lab[0].get("trusted") if lab else cert.get("trusted")),
        "key bits": (cert.get("key") or {}).get("bits"),
        "SHA-1 signature": "sha1" in (cert.get("signature_algorithm") or "").lower(),
        "chain complete": cert.get("chain_complete"),
        "revoked": None if ocsp is None else ocsp == "revoked",
        "compression": tls["extensions"].get("compression"),
        "secure renegotiation": tls["extensions"].get("secure_renegotiation"),
        "fallback SCSV": tls.get("fallback_scsv"),
        "heartbleed": None,
        "DH <= 1024 bits": bool(dh) and min(dh) <= 1024,
    }


SSLYZE_KEYS = {"SSLv2": "ssl_2_0", "SSLv3": "ssl_3_0", "TLSv1.0": "tls_1_0", "TLSv1.1": "tls_1_1",
               "TLSv1.2": "tls_1_2", "TLSv1.3": "tls_1_3"}


def result(scan, key):
    entry = scan.get(key) or {}
    return entry.get("result") or {}


def sslyze(path):
    doc = load_json(path)
    if not doc or not doc.get("server_scan_results"):
        return None
    scan = doc["server_scan_results"][0].get("scan_result") or {}
    suites, dh = {}, []
    for proto, key in SSLYZE_KEYS.items():
        accepted = result(scan, f"{key}_cipher_suites").get("accepted_cipher_suites") or []
        if accepted:
            suites[proto] = len(accepted)
        for a in accepted:
            eph = a.get("ephemeral_key") or {}
            if eph.get("type_name") == "DH" or eph.get("type") == 28:
                dh.append(eph.get("size"))
    deployments = result(scan, "certificate_info").get("certificate_deployments") or [{}]
    dep = deployments[0]
    chain = dep.get("received_certificate_chain") or [{}]
    leaf = chain[0]
    after = leaf.get("not_valid_after")
    expired = None
    if after:
        expired = datetime.fromisoformat(after.replace("Z", "+00:00")).replace(tzinfo=timezone.utc) < datetime.now(timezone.utc)
    custom = [p for p in dep.get("path_validation_results") or [] if "root.pem" in json.dumps(p.get("trust_store"))]
    leaf_subject = (leaf.get("subject") or {}).get("rfc4514_string")
    leaf_issuer = (leaf.get("issuer") or {}).get("rfc4514_string")
    sig = ((leaf.get("signature_hash_algorithm") or {}).get("name") or "").lower()
    return {
        "protocols": " ".join(p for p in PROTOCOLS if p in suites),
        "suites": suites,
        "expired": expired,
        "self-signed": (leaf_subject == leaf_issuer) if leaf_subject else None,
        "name matches": None,
        "trusted (lab CA)": custom[0].get("was_validation_successful") if custom else None,
        "key bits": (leaf.get("public_key") or {}).get("key_size"),
        "SHA-1 signature": sig == "sha1" if sig else None,
        "chain complete": None,
        "revoked": None,
        "compression": result(scan, "tls_compression").get("supports_compression"),
        "secure renegotiation": result(scan, "session_renegotiation").get("supports_secure_renegotiation"),
        "fallback SCSV": result(scan, "tls_fallback_scsv").get("supports_fallback_scsv"),
        "heartbleed": result(scan, "heartbleed").get("is_vulnerable_to_heartbleed"),
        "DH <= 1024 bits": bool(dh) and min(dh) <= 1024,
    }


TESTSSL_PROTOCOLS = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLS1": "TLSv1.0", "TLS1_1": "TLSv1.1",
                     "TLS1_2": "TLSv1.2", "TLS1_3": "TLSv1.3"}


def testssl(path):
    doc = load_json(path)
    if not doc:
        return None
    entries = doc if isinstance(doc, list) else doc.get("scanResult", [])
    by_id = {}
    for e in entries:
        by_id.setdefault(e["id"], []).append(e)
    if "TLS1_2" not in by_id:
        return None

    def finding(i):
        return (by_id.get(i) or [{}])[0].get("finding", "")

    def severity(i):
        return (by_id.get(i) or [{}])[0].get("severity")

    def flagged(i):
        """An id testssl.sh may report twice (e.g. LOGJAM): flagged if any entry is."""
        return any(e.get("severity") not in ("OK", "INFO") for e in by_id.get(i) or [])

    def tested(i):
        """None when testssl.sh could not test (TLS 1.3 only, or its own handshake failed)."""
        f = finding(i)
        return not ("TLS 1.3 only" in f or "only TLS 1.3" in f or "didn't succeed" in f)

    protocols = [p for i, p in TESTSSL_PROTOCOLS.items() if finding(i).startswith("offered")]
    ciphers = {e["id"] for e in entries if e["id"].startswith("cipher_x")}
    chain = finding("cert_chain_of_trust").lower()
    size = re.search(r"(\d+) bits", finding("cert_keySize"))
    return {
        "protocols": " ".join(protocols),
        "suites": {"all": len(ciphers)},
        "expired": "expired" in finding("cert_expirationStatus").lower(),
        "self-signed": "self signed" in chain or "self-signed" in chain,
        "name matches": severity("cert_trust") in ("OK", "INFO"),
        "trusted (lab CA)": severity("cert_chain_of_trust") == "OK",
        "key bits": int(size.group(1)) if size else None,
        "SHA-1 signature": "sha1" in finding("cert_signatureAlgorithm").lower(),
        "chain complete": ("incomplete" not in chain) if chain else None,
        "revoked": ("revoked" in finding("cert_ocspRevoked").lower()) if "cert_ocspRevoked" in by_id else None,
        "compression": (not finding("CRIME_TLS").startswith("not vulnerable")) if tested("CRIME_TLS") else None,
        "secure renegotiation": finding("secure_renego").startswith("supported") if tested("secure_renego") else None,
        "fallback SCSV": (None if "no protocol below" in finding("fallback_SCSV") or not tested("fallback_SCSV")
                          else finding("fallback_SCSV").startswith("supported")),
        "heartbleed": not finding("heartbleed").startswith("not vulnerable"),
        "DH <= 1024 bits": flagged("LOGJAM") or flagged("LOGJAM-common_primes"),
    }


def sslscan(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    test = root.find("ssltest")
    if test is None:
        return None
    names = {("ssl", "2"): "SSLv2", ("ssl", "3"): "SSLv3", ("tls", "1.0"): "TLSv1.0",
             ("tls", "1.1"): "TLSv1.1", ("tls", "1.2"): "TLSv1.2", ("tls", "1.3"): "TLSv1.3"}
    protocols = [names[(p.get("type"), p.get("version"))] for p in test.findall("protocol")
                 if p.get("enabled") == "1" and (p.get("type"), p.get("version")) in names]
    suites, dh = {}, []
    for c in test.findall("cipher"):
        proto = c.get("sslversion")
        suites[proto] = suites.get(proto, 0) + 1
        if c.get("dhebits"):
            dh.append(int(c.get("dhebits")))
    # With --show-certificate there is a "full" and a "short" entry; take each field where it is.
    certs = test.findall("certificates/certificate")
    cert = certs[0] if certs else None

    def text(tag):
        return next(((c.findtext(tag) or "").strip().lower() for c in certs if c.find(tag) is not None), "")

    pk = next((c.find("pk") for c in certs if c.find("pk") is not None), None)
    reneg = test.find("renegotiation")
    comp = test.find("compression")
    fallback = test.find("fallback")
    heart = [h.get("vulnerable") == "1" for h in test.findall("heartbleed")]
    return {
        "protocols": " ".join(p for p in PROTOCOLS if p in protocols),
        "suites": suites,
        "expired": text("expired") == "true" if cert is not None else None,
        "self-signed": text("self-signed") == "true" if cert is not None else None,
        "name matches": None,
        "trusted (lab CA)": None,
        "key bits": int(pk.get("bits")) if pk is not None and pk.get("type") == "RSA" else (
            {"128": 256, "192": 384}.get(pk.get("bits")) if pk is not None else None),
        "SHA-1 signature": "sha1" in text("signature-algorithm") if cert is not None else None,
        "chain complete": None,
        "revoked": None,
        "compression": (comp.get("supported") == "1") if comp is not None else None,
        # sslscan tries a renegotiation: when the server refuses it (nginx does), it cannot tell
        # whether RFC 5746 is supported, so only a renegotiation that happened counts.
        "secure renegotiation": (reneg.get("secure") == "1") if reneg is not None and reneg.get("supported") == "1" else None,
        "fallback SCSV": (fallback.get("supported") == "1") if fallback is not None else None,
        "heartbleed": any(heart) if heart else None,
        "DH <= 1024 bits": bool(dh) and min(dh) <= 1024,
    }


def show(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return " ".join(f"{k.replace('TLSv', '')}:{v}" for k, v in value.items()) or "none"
    return str(value)


def comparable(verdict, values):
    """Values to compare: suites are compared as totals (testssl.sh reports the union)."""
    out = {}
    for tool, v in values.items():
        if v is None:
            continue
        out[tool] = sum(v.values()) if verdict == "suites" and isinstance(v, dict) else v
    if verdict == "suites" and "testssl" in out:
        # testssl.sh counts each suite once whatever the protocols: compare it with the union.
        out.pop("testssl")
    return out


def tls_agreement(out):
    readers = {"postura": (postura, "postura.json"), "sslyze": (sslyze, "sslyze.json"),
               "testssl": (testssl, "testssl.json"), "sslscan": (sslscan, "sslscan.xml")}
    targets = [line.split() for line in open(os.path.join(out, "targets.txt")) if line.strip()]
    totals = {v: [0, 0] for v in VERDICTS}
    for target in targets:
        host, port = target[0].rsplit(":", 1)
        name = f"{host}_{port}"
        values = {}
        for tool, (read, suffix) in readers.items():
            v = read(os.path.join(out, tool, f"{name}.{suffix}"))
            if v is not None:
                values[tool] = v
        print(f"== {target[0]}  ({', '.join(values) or 'no tool output'})")
        for verdict in VERDICTS:
            per_tool = {t: v.get(verdict) for t, v in values.items()}
            cmp = comparable(verdict, per_tool)
            agree = len(set(map(str, cmp.values()))) <= 1
            if len(cmp) >= 2:
                totals[verdict][0 if agree else 1] += 1
            mark = "" if len(cmp) < 2 else ("  agree" if agree else "  DIFFER")
            print(f"  {verdict:22} " + "  ".join(f"{t}={show(v)}" for t, v in per_tool.items()) + mark)
    print("\nverdict                 endpoints where tools agree / differ (2+ tools reporting)")
    for verdict, (agree, differ) in totals.items():
        print(f"  {verdict:22} {agree:3} / {differ}")


def dns_agreement(out):
    for name in sorted(os.listdir(out)):
        if not name.startswith("postura-") or not name.endswith(".json"):
            continue
        zone = name[len("postura-"):-len(".json")]
        doc = load_json(os.path.join(out, name))
        facts = doc["zones"][0] if doc and doc.get("zones") else {}
        failing = sorted(f["check"] for f in facts.get("findings", []) if f["status"] == "fail")
        print(f"== {zone}: postura {facts.get('queries')} queries; failing: {' '.join(failing) or 'none'}")
        zm = os.path.join(out, f"zonemaster-{zone}.log")
        if os.path.exists(zm):
            try:
                entries = json.load(open(zm))
            except ValueError:
                entries = []
            levels = {}
            for e in entries:
                if e.get("level") in ("ERROR", "CRITICAL", "WARNING", "NOTICE"):
                    levels.setdefault(e["level"], set()).add(e.get("tag"))
            for level in ("CRITICAL", "ERROR", "WARNING", "NOTICE"):
                if level in levels:
                    print(f"   zonemaster {level}: {' '.join(sorted(levels[level]))}")


if __name__ == "__main__":
    if sys.argv[1] == "--dns":
        dns_agreement(sys.argv[2])
    else:
        tls_agreement(sys.argv[1])
