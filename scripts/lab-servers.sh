# The lab's TLS, web, OCSP and mail servers, sourced by scripts/lab. Every one runs inside the
# lab's network namespace on its own 127.x address, port 443 unless said otherwise.
#
# TLS configurations (each with its own RSA-2048 leaf from the lab CA, unless it is a
# certificate case):
#   127.0.10.1  portal.oldtel.zz   openssl s_server, TLS 1.0-1.2, ALL:COMPLEMENTOFALL:@SECLEVEL=0
#   127.0.10.2  www.regulator.zz   nginx, Mozilla intermediate (TLS 1.2 + 1.3), HSTS, http→https
#   127.0.10.3  portal.csirt.zz    openssl s_server, TLS 1.3 only
#   127.0.10.4  api.mobile.zz      openssl s_server, DHE only with a 1024-bit group (LOGJAM class)
#   127.0.10.5  www.ixp.zz         openssl s_server, server-preferred order with a CBC suite first
#   127.0.0.1:4443 whois.nic.zz    gnutls-serv NORMAL (it binds every address: own port)
# Certificate cases (nginx, otherwise a good configuration):
#   127.0.11.1  www.gob.zz         expired 30 days ago
#   127.0.11.2  intranet.gob.zz    self-signed
#   127.0.11.3  www.telco.zz       issued for another name (shop.telco.zz)
#   127.0.11.4  webmail.telco.zz   incomplete chain (leaf only; the intermediate is at its AIA URL)
#   127.0.11.5  noc.ixp.zz         RSA-1024 key
#   127.0.11.6  legacy.mobile.zz   signed with SHA-1
#   127.0.11.7  www.nic.zz         1000-day lifetime (CA/B limit: 398), HSTS, http→https
#   127.0.11.8  portal.gob.zz      revoked (keyCompromise): OCSP says so, and the CRL
# Infrastructure:
#   127.0.12.1:80   nginx: the CRL and the intermediate (caIssuers) of the lab CA
#   *:8080          openssl ocsp over the CA's database (it binds every address; URL 127.0.12.2)
#   127.0.25.1:25   Postfix, mx1.regulator.zz, STARTTLS (also telco.zz's MX)
#   127.0.25.3      nginx, mta-sts.regulator.zz serving /.well-known/mta-sts.txt

readonly LAB_HTTP=127.0.12.1 LAB_OCSP=127.0.12.2

# Issue every leaf (PKI directory $1), revoke the revoked one, write the CRL.
servers_pki() {
  local p=$1
  pki_ca "$p"
  pki_leaf "$p" legacy portal.oldtel.zz
  pki_leaf "$p" regulator www.regulator.zz ec
  pki_leaf "$p" csirt portal.csirt.zz
  pki_leaf "$p" mobile api.mobile.zz
  pki_leaf "$p" ixp www.ixp.zz
  pki_leaf "$p" whois whois.nic.zz
  pki_leaf "$p" expired www.gob.zz rsa:2048 sha256 "dates -400days -30days"
  pki_self_signed "$p" selfsigned intranet.gob.zz
  pki_leaf "$p" wronghost shop.telco.zz
  pki_leaf "$p" nochain webmail.telco.zz
  pki_leaf "$p" weakkey noc.ixp.zz rsa:1024
  pki_leaf "$p" sha1 legacy.mobile.zz rsa:2048 sha1
  pki_leaf "$p" longlived www.nic.zz rsa:2048 sha256 "days 1000"
  pki_leaf "$p" revoked portal.gob.zz
  pki_leaf "$p" mx1 mx1.regulator.zz
  pki_leaf "$p" mtasts mta-sts.regulator.zz
  pki_revoke "$p" revoked
  pki_crl "$p"
  cp "$p/nochain.pem" "$p/nochain.chain.pem" # the server sends the leaf alone
  openssl genpkey -genparam -algorithm DH -pkeyopt dh_paramgen_prime_len:1024 -out "$p/dh1024.pem"
}

servers_s_server() { # NAME ADDRESS LEAF ARGS...
  local name=$1 address=$2 leaf=$3; shift 3
  # s_server quits when its standard input ends: a fifo opened read-write, never written,
  # keeps it waiting quietly.
  mkfifo "$LAB/$name.stdin"
  LAB_STDIN="$LAB/$name.stdin" lab_spawn "$name" openssl s_server -accept "$address:443" \
    -cert "$LAB/pki/$leaf.pem" -key "$LAB/pki/$leaf.key" -cert_chain "$LAB/pki/int.pem" -www -quiet "$@"
}

nginx_tls_server() { # ADDRESS NAME LEAF [SECLEVEL0] [HSTS]
  cat <<NGINX
  server {
    listen $1:443 ssl;
    server_name $2;
    ssl_certificate $LAB/pki/$3.chain.pem;
    ssl_certificate_key $LAB/pki/$3.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305${4:+:@SECLEVEL=0};
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;
    ${5:+add_header Strict-Transport-Security "max-age=63072000" always;}
    location / { return 200 "$2 (postura lab)\n"; }
  }
NGINX
  if [ -n "${5:-}" ]; then
    printf '  server { listen %s:80; server_name %s; return 301 https://%s$request_uri; }\n' "$1" "$2" "$2"
  fi
}

