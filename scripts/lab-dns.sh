# The lab's DNS, sourced by scripts/lab: a private signed root and the fictitious ccTLD `zz.`,
# the zones of the country's operators on BIND 9 and Knot, and two Unbound resolvers. The same
# server configurations as tests/common/dns.rs, in shell; everything listens inside the lab's
# network namespace (BIND only binds addresses configured on an interface).
#
#   127.0.20.1  Knot   `.` (signed), hints a.root-servers.lab.
#   127.0.20.2  BIND   `zz.` (signed), DS for the signed zones below
#   127.0.21.1  BIND   "a": nic.zz, gob.zz, regulator.zz, telco.zz, ixp.zz; recursion off, no AXFR
#   127.0.22.1  Knot   "b": nic.zz, gob.zz, regulator.zz, telco.zz (not ixp.zz: lame there)
#   127.0.23.1  BIND   oldtel.zz alone: one NS, recursion for anyone, AXFR open, version shown
#   127.0.30.1  Unbound, validating (trust anchor: the lab root's DS)
#   127.0.30.2  Unbound, not validating (iterator only), answering anyone
#
# Zones: nic.zz healthy and signed (RSA-2048, NSEC3 0 iterations, no salt; SPF -all, DMARC
# reject, null MX); gob.zz signed with signatures that expired in 2020; regulator.zz signed,
# MX with STARTTLS (Postfix), DANE TLSA 3 1 1 matching it, MTA-STS and TLS-RPT; telco.zz
# unsigned with SPF +all and DMARC p=none; ixp.zz lame on one of its two servers; oldtel.zz
# open resolver and open AXFR.

readonly DNS_ROOT=127.0.20.1 DNS_TLD=127.0.20.2 DNS_A=127.0.21.1 DNS_B=127.0.22.1 DNS_OPEN=127.0.23.1
readonly RESOLVER_VALIDATING=127.0.30.1 RESOLVER_OPEN=127.0.30.2
readonly SOA_TIMERS="14400 3600 1209600 3600"

dns_soa() { # ZONE SERIAL
  printf '$TTL 3600\n%s. IN SOA ns1.%s. hostmaster.%s. %s %s\n' "$1" "$1" "$1" "$2" "$SOA_TIMERS"
}

dns_ns_pair() { # ZONE: NS ns1 (BIND a) and ns2 (Knot b)
  printf '%s. NS ns1.%s.\n%s. NS ns2.%s.\nns1.%s. A %s\nns2.%s. A %s\n' "$1" "$1" "$1" "$1" "$1" "$DNS_A" "$1" "$DNS_B"
}

# Zone files of the operators' zones (unsigned), in DIR. $1: DIR, $2: the MX's SPKI SHA-256.
dns_zones() {
  local d=$1 spki=$2
  { dns_soa nic.zz 2026120101; dns_ns_pair nic.zz
    cat <<'Z'
www.nic.zz. A 127.0.11.7
whois.nic.zz. A 127.0.0.1
nic.zz. MX 0 .
nic.zz. TXT "v=spf1 -all"
_dmarc.nic.zz. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@nic.zz"
Z
  } > "$d/nic.zz.zone"
  { dns_soa gob.zz 1; dns_ns_pair gob.zz
    cat <<'Z'
www.gob.zz. A 127.0.11.1
intranet.gob.zz. A 127.0.11.2
portal.gob.zz. A 127.0.11.8
gob.zz. TXT "v=spf1 -all"
_dmarc.gob.zz. TXT "v=DMARC1; p=reject"
Z
  } > "$d/gob.zz.zone"
  { dns_soa regulator.zz 7; dns_ns_pair regulator.zz
    cat <<Z
www.regulator.zz. A 127.0.10.2
regulator.zz. MX 10 mx1.regulator.zz.
mx1.regulator.zz. A 127.0.25.1
regulator.zz. TXT "v=spf1 mx -all"
_dmarc.regulator.zz. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@regulator.zz"
_mta-sts.regulator.zz. TXT "v=STSv1; id=20261201"
_smtp._tls.regulator.zz. TXT "v=TLSRPTv1; rua=mailto:tls@regulator.zz"
mta-sts.regulator.zz. A 127.0.25.3
_25._tcp.mx1.regulator.zz. TLSA 3 1 1 $spki
Z
  } > "$d/regulator.zz.zone"
  { dns_soa telco.zz 42; dns_ns_pair telco.zz
    cat <<'Z'
www.telco.zz. A 127.0.11.3
webmail.telco.zz. A 127.0.11.4
telco.zz. MX 10 mx1.regulator.zz.
telco.zz. TXT "v=spf1 a mx include:_spf.telco.zz +all"
_spf.telco.zz. TXT "v=spf1 a:relay.telco.zz ?all"
relay.telco.zz. A 127.0.25.9
_dmarc.telco.zz. TXT "v=DMARC1; p=none"
Z
  } > "$d/telco.zz.zone"
  { dns_soa ixp.zz 3; dns_ns_pair ixp.zz
    printf 'www.ixp.zz. A 127.0.10.5\nnoc.ixp.zz. A 127.0.11.5\n'
  } > "$d/ixp.zz.zone"
  { dns_soa oldtel.zz 3
    printf 'oldtel.zz. NS ns.oldtel.zz.\nns.oldtel.zz. A %s\nportal.oldtel.zz. A 127.0.10.1\n' "$DNS_OPEN"
  } > "$d/oldtel.zz.zone"
}

