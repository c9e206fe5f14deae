#!/usr/bin/env bash
# A throwaway PKI for mutual-TLS tests: a CA, a server certificate for 127.0.0.1, client
# certificates, and the Java keystores/truststores the `flink` CLI reads (PKCS12), made with
# openssl and keytool. Nothing here is fit for production: keys are unencrypted on disk and the
# store password is given on the command line.
#
#   scripts/it/pki.sh install
#   scripts/it/pki.sh make --out DIR [--client NAME]... [--foreign-client NAME]...
#                          [--expired-client NAME]... [--revoked-client NAME]... [--server NAME]...
#                          [--password P] [--days N] [--no-java] [--key rsa|ec]
#   scripts/it/pki.sh revoke --out DIR --client NAME     # adds DIR/NAME.crt to DIR/ca.crl
#
# install: apt-get installs openssl if it is missing (keytool comes with the JRE that Flink needs).
# make:    DIR/ca.{key,crt}                the test CA ("FlinkTrail Test CA")
#          DIR/server.{key,crt}            CN=127.0.0.1, SAN IP:127.0.0.1, DNS:localhost, signed by the CA
#          DIR/<name>.{key,crt}            per --client: CN=<name>, emailAddress=<name>@example.test,
#                                          O=FlinkTrail Test, extendedKeyUsage clientAuth, signed by the CA
#          DIR/<name>.p12                  PKCS12 keystore (alias <name>): the client key + chain
#          DIR/truststore.p12              PKCS12 truststore (alias ca): the CA certificate
#          DIR/foreign-ca.{key,crt}        a second, unrelated CA — only with --foreign-client
#          DIR/<name>.{key,crt,p12}        per --foreign-client: like --client, signed by the foreign CA
#          DIR/<name>.{key,crt,p12}        per --expired-client: signed by the CA, valid 2020-01-01..02
#          DIR/<name>.{key,crt,p12}        per --revoked-client: like --client, and listed in DIR/ca.crl
#          DIR/<name>.{key,crt}            per --server: another server certificate like server.crt (same
#                                          CA and SAN), e.g. to rotate the server certificate in a test
#          DIR/ca.crl                      the CA's certificate revocation list (PEM; empty unless revoked)
#          .p12 files are skipped with --no-java. Keys are RSA 2048 (the default; Flink's default REST
#          cipher suite needs an RSA server key) or EC P-256 with --key ec (fast, for unit tests).
#          Prints ONE JSON line:
#          {"dir":…,"ca":…,"crl":…,"serverCert":…,"serverKey":…,"truststore":…,"password":…,
#           "servers":{"<name>":{"cert":…,"key":…,"fingerprint256":…}},
#           "clients":{"<name>":{"cert":…,"key":…,"keystore":…,"fingerprint256":…,"subject":…}}}
#          (subject in RFC 4514 form, as `openssl x509 -nameopt RFC2253` prints it).
set -euo pipefail

log() { printf '[pki.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cmd_install() {
  if command -v openssl >/dev/null; then
    log "openssl already installed"
  else
    log "apt-get install openssl"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >&2
  fi
  command -v keytool >/dev/null || log "keytool not found: install a JRE (default-jre-headless) for the Java stores"
}

