#!/usr/bin/env bash
# Writes every secret docker-compose.yml mounts into deploy/compose/secrets/ (git-ignored), with
# OpenSSL only: a private CA, one TLS key pair per broker and for the kafka-admin super user (PKCS#12
# keystores), random passwords for the keystores, PostgreSQL and each Kafka user, the hssk store keys,
# hssk's own signing key and the citizen-app credentials (placeholders to replace).
# Existing files are kept, so running it again only adds what is missing (e.g. a new account in
# kafka-accounts.txt). Usage: deploy/compose/scripts/generate-secrets.sh [SECRETS_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/secrets}"
days=825
umask 077
# The directory is private to its owner; the files in it are 0644 so that the containers' own users
# (uid 1000 in apache/kafka, 999 in postgres, 10001 in hssk) can read the bind-mounted copies.
mkdir -p "$out/kafka-users"
chmod 0700 "$out"

random_password() { openssl rand -base64 33 | tr -d '/+=\n' | cut -c1-32; }
new_file() { [ ! -e "$1" ]; }
publish() { chmod 0644 "$1"; }

# --- TLS: CA, brokers, admin client -------------------------------------------------------------------
if new_file "$out/kafka-ca.key"; then
    openssl req -x509 -newkey rsa:4096 -sha256 -nodes -days 3650 -subj "/O=hssk/CN=hssk Kafka CA" \
        -keyout "$out/kafka-ca.key" -out "$out/kafka-ca.crt"
fi
publish "$out/kafka-ca.crt"

# issue NAME SUBJECT_ALT_NAMES: key + certificate signed by the CA, packed as NAME.keystore.p12 with a
# random password in NAME.keystore.password (the apache/kafka image reads both from /etc/kafka/secrets).
issue() {
    local name="$1" san="$2"
    new_file "$out/$name.keystore.p12" || return 0
    random_password > "$out/$name.keystore.password"
    openssl req -newkey rsa:3072 -sha256 -nodes -subj "/O=hssk/CN=$name" -keyout "$out/$name.key" -out "$out/$name.csr"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$out/$name.ext"
    openssl x509 -req -in "$out/$name.csr" -CA "$out/kafka-ca.crt" -CAkey "$out/kafka-ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$out/$name.ext" -out "$out/$name.crt"
    openssl pkcs12 -export -name "$name" -inkey "$out/$name.key" -in "$out/$name.crt" -certfile "$out/kafka-ca.crt" \
        -out "$out/$name.keystore.p12" -passout "file:$out/$name.keystore.password"
    rm -f "$out/$name.csr" "$out/$name.ext" "$out/$name.key"
    publish "$out/$name.keystore.p12"; publish "$out/$name.keystore.password"
}
for broker in kafka-1 kafka-2 kafka-3; do
    issue "$broker" "DNS:$broker,DNS:localhost"
    mkdir -p "$out/$broker"
    # The image looks for its keystore, password files and CA under one folder: give each broker its own.
    cp -f "$out/$broker.keystore.p12" "$out/$broker.keystore.password" "$out/kafka-ca.crt" "$out/$broker/"
    chmod 0755 "$out/$broker"; chmod 0644 "$out/$broker/"*
done
issue kafka-admin "DNS:kafka-admin"
if new_file "$out/kafka-admin.properties"; then
    cat > "$out/kafka-admin.properties" <<PROPERTIES
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=/run/secrets/kafka-admin.keystore.p12
ssl.keystore.password=$(cat "$out/kafka-admin.keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=/run/secrets/kafka-ca.crt
PROPERTIES
fi
publish "$out/kafka-admin.properties"

# --- passwords --------------------------------------------------------------------------------------
if new_file "$out/postgres-password"; then random_password > "$out/postgres-password"; fi
# libpq's password file: host:port:database:user:password (the entry point copies it to mode 0600).
if new_file "$out/hssk-pgpass"; then printf '*:*:hssk:hssk:%s\n' "$(cat "$out/postgres-password")" > "$out/hssk-pgpass"; fi
users="hssk-admin hssk-ingest hssk-feed-publish hssk-feed-push hssk-insurance-sync"
users="$users $(grep -Ev '^[[:space:]]*(#|$)' "$here/kafka-accounts.txt" | awk '{print $1}')"
for user in $users; do
    if new_file "$out/kafka-users/$user.password"; then random_password > "$out/kafka-users/$user.password"; fi
done
publish "$out/postgres-password"; publish "$out/hssk-pgpass"; chmod 0755 "$out/kafka-users"; chmod 0644 "$out/kafka-users/"*

# --- hssk keys ----------------------------------------------------------------------------------------
# Store keys (AES-256-GCM + blind-index HMAC): the JSON `hssk keys generate` writes. Back this file up
# apart from the data backups: without it no backup can be read.
if new_file "$out/hssk-store-keys.json"; then
    if command -v hssk > /dev/null; then
        hssk keys generate --out "$out/hssk-store-keys.json"
    else
        docker run --rm hssk:latest keys generate > "$out/hssk-store-keys.json"
    fi
fi
# hssk's own signing key for supplements to BHXH (32 random bytes, hex, as `hssk accounts add` makes).
if new_file "$out/hssk-signing.key"; then openssl rand -hex 32 > "$out/hssk-signing.key"; fi
# The citizen app's bearer token and shared HMAC key come from the app's operator: replace these.
if new_file "$out/citizen-app-token"; then echo "REPLACE-WITH-THE-CITIZEN-APP-TOKEN" > "$out/citizen-app-token"; fi
if new_file "$out/citizen-app-hmac.key"; then openssl rand -hex 32 > "$out/citizen-app-hmac.key"; fi
publish "$out/hssk-store-keys.json"; publish "$out/hssk-signing.key"; publish "$out/citizen-app-token"; publish "$out/citizen-app-hmac.key"

echo "secrets in $out (directory mode 0700); keep a copy of hssk-store-keys.json and kafka-ca.key offline"
