#!/bin/bash
# Generates a throw-away test PKI into the folder given as $1 (created if
# needed), with the openssl CLI as in INTEROP-NOTES §4. Nothing here is
# committed: tests run this at test time into a temp folder.
#
#   ca.crt/key           "rcoap test CA"
#   server.crt/key       CN=localhost, SAN DNS:localhost, DNS:rcoap.test,
#                        IP:127.0.0.1, IP:::1 (signed by ca)
#   other.crt/key        CN=other.test, SAN DNS:other.test (signed by ca;
#                        the second certificate for SNI tests)
#   client.crt/key       CN=rcoap-client-1, clientAuth (signed by ca)
#   expired.crt/key      like server, valid 2020-01-01..2020-01-02
#   rogue-ca.crt/key     another CA nobody trusts
#   rogue.crt/key        like server, signed by rogue-ca
#   rogue-client.crt/key CN=rogue-client, clientAuth, signed by rogue-ca
set -euo pipefail
out=${1:?usage: gen.sh OUTDIR}
mkdir -p "$out"
cd "$out"
exec 3>&2 2>gen.log

ec() { echo "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"; }

mkca() { # name cn
  openssl req -x509 $(ec) -keyout "$1.key" -out "$1.crt" -days 3650 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

ext() { # file eku san...
  local f=$1 eku=$2
  shift 2
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    if [ $# -gt 0 ]; then
      local IFS=,
      echo "subjectAltName=$*"
    fi
  } >"$f"
}

mkleaf() { # name cn ca extfile
  openssl req $(ec) -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" \
    -CAcreateserial -out "$1.crt" -days 825 -extfile "$4"
}

mkca ca "rcoap test CA"
mkca rogue-ca "rogue CA"
ext server.ext serverAuth DNS:localhost DNS:rcoap.test IP:127.0.0.1 IP:::1
ext other.ext serverAuth DNS:other.test
ext client.ext clientAuth
mkleaf server localhost ca server.ext
mkleaf other other.test ca other.ext
mkleaf client rcoap-client-1 ca client.ext
mkleaf rogue localhost rogue-ca server.ext
mkleaf rogue-client rogue-client rogue-ca client.ext

# Expired: openssl 3.0's x509 -req has no start/end dates; openssl ca has.
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<'EOF'
[ ca ]
default_ca = testca
[ testca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = pol
copy_extensions = copy
[ pol ]
commonName = supplied
EOF
openssl req $(ec) -keyout expired.key -out expired.csr -subj "/CN=localhost"
openssl ca -batch -config ca.cnf -in expired.csr -out expired.crt \
  -startdate 20200101000000Z -enddate 20200102000000Z -extfile server.ext
exec 2>&3
echo "test PKI in $out"
