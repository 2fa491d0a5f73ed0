# The lab's PKI, sourced by scripts/lab: a root, an intermediate with an `openssl ca` database (so
# leaves can be revoked and a real `openssl ocsp` responder can answer about them), a delegated
# OCSP signer, and one leaf per lab endpoint, each a deliberate certificate case. The same
# recipe as tests/common/ca.rs, in shell.
#
# Every leaf issued by the intermediate carries the lab's revocation URLs: OCSP at
# http://$LAB_OCSP:8080 (openssl ocsp) and the CRL and caIssuers at http://$LAB_HTTP/ (nginx).
#
# Facts found here (OpenSSL 3.0, as in tests/common/ca.rs):
# - `openssl ocsp` reloads its index with unique subjects enforced, so two valid leaves with one
#   subject make every reload fail: each leaf gets its own OU.
# - `openssl ca` keeps only the subject fields its policy names, and -startdate/-enddate take
#   YYYYMMDDHHMMSSZ.

pki_config() { # DIR
  cat > "$1/ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ocsp_signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[policy_any]
organizationalUnitName = optional
commonName = supplied
[ca_inter]
dir = $1/db
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = $1/int.pem
private_key = $1/int.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 90
default_crl_days = 7
policy = policy_any
unique_subject = no
copy_extensions = none
CNF
}

# The CA: root, intermediate, OCSP signer. Idempotent per directory.
pki_ca() { # DIR
  local d=$1
  [ -f "$d/int.pem" ] && return 0
  mkdir -p "$d/db/new"
  : > "$d/db/index.txt"; echo 1000 > "$d/db/serial"; echo 1000 > "$d/db/crlnumber"
  pki_config "$d"
  openssl req -x509 -config "$d/ca.cnf" -extensions root -newkey rsa:2048 -nodes \
    -keyout "$d/root.key" -out "$d/root.pem" -subj "/O=ZZ National PKI (fictitious)/CN=ZZ Root CA" \
    -days 3650 -sha256
  openssl req -new -config "$d/ca.cnf" -newkey rsa:2048 -nodes -keyout "$d/int.key" -out "$d/int.csr" \
    -subj "/O=ZZ National PKI (fictitious)/CN=ZZ Issuing CA 1"
  openssl x509 -req -in "$d/int.csr" -CA "$d/root.pem" -CAkey "$d/root.key" -set_serial "$RANDOM$RANDOM" \
    -days 3650 -sha256 -extfile "$d/ca.cnf" -extensions inter -out "$d/int.pem"
  openssl req -new -config "$d/ca.cnf" -newkey rsa:2048 -nodes -keyout "$d/ocsp.key" -out "$d/ocsp.csr" \
    -subj "/O=ZZ National PKI (fictitious)/CN=ZZ OCSP Responder"
  openssl ca -config "$d/ca.cnf" -name ca_inter -batch -notext -in "$d/ocsp.csr" -out "$d/ocsp.pem" \
    -extfile "$d/ca.cnf" -extensions ocsp_signer -days 3650
  openssl x509 -in "$d/int.pem" -outform DER -out "$d/intermediate.der"
}

pki_crl() { # DIR: regenerate the intermediate's CRL (DER, served by nginx)
  openssl ca -config "$1/ca.cnf" -name ca_inter -gencrl -out "$1/intermediate.crl.pem"
  openssl crl -in "$1/intermediate.crl.pem" -outform DER -out "$1/intermediate.crl"
}

pki_date() { date -u -d "$1" +%Y%m%d%H%M%SZ; } # "-400 days" -> YYYYMMDDHHMMSSZ

# Issue a leaf NAME.pem/NAME.key/NAME.chain.pem in DIR.
#   pki_leaf DIR NAME CN [key=rsa:2048|rsa:1024|ec] [md=sha256|sha1] [validity: "days N" | "dates START END"]
pki_leaf() {
  local d=$1 name=$2 cn=$3 key=${4:-rsa:2048} md=${5:-sha256} validity=${6:-days 90}
  local usage="critical,digitalSignature,keyEncipherment"
  [ "$key" = ec ] && usage="critical,digitalSignature"
  cat > "$d/$name.ext" <<EXT
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = $usage
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:$cn
authorityInfoAccess = OCSP;URI:http://$LAB_OCSP:8080,caIssuers;URI:http://$LAB_HTTP/intermediate.der
crlDistributionPoints = URI:http://$LAB_HTTP/intermediate.crl
EXT
  local newkey=(-newkey "$key")
  [ "$key" = ec ] && newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  local serial; serial=$(cat "$d/db/serial")
  openssl req -new -config "$d/ca.cnf" -nodes "${newkey[@]}" -keyout "$d/$name.key" -out "$d/$name.csr" \
    -subj "/OU=$name $serial/CN=$cn"
  local dates
  # shellcheck disable=SC2086
  set -- $validity
  if [ "$1" = days ]; then dates=(-days "$2"); else dates=(-startdate "$(pki_date "$2")" -enddate "$(pki_date "$3")"); fi
  openssl ca -config "$d/ca.cnf" -name ca_inter -batch -notext -in "$d/$name.csr" -out "$d/$name.pem" \
    -extfile "$d/$name.ext" -extensions leaf -md "$md" "${dates[@]}"
  cat "$d/$name.pem" "$d/int.pem" > "$d/$name.chain.pem"
}

# A self-signed leaf (no CA, no revocation URLs).
pki_self_signed() { # DIR NAME CN
  local d=$1 name=$2 cn=$3
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$name.key" -out "$d/$name.pem" -days 365 \
    -subj "/CN=$cn" -addext "subjectAltName=DNS:$cn" -addext "extendedKeyUsage=serverAuth"
  cp "$d/$name.pem" "$d/$name.chain.pem"
}

pki_revoke() { # DIR NAME
  openssl ca -config "$1/ca.cnf" -name ca_inter -revoke "$1/$2.pem" -crl_reason keyCompromise
}

# SHA-256 of a certificate's SubjectPublicKeyInfo (a DANE `3 1 1` association), in hex.
pki_spki_sha256() { # CERT
  openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}
