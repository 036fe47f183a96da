#!/usr/bin/env bash
# Kafka set-up for hssk, run by the kafka-init service of docker-compose.yml in the apache/kafka image
# (its CLI tools), as the mutual-TLS super user kafka-admin. Run it again after any change to
# kafka-acls.txt or kafka-accounts.txt: it converges, it does not only add.
#   1. a SCRAM-SHA-512 user for each hssk service and each interop account (password from its file,
#      never on a command line where the Kafka tools allow it; see docs/deploy.md);
#   2. the ACLs of kafka-acls.txt, exactly: missing grants are added, and any other grant held by a
#      user named hssk-… or like an interop account (listed or not) is removed;
#   3. an interop account removed from kafka-accounts.txt, or a service (hssk-…) removed from
#      kafka-acls.txt, loses its SCRAM credential too.
# Topics themselves are created by `hssk topics apply` (the topics-init service), from the catalogue.
# Kafka 2.3 or later; with Kafka < 2.7 (ZooKeeper mode) set KAFKA_INIT_ZOOKEEPER: SCRAM users live there.
set -euo pipefail
export LC_ALL=C  # sort and comm agree

BIN="${KAFKA_INIT_BIN:-/opt/kafka/bin}"
BOOTSTRAP="${KAFKA_INIT_BOOTSTRAP:-kafka-1:19092,kafka-2:19092,kafka-3:19092}"
ADMIN_CONFIG="${KAFKA_INIT_ADMIN_CONFIG:-/run/secrets/kafka-admin.properties}"
PASSWORDS="${KAFKA_INIT_PASSWORDS:-/run/secrets/kafka-users}"
ACCOUNTS="${KAFKA_INIT_ACCOUNTS:-/etc/hssk/kafka-accounts.txt}"
ACLS="${KAFKA_INIT_ACLS:-/etc/hssk/kafka-acls.txt}"
ZOOKEEPER="${KAFKA_INIT_ZOOKEEPER:-}"
ADMIN=(--bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG")
die() { echo "kafka-init: $*" >&2; exit 1; }

# The brokers take a while to elect a controller: wait (at most ~5 minutes) rather than fail.
for attempt in $(seq 1 60); do
    if "$BIN/kafka-broker-api-versions.sh" "${ADMIN[@]}" > /dev/null 2>&1; then break; fi
    [ "$attempt" = 60 ] && die "the cluster at $BOOTSTRAP did not answer"
    sleep 5
done

# --- the accounts --------------------------------------------------------------------------------------
facility_account='^([0-9A-Z]{5}|[0-9]{13})_lt_[a-z0-9]+$'
bhxh_account='^bhxh_lt_[a-z0-9]+$'
is_interop() { [[ "$1" =~ $facility_account || "$1" =~ $bhxh_account ]]; }
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
declare -A account_topics=()
while read -r account sources; do
    case "$account" in ''|'#'*) continue ;; esac
    if [[ "$account" =~ $bhxh_account ]]; then allowed="cards acks"
    elif [[ "$account" =~ $facility_account ]]; then allowed="visits vaccinations registry"
    else die "'$account' is not an interop account name (<facility>_lt_<initials> or bhxh_lt_<initials>)"
    fi
    topics=""
    for source in $sources; do
        [[ " $allowed " == *" $source "* ]] || die "$account may not send $source (allowed: $allowed)"
        topics+=" $(source_topic "$source")"
    done
    account_topics[$account]="$topics"
done < "$ACCOUNTS"

# --- the policy, expanded ------------------------------------------------------------------------------
# grants: "USER|RESOURCE-TYPE|PATTERN-TYPE|NAME|Operation,Operation…", one per table line and account.
grants=()
services=()
grant() {  # USER OPERATIONS RESOURCE (placeholders already filled)
    local type pattern=literal name
    case "$3" in
        cluster) type=cluster name=kafka-cluster ;;
        topic:*) type=topic name="${3#topic:}" ;;
        topic-prefix:*) type=topic pattern=prefixed name="${3#topic-prefix:}" ;;
        group:*) type=group name="${3#group:}" ;;
        group-prefix:*) type=group pattern=prefixed name="${3#group-prefix:}" ;;
        *) die "kafka-acls.txt: unknown resource '$3'" ;;
    esac
    grants+=("$1|$type|$pattern|$name|$2")
}
while read -r user operations resource rest; do
    case "$user" in ''|'#'*) continue ;; esac
    [ -n "$resource" ] && [ -z "$rest" ] || die "kafka-acls.txt: '$user $operations $resource $rest' is not USER OPERATIONS RESOURCE"
    case "$user" in
        @account|@facility|@bhxh)
            for account in "${!account_topics[@]}"; do
                [ "$user" = @facility ] && [[ ! "$account" =~ $facility_account ]] && continue
                [ "$user" = @bhxh ] && [[ ! "$account" =~ $bhxh_account ]] && continue
                named="${resource//\{account\}/$account}"
                if [[ "$named" == *"{source-topic}"* ]]; then
                    for topic in ${account_topics[$account]}; do grant "$account" "$operations" "${named//\{source-topic\}/$topic}"; done
                else
                    grant "$account" "$operations" "$named"
                fi
            done ;;
        @*) die "kafka-acls.txt: unknown account class '$user' (@account, @facility, @bhxh)" ;;
        *)
            is_interop "$user" && die "kafka-acls.txt: '$user' is an interop account: list it in kafka-accounts.txt"
            [[ " ${services[*]} " == *" $user "* ]] || services+=("$user")
            grant "$user" "$operations" "$resource" ;;
    esac
