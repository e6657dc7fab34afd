#!/bin/sh
# mkcerts.sh DIR - a test CA, a server certificate for 127.0.0.1 and a
# client certificate, made with openssl, plus ca.b64/client.crt.b64/
# client.key.b64 for kubeconfig *-data fields. Used by the kube unit tests.
set -e
cd "$1"
gen() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -out ca.crt -days 2 -subj /CN=kplan-test-ca 2>/dev/null
gen server /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out server.crt -days 2 -extfile san.ext 2>/dev/null
gen client "/O=system:masters/CN=kplan-test"
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out client.crt -days 2 2>/dev/null
for f in ca.crt client.crt client.key; do base64 -w0 "$f" >"$f.b64"; done
