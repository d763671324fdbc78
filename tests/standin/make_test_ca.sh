#!/bin/sh
# make_test_ca.sh DIR: throw-away TLS material for the API stand-in's tests.
#
# Creates in DIR (made with mode 0700 if missing; existing files are replaced):
#   ca.pem, ca.key              a test CA ("owm-standin test CA")
#   server.pem, server.key      a server certificate signed by that CA for
#                               subjectAltName IP:127.0.0.1, DNS:localhost
#                               (CN localhost, extendedKeyUsage serverAuth)
#   other-ca.pem, other-ca.key  a second, unrelated CA: a client that trusts only
#                               it must refuse the stand-in's certificate
# Keys are EC P-256, unencrypted, mode 0600; certificates mode 0644, valid
# from now for $DAYS days (default 30). Needs the openssl command line (1.1.1
# or 3.x). Prints the paths it wrote.
#
# Use: owm_standin.py --tls-cert DIR/server.pem --tls-key DIR/server.key ..
#      curl --cacert DIR/ca.pem https://127.0.0.1:PORT/..      -> verified
#      curl --cacert DIR/other-ca.pem https://127.0.0.1:PORT/.. -> exit 60
# This is test material only: never use it outside tests.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
days=${DAYS:-30}
case $days in
	''|*[!0-9]*) echo "$0: DAYS must be a number of days" >&2; exit 2 ;;
esac

umask 077
mkdir -p "$dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/make_test_ca.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

newkey() {	# FILE
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	chmod 600 "$1"
}

cat > "$work/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
cat > "$work/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

sign() {	# CSR EXTFILE OUT CA_CERT CA_KEY  (CA_CERT empty: self-signed)
	serial=0x$(openssl rand -hex 16)
	if [ -z "$4" ]; then
		openssl x509 -req -in "$1" -signkey "$5" -extfile "$2" -set_serial "$serial" \
		    -days "$days" -sha256 -out "$3" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	else
		openssl x509 -req -in "$1" -CA "$4" -CAkey "$5" -extfile "$2" -set_serial "$serial" \
		    -days "$days" -sha256 -out "$3" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	fi
	chmod 644 "$3"
}

ca() {	# NAME CN
	newkey "$dir/$1.key"
	openssl req -new -key "$dir/$1.key" -subj "/O=owm-standin tests/CN=$2" \
	    -out "$work/$1.csr" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	sign "$work/$1.csr" "$work/ca.ext" "$dir/$1.pem" "" "$dir/$1.key"
}

ca ca "owm-standin test CA"
ca other-ca "owm-standin unrelated test CA"
newkey "$dir/server.key"
openssl req -new -key "$dir/server.key" -subj "/O=owm-standin tests/CN=localhost" \
    -out "$work/server.csr" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
sign "$work/server.csr" "$work/server.ext" "$dir/server.pem" "$dir/ca.pem" "$dir/ca.key"

openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" > /dev/null
for f in ca.pem ca.key server.pem server.key other-ca.pem other-ca.key; do
	echo "$dir/$f"
done
