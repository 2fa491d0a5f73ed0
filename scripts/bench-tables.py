#!/usr/bin/env python3
"""Markdown tables of docs/benchmarks.md from `scripts/bench` results.

    scripts/bench-tables.py lab DIR [DIR...]   (several DIRs: e.g. testssl.sh run on its own)
    scripts/bench-tables.py farm DIR
    scripts/bench-tables.py dns DIR
"""

import csv
import os
import sys

CONFIGURATIONS = {
    "portal.oldtel.zz:443": "OpenSSL, TLS 1.0–1.2, every suite incl. NULL/anon/export (exception for TLS 1.0)",
    "www.regulator.zz:443": "nginx, Mozilla intermediate, ECDSA P-256",
    "portal.csirt.zz:443": "OpenSSL, TLS 1.3 only",
    "api.mobile.zz:443": "OpenSSL, DHE only, 1024-bit group",
    "www.ixp.zz:443": "OpenSSL, server order, CBC first, no TLS 1.3",
    "whois.nic.zz:4443": "GnuTLS NORMAL",
    "www.gob.zz:443": "certificate expired",
    "intranet.gob.zz:443": "certificate self-signed",
    "www.telco.zz:443": "certificate for another name",
    "webmail.telco.zz:443": "incomplete chain",
    "noc.ixp.zz:443": "RSA-1024 key",
    "legacy.mobile.zz:443": "SHA-1 signature",
    "www.nic.zz:443": "1000-day lifetime",
    "portal.gob.zz:443": "revoked (OCSP, CRL)",
    "mx1.regulator.zz:25": "Postfix, SMTP STARTTLS",
}


def rows(directory):
    with open(os.path.join(directory, "results.tsv")) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def lab(directories):
    runs = {}
    for d in directories:
        for r in rows(d):
            tool, target = r["label"].split(" ", 1)
            runs[(tool, target)] = r
    for target, what in CONFIGURATIONS.items():
        cells = []
        for tool in ("postura", "sslyze", "testssl", "sslscan"):
            r = runs.get((tool, target))
            cells.append(f"{float(r['wall_s']):.2f} s / {float(r['cpu_s']):.2f} s / {r['connections']}" if r else "–")
        print(f"| {target} | {what} | " + " | ".join(cells) + " |")
    totals = []
    for tool in ("postura", "sslyze", "testssl", "sslscan"):
        rs = [r for (t, _), r in runs.items() if t == tool]
        if rs:
            totals.append(f"**{sum(float(r['wall_s']) for r in rs):.1f} s / {sum(float(r['cpu_s']) for r in rs):.1f} s / "
                          f"{sum(int(r['connections']) for r in rs)}**")
        else:
            totals.append("–")
    print("| **all 15** | | " + " | ".join(totals) + " |")


def farm(directory):
    for r in rows(directory):
        if r["label"].split()[1] == "report":
            per = "–"
        else:
            k = int(r["label"].split()[1])
            per = f"{1000 * float(r['wall_s']) / k:.0f} ms wall, {1000 * float(r['cpu_s']) / k:.1f} ms CPU, {int(r['connections']) / k:.0f} conn"
        print(f"| {r['label']} | {float(r['wall_s']):.1f} s | {float(r['cpu_s']):.1f} s | {float(r['peak_rss_mb']):.0f} MB | "
              f"{int(r['connections']):,} | {per} |")


def dns(directory):
    runs = {tuple(r["label"].split(" ", 1)): r for r in rows(directory)}
    for zone in ("zz", "nic.zz", "regulator.zz", "gob.zz", "oldtel.zz", "telco.zz", "ixp.zz"):
        cells = []
        for tool in ("postura", "zonemaster"):
            r = runs.get((tool, zone))
            cells.append(f"{float(r['wall_s']):.2f} s / {float(r['cpu_s']):.2f} s / {r['udp_datagrams']} / {r['connections']}" if r else "–")
        print(f"| {zone} | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    {"lab": lambda: lab(sys.argv[2:]), "farm": lambda: farm(sys.argv[2]), "dns": lambda: dns(sys.argv[2])}[sys.argv[1]]()