dns_tld() { # DIR: zz. with its delegations and glue (DS appended by the caller)
  { printf '$TTL 3600\nzz. IN SOA ns.zz. hostmaster.nic.zz. 1 %s\n' "$SOA_TIMERS"
    printf 'zz. NS ns.zz.\nns.zz. A %s\n' "$DNS_TLD"
    for zone in nic gob regulator telco ixp; do
      printf '%s.zz. NS ns1.%s.zz.\nns1.%s.zz. A %s\n%s.zz. NS ns2.%s.zz.\nns2.%s.zz. A %s\n' \
        "$zone" "$zone" "$zone" "$DNS_A" "$zone" "$zone" "$zone" "$DNS_B"
    done
    printf 'oldtel.zz. NS ns.oldtel.zz.\nns.oldtel.zz. A %s\n' "$DNS_OPEN"
  } > "$1/zz.zone"
}

# Sign FILE for ZONE in DIR with fresh keys; extra arguments go to dnssec-signzone.
dns_sign() { # DIR ZONE FILE ALGORITHM... -- EXTRA...
  local d=$1 origin=$2 file=$3; shift 3
  local algorithm=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do algorithm+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  (cd "$d" && dnssec-keygen -q -K . -f KSK "${algorithm[@]}" "$origin" >/dev/null \
    && dnssec-keygen -q -K . "${algorithm[@]}" "$origin" >/dev/null \
    && dnssec-signzone -q -S -K . -d . -o "$origin" -f "$file.signed" "$@" "$file" >/dev/null)
}

# Build and sign every zone in DIR; writes DIR/root.hints and DIR/root.ds.
dns_build() { # DIR SPKI
  local d=$1
  dns_zones "$d" "$2"
  dns_sign "$d" nic.zz. nic.zz.zone -a RSASHA256 -b 2048 -- -3 - -H 0
  dns_sign "$d" gob.zz. gob.zz.zone -a ECDSAP256SHA256 -- -P -s 20200101000000 -e 20200201000000
  dns_sign "$d" regulator.zz. regulator.zz.zone -a ECDSAP256SHA256 --
  dns_tld "$d"
  cat "$d/dsset-nic.zz." "$d/dsset-gob.zz." "$d/dsset-regulator.zz." >> "$d/zz.zone"
  dns_sign "$d" zz. zz.zone -a ECDSAP256SHA256 --
  { printf '$TTL 86400\n. IN SOA a.root-servers.lab. hostmaster.root-servers.lab. 1 1800 900 604800 86400\n'
    printf '. NS a.root-servers.lab.\na.root-servers.lab. A %s\nzz. NS ns.zz.\nns.zz. A %s\n' "$DNS_ROOT" "$DNS_TLD"
    cat "$d/dsset-zz."
  } > "$d/root.zone"
  dns_sign "$d" . root.zone -a ECDSAP256SHA256 --
  printf '. 3600000 NS a.root-servers.lab.\na.root-servers.lab. 3600000 A %s\n' "$DNS_ROOT" > "$d/root.hints"
  cp "$d/dsset-." "$d/root.ds"
}