# RSA by default: Flink's default REST cipher suite (TLS_RSA_WITH_AES_128_CBC_SHA) needs an RSA server key.
new_key() {
  if [[ $KEY == ec ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  fi
}

new_ca() { # new_ca <base> <CN>
  new_key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/O=FlinkTrail Test/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.crt"
}

sign() { # sign <ca-base> <name> <subject> <extfile>
  local ca=$1 name=$2 subj=$3 ext=$4
  new_key "$DIR/$name.key"
  openssl req -new -key "$DIR/$name.key" -subj "$subj" -out "$DIR/$name.csr"
  openssl x509 -req -in "$DIR/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days "$DAYS" -sha256 -extfile "$ext" -out "$DIR/$name.crt" 2>/dev/null
  rm -f "$DIR/$name.csr"
}

# `openssl x509 -req` cannot backdate (OpenSSL 3.0), so the expired certificate goes through `openssl ca`.
sign_expired() { # sign_expired <name> <subject> <extfile>
  local name=$1 subj=$2 ext=$3 d=$DIR/.ca-db
  mkdir -p "$d/new"
  : >"$d/index.txt"
  openssl rand -hex 16 >"$d/serial"
  cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
default_md = sha256
policy = any
email_in_dn = yes
unique_subject = no
[any]
organizationName = optional
commonName = supplied
emailAddress = optional
EOF
  new_key "$DIR/$name.key"
  openssl req -new -key "$DIR/$name.key" -subj "$subj" -out "$DIR/$name.csr"
  openssl ca -batch -notext -config "$d/ca.cnf" -cert "$DIR/ca.crt" -keyfile "$DIR/ca.key" -in "$DIR/$name.csr" \
    -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$ext" -out "$DIR/$name.crt" 2>/dev/null
  rm -rf "$DIR/$name.csr" "$d"
}

# The CA's revocation database (DIR/.crl-db, kept so `revoke` can add to it later).
crl_db() {
  local d=$DIR/.crl-db
  [[ -f $d/ca.cnf ]] && return 0
  mkdir -p "$d"
  : >"$d/index.txt"
  echo 01 >"$d/crlnumber"
  printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\ncrlnumber = %s\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\ndefault_crl_days = 30\n' \
    "$d/index.txt" "$d/crlnumber" "$DIR/ca.crt" "$DIR/ca.key" >"$d/ca.cnf"
}

# Writes DIR/ca.crl beside and renames it over, as an operator's tooling would: a reader never
# sees half a file.
gen_crl() {
  crl_db
  openssl ca -batch -config "$DIR/.crl-db/ca.cnf" -gencrl -out "$DIR/.ca.crl.new" 2>/dev/null
  mv "$DIR/.ca.crl.new" "$DIR/ca.crl"
}

revoke_cert() { # revoke_cert <name>
  crl_db
  openssl ca -batch -config "$DIR/.crl-db/ca.cnf" -revoke "$DIR/$1.crt" 2>/dev/null
}

keystore() { # keystore <name> <ca-base>: PKCS12 with the key and its chain, alias <name>
  openssl pkcs12 -export -name "$1" -inkey "$DIR/$1.key" -in "$DIR/$1.crt" -certfile "$2.crt" \
    -passout "pass:$PASSWORD" -out "$DIR/$1.p12"
}

cmd_make() {
  DIR="" PASSWORD=changeit DAYS=30 KEY=rsa
  local java=1 clients=() foreign=() expired=() revoked=() servers=()
  while (($#)); do
    case $1 in
      --out) DIR=${2:?}; shift 2 ;;
      --client) clients+=("${2:?}"); shift 2 ;;
      --foreign-client) foreign+=("${2:?}"); shift 2 ;;
      --expired-client) expired+=("${2:?}"); shift 2 ;;
      --revoked-client) revoked+=("${2:?}"); shift 2 ;;
      --server) servers+=("${2:?}"); shift 2 ;;
      --password) PASSWORD=${2:?}; shift 2 ;;
      --days) DAYS=${2:?}; shift 2 ;;
      --no-java) java=0; shift ;;
      --key) KEY=${2:?}; shift 2; [[ $KEY == rsa || $KEY == ec ]] || die "--key must be rsa or ec" ;;
      *) die "make: unknown option $1" ;;
    esac
  done
  [[ -n $DIR ]] || die "make: --out DIR is required"
  for n in "${clients[@]}" "${foreign[@]}" "${expired[@]}" "${revoked[@]}" "${servers[@]}"; do
    [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "client name '$n' must be letters, digits, . _ -"
    [[ $n != ca && $n != server && $n != truststore && $n != foreign-ca ]] || die "client name '$n' is reserved"
  done
  [[ ${#PASSWORD} -ge 6 ]] || die "--password must have at least 6 characters (keytool's minimum)"
  command -v openssl >/dev/null || die "openssl is not installed; run: $0 install"
  ((java == 0)) || command -v keytool >/dev/null || die "keytool is not installed (install a JRE) or pass --no-java"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)

  new_ca "$DIR/ca" "FlinkTrail Test CA"
  local server_ext=$DIR/.server.ext client_ext=$DIR/.client.ext
  local ku=digitalSignature
  [[ $KEY == rsa ]] && ku+=,keyEncipherment # RSA key exchange (TLS_RSA_*) encrypts with the server key
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' "$ku" >"$server_ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=clientAuth\n' "$ku" >"$client_ext"
  sign "$DIR/ca" server "/O=FlinkTrail Test/CN=127.0.0.1" "$server_ext"
  for n in "${servers[@]}"; do sign "$DIR/ca" "$n" "/O=FlinkTrail Test/CN=127.0.0.1" "$server_ext"; done

  local subj
  for n in "${clients[@]}"; do
    sign "$DIR/ca" "$n" "/O=FlinkTrail Test/CN=$n/emailAddress=$n@example.test" "$client_ext"
  done
  for n in "${revoked[@]}"; do
    sign "$DIR/ca" "$n" "/O=FlinkTrail Test/CN=$n/emailAddress=$n@example.test" "$client_ext"
    revoke_cert "$n"
  done
  gen_crl
  for n in "${expired[@]}"; do
    sign_expired "$n" "/O=FlinkTrail Test/CN=$n/emailAddress=$n@example.test" "$client_ext"
  done
  if ((${#foreign[@]})); then
    new_ca "$DIR/foreign-ca" "Foreign CA"
    for n in "${foreign[@]}"; do
      sign "$DIR/foreign-ca" "$n" "/O=FlinkTrail Test/CN=$n/emailAddress=$n@example.test" "$client_ext"
    done
  fi
  rm -f "$server_ext" "$client_ext" "$DIR"/*.srl

  if ((java)); then
    rm -f "$DIR/truststore.p12"
    keytool -importcert -noprompt -alias ca -file "$DIR/ca.crt" -keystore "$DIR/truststore.p12" \
      -storetype PKCS12 -storepass "$PASSWORD" >/dev/null 2>&1 || die "keytool could not write the truststore"
    for n in "${clients[@]}" "${expired[@]}" "${revoked[@]}"; do keystore "$n" "$DIR/ca"; done
    for n in "${foreign[@]}"; do keystore "$n" "$DIR/foreign-ca"; done
  fi

  # One JSON line; values are paths and hex, so no escaping beyond quotes is needed.
  local json first=1 fp
  json="{\"dir\":\"$DIR\",\"ca\":\"$DIR/ca.crt\",\"crl\":\"$DIR/ca.crl\",\"serverCert\":\"$DIR/server.crt\",\"serverKey\":\"$DIR/server.key\","
  json+="\"truststore\":$( ((java)) && echo "\"$DIR/truststore.p12\"" || echo null),\"password\":\"$PASSWORD\",\"servers\":{"
  for n in "${servers[@]}"; do
    fp=$(openssl x509 -in "$DIR/$n.crt" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')
    ((first)) || json+=","
    first=0
    json+="\"$n\":{\"cert\":\"$DIR/$n.crt\",\"key\":\"$DIR/$n.key\",\"fingerprint256\":\"$fp\"}"
  done
  first=1
  json+="},\"clients\":{"
  for n in "${clients[@]}" "${foreign[@]}" "${expired[@]}" "${revoked[@]}"; do
    fp=$(openssl x509 -in "$DIR/$n.crt" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')
    subj=$(openssl x509 -in "$DIR/$n.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
    ((first)) || json+=","
    first=0
    json+="\"$n\":{\"cert\":\"$DIR/$n.crt\",\"key\":\"$DIR/$n.key\",\"keystore\":$( ((java)) && echo "\"$DIR/$n.p12\"" || echo null),"
    json+="\"fingerprint256\":\"$fp\",\"subject\":\"$subj\"}"
  done
  json+="}}"
  printf '%s\n' "$json"
}

cmd_revoke() {
  DIR=""
  local name=""
  while (($#)); do
    case $1 in
      --out) DIR=${2:?}; shift 2 ;;
      --client) name=${2:?}; shift 2 ;;
      *) die "revoke: unknown option $1" ;;
    esac
  done
  [[ -n $DIR && -n $name && -f $DIR/$name.crt ]] || die "revoke: --out DIR and --client NAME (with DIR/NAME.crt) are required"
  DIR=$(cd "$DIR" && pwd)
  revoke_cert "$name"
  gen_crl
  printf '{"crl":"%s"}\n' "$DIR/ca.crl"
}

case ${1:-} in
  install) shift; cmd_install "$@" ;;
  make) shift; cmd_make "$@" ;;
  revoke) shift; cmd_revoke "$@" ;;
  *) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
