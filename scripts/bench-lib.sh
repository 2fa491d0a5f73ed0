# Helpers for scripts/bench (sourced): measure one command run inside a network namespace, and
# the four tools' command lines.
#
# How the figures are taken:
# - wall, CPU (user + system) and peak RSS: GNU time (`/usr/bin/time -f '%e %U %S %M'`) around
#   the tool. CPU includes every child process the tool waited for (testssl.sh runs thousands of
#   `openssl` processes); peak RSS is the largest single process (the kernel's ru_maxrss).
# - connections, counted at the server: every server of a run lives in its own network namespace
#   and the tool runs inside it, so the namespace's own TCP counter PassiveOpens (/proc/net/snmp
#   read from inside the namespace: connections the servers accepted) before and after the run is
#   exactly what that tool opened, whatever else the machine is doing. It includes the revocation
#   fetches (OCSP, CRL, caIssuers) a tool makes to the lab's own servers; UDP (DNS) is not counted.

# "PassiveOpens InDatagrams" of the namespace: TCP connections its servers accepted, UDP datagrams
# received in it (for DNS, where client and servers share the namespace: queries + answers).
bench_counters() { # NETNS
  ip netns exec "$1" awk '/^Tcp:/ && $7 ~ /^[0-9]+$/ { tcp = $7 } /^Udp:/ && $2 ~ /^[0-9]+$/ { udp = $2 }
    END { print tcp, udp }' /proc/net/snmp
}

# Run CMD inside NETNS; append "LABEL<TAB>wall_s<TAB>cpu_s<TAB>peak_rss_mb<TAB>connections<TAB>
# udp_datagrams<TAB>exit" to RESULTS. The tool's stdout and stderr go to LOG.
bench_measure() { # NETNS RESULTS LABEL LOG CMD...
  local netns=$1 results=$2 label=$3 log=$4; shift 4
  local tcp0 udp0 tcp1 udp1 timing status=0
  timing=$(mktemp)
  read -r tcp0 udp0 < <(bench_counters "$netns")
  /usr/bin/time -f '%e %U %S %M' -o "$timing" ip netns exec "$netns" "$@" >"$log" 2>&1 || status=$?
  read -r tcp1 udp1 < <(bench_counters "$netns")
  # GNU time writes "Command exited with non-zero status N" before its line when the tool fails.
  read -r wall user sys rss < <(tail -n 1 "$timing")
  rm -f "$timing"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v c="$((tcp1 - tcp0))" -v d="$((udp1 - udp0))" \
    -v x="$status" 'BEGIN { printf "%s\t%s\t%.2f\t%.1f\t%s\t%s\t%s\n", l, w, u + s, r / 1024, c, d, x }' >> "$results"
}

# The four tools' command lines for one endpoint, in the array BENCH_CMD. OUT: directory for
# the tool's output files, NAME: file stem, HOST PORT ADDRESS, MODE: tls or smtp (STARTTLS), CA: the lab's root (a national CA).
bench_postura() { # OUT NAME HOST PORT ADDRESS MODE CA
  local target="$3:$4"
  [ "$6" = smtp ] && target="smtp://$3:$4"
  BENCH_CMD=("$POSTURA" scan --quiet --json "$1/$2.postura.json" --ca-file "$7" "$target" --resolve "$3:$4:$5")
}
bench_sslyze() {
  local starttls=()
  [ "$6" = smtp ] && starttls=(--starttls smtp)
  BENCH_CMD=(sslyze --quiet --json_out "$1/$2.sslyze.json" --certinfo_ca_file "$7" "${starttls[@]}" "$3:$4{$5}")
}
bench_testssl() {
  local starttls=()
  [ "$6" = smtp ] && starttls=(-t smtp)
  BENCH_CMD=(testssl --quiet --warnings off --color 0 --nodns none --add-ca "$7" --jsonfile "$1/$2.testssl.json"
    --ip "$5" "${starttls[@]}" "$3:$4")
}
bench_sslscan() {
  local starttls=()
  [ "$6" = smtp ] && starttls=(--starttls-smtp)
  BENCH_CMD=(sslscan --no-colour --show-certificate --sni-name="$3" --xml="$1/$2.sslscan.xml" "${starttls[@]}" "$5:$4")
}