servers_nginx() {
  local n=$LAB/nginx
  mkdir -p "$n/www/.well-known"
  printf 'version: STSv1\nmode: enforce\nmx: mx1.regulator.zz\nmax_age: 604800\n' > "$n/www/.well-known/mta-sts.txt"
  {
    cat <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log;
events { worker_connections 256; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path $n/body;
  proxy_temp_path $n/proxy;
  fastcgi_temp_path $n/fastcgi;
  uwsgi_temp_path $n/uwsgi;
  scgi_temp_path $n/scgi;
  server {
    listen $LAB_HTTP:80;
    location = /intermediate.der { alias $LAB/pki/intermediate.der; }
    location = /intermediate.crl { alias $LAB/pki/intermediate.crl; }
  }
NGINX
    nginx_tls_server 127.0.10.2 www.regulator.zz regulator "" hsts
    nginx_tls_server 127.0.11.1 www.gob.zz expired
    nginx_tls_server 127.0.11.2 intranet.gob.zz selfsigned
    nginx_tls_server 127.0.11.3 www.telco.zz wronghost
    nginx_tls_server 127.0.11.4 webmail.telco.zz nochain
    nginx_tls_server 127.0.11.5 noc.ixp.zz weakkey seclevel0
    nginx_tls_server 127.0.11.6 legacy.mobile.zz sha1 seclevel0
    nginx_tls_server 127.0.11.7 www.nic.zz longlived "" hsts
    nginx_tls_server 127.0.11.8 portal.gob.zz revoked
    cat <<NGINX
  server {
    listen 127.0.25.3:443 ssl;
    server_name mta-sts.regulator.zz;
    ssl_certificate $LAB/pki/mtasts.chain.pem;
    ssl_certificate_key $LAB/pki/mtasts.key;
    root $n/www;
  }
}
NGINX
  } > "$n/nginx.conf"
  lab_spawn nginx nginx -p "$n" -c "$n/nginx.conf" -e "$n/error.log"
}

servers_postfix() {
  local d=$LAB/postfix
  mkdir -p "$d/conf" "$d/queue" "$d/data"
  cp /etc/postfix/master.cf "$d/conf/"
  cat > "$d/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
inet_interfaces = 127.0.25.1
inet_protocols = ipv4
myhostname = mx1.regulator.zz
mydestination = regulator.zz
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP
smtpd_tls_cert_file = $LAB/pki/mx1.chain.pem
smtpd_tls_key_file = $LAB/pki/mx1.key
smtpd_tls_security_level = may
# The regulator's good example: TLS 1.2 and 1.3, forward-secret AEAD suites only.
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_ciphers = high
tls_high_cipherlist = ECDHE+AESGCM:ECDHE+CHACHA20
smtpd_tls_exclude_ciphers = aNULL
maillog_file = /dev/stdout
alias_maps =
alias_database =
CF
  # Postfix's own processes run as the postfix user: its data directory is theirs.
  chown postfix "$d/data"
  lab_spawn postfix postfix -c "$d/conf" start-fg
}

servers_ocsp() {
  local p=$LAB/pki
  lab_spawn ocsp openssl ocsp -index "$p/db/index.txt" -CA "$p/int.pem" -rsigner "$p/ocsp.pem" \
    -rkey "$p/ocsp.key" -ndays 1 -ignore_err -port 8080
}

servers_start() {
  servers_s_server legacy 127.0.10.1 legacy -no_tls1_3 -cipher 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'
  servers_s_server csirt 127.0.10.3 csirt -tls1_3
  servers_s_server dhe 127.0.10.4 mobile -no_tls1_3 -dhparam "$LAB/pki/dh1024.pem" -cipher 'DHE:@SECLEVEL=0'
  servers_s_server order 127.0.10.5 ixp -no_tls1_3 -serverpref \
    -cipher 'ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-SHA'
  lab_spawn gnutls gnutls-serv --x509certfile "$LAB/pki/whois.chain.pem" --x509keyfile "$LAB/pki/whois.key" \
    -p 4443 --priority NORMAL
  servers_nginx
  servers_ocsp
  servers_postfix
}

# Every TLS-speaking endpoint, "HOST:PORT ADDRESS" per line (scripts/bench reads it).
servers_targets() {
  cat <<TARGETS
portal.oldtel.zz:443 127.0.10.1
www.regulator.zz:443 127.0.10.2
portal.csirt.zz:443 127.0.10.3
api.mobile.zz:443 127.0.10.4
www.ixp.zz:443 127.0.10.5
whois.nic.zz:4443 127.0.0.1
www.gob.zz:443 127.0.11.1
intranet.gob.zz:443 127.0.11.2
www.telco.zz:443 127.0.11.3
webmail.telco.zz:443 127.0.11.4
noc.ixp.zz:443 127.0.11.5
legacy.mobile.zz:443 127.0.11.6
www.nic.zz:443 127.0.11.7
portal.gob.zz:443 127.0.11.8
TARGETS
}

servers_wait() {
  local endpoint
  while read -r endpoint address; do lab_wait_tcp "$address" "${endpoint##*:}"; done < <(servers_targets)
  lab_wait_tcp 127.0.25.1 25
  lab_wait_tcp 127.0.25.3 443
  lab_wait_tcp "$LAB_HTTP" 80
  # Never a TCP probe for openssl ocsp: a connect-and-close wedges it for good. Its banner instead.
  lab_wait_log ocsp "waiting for OCSP client connections"
}
