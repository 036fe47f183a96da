#!/usr/bin/env bash
# One-shot Kafka set-up for hssk, run by the kafka-init service of docker-compose.yml in the
# apache/kafka image (its CLI tools), as the mTLS super user kafka-admin. Idempotent: run it again after
# adding an account to kafka-accounts.txt.
#   1. a SCRAM-SHA-512 user for each hssk service and each interop account (password from its file);
#   2. ACLs: an interop account may only write to its own source topics; each service reads and writes
#      exactly what it needs (DESIGN §9). Topics themselves are created by `hssk topics apply`
#      (the topics-init service), from the catalogue.
set -euo pipefail

BIN=/opt/kafka/bin
BOOTSTRAP="${KAFKA_INIT_BOOTSTRAP:-kafka-1:19092,kafka-2:19092,kafka-3:19092}"
ADMIN_CONFIG="${KAFKA_INIT_ADMIN_CONFIG:-/run/secrets/kafka-admin.properties}"
PASSWORDS="${KAFKA_INIT_PASSWORDS:-/run/secrets/kafka-users}"
ACCOUNTS="${KAFKA_INIT_ACCOUNTS:-/etc/hssk/kafka-accounts.txt}"
ADMIN=(--bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG")

# The brokers take a while to elect a controller: wait (at most ~5 minutes) rather than fail.
for attempt in $(seq 1 60); do
    if "$BIN/kafka-broker-api-versions.sh" "${ADMIN[@]}" > /dev/null 2>&1; then break; fi
    if [ "$attempt" = 60 ]; then echo "kafka-init: the cluster at $BOOTSTRAP did not answer" >&2; exit 1; fi
    sleep 5
done

# SCRAM credentials are stored in the KRaft metadata; kafka-configs takes the password as an argument,
# so it is read from its file here and never written to the compose file or the log.
scram_user() {
    local name="$1" file="$PASSWORDS/$1.password"
    if [ ! -s "$file" ]; then echo "kafka-init: no password file $file for Kafka user $name" >&2; exit 1; fi
    "$BIN/kafka-configs.sh" "${ADMIN[@]}" --alter --entity-type users --entity-name "$name" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$(cat "$file")]" > /dev/null
    echo "kafka-init: SCRAM user $name"
}

# allow USER OPERATION... RESOURCE-ARGS: one ACL line per call, so the log reads as the policy.
allow() {
    local user="$1"; shift
    local operations=()
    while [ "$#" -gt 0 ] && [ "${1#--}" = "$1" ]; do operations+=(--operation "$1"); shift; done
    "$BIN/kafka-acls.sh" "${ADMIN[@]}" --add --force --allow-principal "User:$user" "${operations[@]}" "$@" > /dev/null
    echo "kafka-init: allow $user ${operations[*]} $*"
}

source_topic() {
    case "$1" in
        visits) echo hssk.visits.v1 ;;
        vaccinations) echo hssk.vaccinations.v1 ;;
        registry) echo hssk.registry.v1 ;;
        cards) echo hssk.insurance.cards.v1 ;;
        acks) echo hssk.insurance.acks.v1 ;;
        *) return 1 ;;
    esac
}

# --- hssk's own services -----------------------------------------------------------------------------
for user in hssk-admin hssk-ingest hssk-feed-publish hssk-feed-push hssk-insurance-sync; do scram_user "$user"; done

# Operators' account: topics apply/check (create, read configs), dlq list/show/replay (read the .dlq
# topics, write back to the source topics).
allow hssk-admin Create Describe DescribeConfigs AlterConfigs Read Write --topic hssk. --resource-pattern-type prefixed
allow hssk-admin Describe --cluster
allow hssk-admin IdempotentWrite --cluster

# Ingest: reads the four source topics in group hssk-ingest, writes their dead letters and reads them
# back (the dead-letter relay looks there for letters a stopped relay may have sent, so that none is
# sent twice; it reads by assignment, in no group).
for source in visits vaccinations registry cards; do
    topic="$(source_topic "$source")"
    allow hssk-ingest Read Describe --topic "$topic"
    allow hssk-ingest Read Write Describe --topic "$topic.dlq"
done
allow hssk-ingest Read Describe --group hssk-ingest
allow hssk-ingest IdempotentWrite --cluster

# Feed publisher: writes the citizen feed only.
allow hssk-feed-publish Write Describe --topic hssk.citizen-feed.v1
allow hssk-feed-publish IdempotentWrite --cluster

# Feed pusher: reads the feed in group hssk-feed-push, dead-letters refused documents.
allow hssk-feed-push Read Describe --topic hssk.citizen-feed.v1
allow hssk-feed-push Write Describe --topic hssk.citizen-feed.v1.dlq
allow hssk-feed-push Read Describe --group hssk-feed-push
allow hssk-feed-push IdempotentWrite --cluster

# Insurance sync: writes supplements, reads BHXH's acknowledgements, dead-letters bad ones.
allow hssk-insurance-sync Write Describe --topic hssk.insurance.supplements.v1
allow hssk-insurance-sync Read Describe --topic hssk.insurance.acks.v1
allow hssk-insurance-sync Read Write Describe --topic hssk.insurance.acks.v1.dlq
allow hssk-insurance-sync Read Describe --group hssk-insurance-sync
allow hssk-insurance-sync IdempotentWrite --cluster

# --- interop accounts (docs/operations/accounts.md) ----------------------------------------------------
facility_account='^([0-9A-Z]{5}|[0-9]{13})_lt_[a-z0-9]+$'
bhxh_account='^bhxh_lt_[a-z0-9]+$'
while read -r account sources; do
    case "$account" in ''|'#'*) continue ;; esac
    if [[ "$account" =~ $bhxh_account ]]; then
        # BHXH sends card changes and answers supplements; it reads the supplements in its own group.
        allowed="cards acks"
    elif [[ "$account" =~ $facility_account ]]; then
        allowed="visits vaccinations registry"
    else
        echo "kafka-init: '$account' is not an interop account name (<facility>_lt_<initials> or bhxh_lt_<initials>)" >&2
        exit 1
    fi
    scram_user "$account"
    for source in $sources; do
        if [[ " $allowed " != *" $source "* ]]; then
            echo "kafka-init: $account may not send $source (allowed: $allowed)" >&2
            exit 1
        fi
        allow "$account" Write Describe --topic "$(source_topic "$source")"
    done
    if [[ "$account" =~ $bhxh_account ]]; then
        allow "$account" Read Describe --topic hssk.insurance.supplements.v1
        allow "$account" Read Describe --group "$account" --resource-pattern-type prefixed
    fi
    allow "$account" IdempotentWrite --cluster
done < "$ACCOUNTS"

echo "kafka-init: done"