done < "$ACLS"

# --- SCRAM users ---------------------------------------------------------------------------------------
if [ -n "$ZOOKEEPER" ]; then
    CONFIGS=("$BIN/kafka-configs.sh" --zookeeper "$ZOOKEEPER")
else
    CONFIGS=("$BIN/kafka-configs.sh" "${ADMIN[@]}")
fi
# Kafka's tools that take --add-config-file read the password from a private file; older ones only
# from the command line (visible to `ps` inside this container for the moment the call lasts).
private="$(mktemp -d)"; chmod 0700 "$private"
trap 'rm -rf "$private"' EXIT
config_file_supported=false
configs_help="$("$BIN/kafka-configs.sh" --help 2>&1 || true)"
[[ "$configs_help" == *--add-config-file* ]] && config_file_supported=true
scram_user() {
    local name="$1" file="$PASSWORDS/$1.password"
    [ -s "$file" ] || die "no password file $file for Kafka user $name"
    if $config_file_supported; then
        (umask 077; printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$(cat "$file")" > "$private/scram.properties")
        "${CONFIGS[@]}" --alter --entity-type users --entity-name "$name" --add-config-file "$private/scram.properties" > /dev/null
        rm -f "$private/scram.properties"
    else
        "${CONFIGS[@]}" --alter --entity-type users --entity-name "$name" \
            --add-config "SCRAM-SHA-512=[iterations=8192,password=$(cat "$file")]" > /dev/null
    fi
    echo "kafka-init: SCRAM user $name"
}
for user in "${services[@]}" "${!account_topics[@]}"; do scram_user "$user"; done

# --- ACLs: what is wanted, what the cluster has -------------------------------------------------------
# Each desired (user, resource, operation), one per line, to compare with what the cluster lists.
wanted="$private/wanted"
for entry in "${grants[@]}"; do
    IFS='|' read -r user type pattern name operations <<< "$entry"
    for op in ${operations//,/ }; do echo "User:$user|$type|$pattern|$name|$op|*|Allow"; done
done | sort -u > "$wanted"
# `kafka-acls.sh --list` prints, per resource, one line per ACL. Kafka 2.x and 3.x/4.x word them
# differently; both become USER|type|pattern|name|Operation|host|Allow-or-Deny.
"$BIN/kafka-acls.sh" "${ADMIN[@]}" --list | awk '
    function camel(s,   parts, n, i, out) {
        n = split(tolower(s), parts, "_"); out = ""
        for (i = 1; i <= n; i++) out = out toupper(substr(parts[i], 1, 1)) substr(parts[i], 2)
        return out
    }
    /^Current ACLs for resource/ {
        if (match($0, /resourceType=[A-Z_]+, name=.*, patternType=[A-Z]+/)) {
            s = substr($0, RSTART, RLENGTH)
            type = s; sub(/^resourceType=/, "", type); sub(/,.*/, "", type)
            pattern = s; sub(/.*patternType=/, "", pattern)
            name = s; sub(/^resourceType=[A-Z_]+, name=/, "", name); sub(/, patternType=[A-Z]+$/, "", name)
        } else if (match($0, /`[A-Za-z]+:[A-Z]+:.*`/)) {
            s = substr($0, RSTART + 1, RLENGTH - 2)
            type = s; sub(/:.*/, "", type)
            rest = substr(s, length(type) + 2); pattern = rest; sub(/:.*/, "", pattern)
            name = substr(rest, length(pattern) + 2)
        } else { type = "" }
        type = tolower(type); pattern = tolower(pattern)
        next
    }
    type != "" && /principal=/ {
        line = $0
        principal = line; sub(/.*principal=/, "", principal); sub(/,.*/, "", principal)
        host = line; sub(/.*host=/, "", host); sub(/,.*/, "", host)
        op = line; sub(/.*operation=/, "", op); sub(/,.*/, "", op)
        perm = line; sub(/.*permissionType=/, "", perm); sub(/\).*/, "", perm)
        print principal "|" type "|" pattern "|" name "|" camel(op) "|" host "|" camel(perm)
        next
    }
    type != "" && / has (Allow|Deny) permission for operations: / {
        line = $0; sub(/^[ \t]+/, "", line)
        principal = line; sub(/ has .*/, "", principal)
        perm = line; sub(/.* has /, "", perm); sub(/ .*/, "", perm)
        op = line; sub(/.*operations: /, "", op); sub(/ from hosts: .*/, "", op)
        host = line; sub(/.*from hosts: /, "", host); sub(/[ \t]+$/, "", host)
        print principal "|" type "|" pattern "|" name "|" op "|" host "|" perm
    }
' | sort -u > "$private/present"
# --- ACLs: add what is missing -------------------------------------------------------------------------
# Each Kafka tool call grants every user × resource × operation it names, and costs a JVM start: the
# missing grants are merged into as few calls as that allows (same operations, same users).
declare -A ops_of=() users_of=() names_of=()
targets=() keys=() calls=()
while IFS='|' read -r principal type pattern name op host perm; do
    target="$type|$pattern|$name|${principal#User:}"
    [ -n "${ops_of[$target]+set}" ] || targets+=("$target")
    ops_of[$target]+="${ops_of[$target]:+,}$op"
done < <(comm -23 "$wanted" "$private/present")
for target in "${targets[@]}"; do
    IFS='|' read -r type pattern name user <<< "$target"
    key="$type|$pattern|${ops_of[$target]}|$name"
    [ -n "${users_of[$key]+set}" ] || keys+=("$key")
    users_of[$key]+=" $user"
done
for key in "${keys[@]}"; do
    IFS='|' read -r type pattern operations name <<< "$key"
    call="$type|$pattern|$operations|${users_of[$key]}"
    [ -n "${names_of[$call]+set}" ] || calls+=("$call")
    names_of[$call]+=" $name"
done
for call in "${calls[@]}"; do
    IFS='|' read -r type pattern operations users <<< "$call"
    args=()
    for user in $users; do args+=(--allow-principal "User:$user"); done
    for op in ${operations//,/ }; do args+=(--operation "$op"); done
    if [ "$type" = cluster ]; then args+=(--cluster)
    else for name in ${names_of[$call]}; do args+=("--$type" "$name"); done; args+=(--resource-pattern-type "$pattern"); fi
    "$BIN/kafka-acls.sh" "${ADMIN[@]}" --add --force "${args[@]}" > /dev/null
    echo "kafka-init: allow$users: $operations on $type${names_of[$call]} ($pattern)"
done

# --- ACLs: remove every other grant of a user this policy manages -----------------------------------
# The names hssk owns: its services' users (hssk-…, also one no longer in the table) and anything
# named like an interop account.
managed() { [[ "$1" == hssk-* ]] || is_interop "$1"; }
while IFS='|' read -r principal type pattern name op host perm; do
    user="${principal#User:}"
    managed "$user" || continue
    grep -qxF "$principal|$type|$pattern|$name|$op|$host|$perm" "$wanted" && continue
    args=(--allow-principal "$principal" --allow-host "$host")
    [ "$perm" = Deny ] && args=(--deny-principal "$principal" --deny-host "$host")
    args+=(--operation "$op")
    if [ "$type" = cluster ]; then args+=(--cluster); else args+=("--$type" "$name" --resource-pattern-type "$pattern"); fi
    "$BIN/kafka-acls.sh" "${ADMIN[@]}" --remove --force "${args[@]}" > /dev/null
    echo "kafka-init: removed $perm $user $op $type $name ($pattern)"
done < "$private/present"

# --- SCRAM users of removed accounts -------------------------------------------------------------------
# Kafka 2.x prints "Configs for user-principal 'NAME' are …", 3.x/4.x "SCRAM credential configs for
# user-principal 'NAME' are …".
users_described="$("${CONFIGS[@]}" --describe --entity-type users)"
{ grep -o "user-principal '[^']*'" <<< "$users_described" || true; } | sed "s/^user-principal '//; s/'\$//" | sort -u |
while read -r user; do
    managed "$user" || continue
    [ -n "${account_topics[$user]+listed}" ] && continue
    [[ " ${services[*]} " == *" $user "* ]] && continue
    "${CONFIGS[@]}" --alter --entity-type users --entity-name "$user" --delete-config SCRAM-SHA-512 > /dev/null
    echo "kafka-init: removed SCRAM user $user (in neither $(basename "$ACCOUNTS") nor $(basename "$ACLS"))"
done

echo "kafka-init: done"