dns_bind() { # DIR NAME ADDRESS open|closed ZONE=FILE...
  local base=$1 name=$2 d=$1/$2 address=$3 mode=$4; shift 4
  mkdir -p "$d"
  { printf 'options {\n directory "%s";\n pid-file "%s/named.pid";\n session-keyfile "%s/session.key";\n' "$d" "$d" "$d"
    printf ' listen-on port 53 { %s; };\n listen-on-v6 { none; };\n dnssec-validation no;\n notify no;\n' "$address"
    if [ "$mode" = open ]; then
      printf ' recursion yes;\n allow-recursion { any; };\n allow-query-cache { any; };\n allow-transfer { any; };\n'
    else
      printf ' recursion no;\n allow-transfer { none; };\n version none;\n hostname none;\n server-id none;\n'
    fi
    printf '};\ncontrols { };\n'
    if [ "$mode" = open ]; then printf 'zone "." { type hint; file "%s/root.hints"; };\n' "$base"; fi
    for spec in "$@"; do printf 'zone "%s" { type primary; file "%s/%s"; };\n' "${spec%%=*}" "$base" "${spec#*=}"; done
  } > "$d/named.conf"
  lab_spawn "$name" named -g -4 -n 1 -c "$d/named.conf"
}

dns_knot() { # DIR NAME ADDRESS ZONE=FILE...
  local base=$1 name=$2 d=$1/$2 address=$3; shift 3
  mkdir -p "$d"
  # version "": do not disclose the software version (as BIND's `version none`).
  { printf 'server:\n  rundir: "%s"\n  listen: %s@53\n  version: ""\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n' "$d" "$address"
    printf 'database:\n  storage: "%s/db"\nlog:\n  - target: stderr\n    any: info\n' "$d"
    printf 'template:\n  - id: default\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\nzone:\n'
    for spec in "$@"; do printf '  - domain: "%s"\n    file: "%s/%s"\n' "${spec%%=*}" "$base" "${spec#*=}"; done
  } > "$d/knot.conf"
  lab_spawn "$name" knotd -c "$d/knot.conf"
}

dns_unbound() { # DIR NAME ADDRESS validating|open
  local d=$1/$2 address=$3
  mkdir -p "$d"
  { printf 'server:\n  interface: %s\n  port: 53\n  do-daemonize: no\n  username: ""\n  chroot: ""\n' "$address"
    printf '  directory: "%s"\n  pidfile: "%s/unbound.pid"\n  use-syslog: no\n  logfile: ""\n  do-ip6: no\n' "$d" "$d"
    # Unbound refuses to query 127/8 unless told, and needs `zz.` not to be a default local zone.
    printf '  access-control: 0.0.0.0/0 allow\n  do-not-query-localhost: no\n  root-hints: "%s/root.hints"\n' "$1"
    if [ "$4" = validating ]; then
      printf '  trust-anchor-file: "%s/root.ds"\n  module-config: "validator iterator"\n' "$1"
    else
      printf '  module-config: "iterator"\n'
    fi
    printf '  num-threads: 1\n  verbosity: 1\nremote-control:\n  control-enable: no\n'
  } > "$d/unbound.conf"
  lab_spawn "$2" unbound -d -c "$d/unbound.conf"
}

# Start every DNS server of the lab (zones built in DIR).
dns_start() { # DIR
  local d=$1
  dns_knot "$d" knot-root "$DNS_ROOT" .=root.zone.signed
  dns_bind "$d" bind-tld "$DNS_TLD" closed zz=zz.zone.signed
  dns_bind "$d" bind-a "$DNS_A" closed nic.zz=nic.zz.zone.signed gob.zz=gob.zz.zone.signed \
    regulator.zz=regulator.zz.zone.signed telco.zz=telco.zz.zone ixp.zz=ixp.zz.zone
  dns_knot "$d" knot-b "$DNS_B" nic.zz=nic.zz.zone.signed gob.zz=gob.zz.zone.signed \
    regulator.zz=regulator.zz.zone.signed telco.zz=telco.zz.zone
  dns_bind "$d" bind-open "$DNS_OPEN" open oldtel.zz=oldtel.zz.zone
  dns_unbound "$d" unbound-validating "$RESOLVER_VALIDATING" validating
  dns_unbound "$d" unbound-open "$RESOLVER_OPEN" open
}
