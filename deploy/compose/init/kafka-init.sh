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
# Safety: it refuses input it cannot read exactly (a missing file, an empty policy, CRLF, an unknown
# operation or resource name) before changing anything; it never removes a Deny (an operator's emergency block);
# and it revokes at most 2 users per run unless KAFKA_INIT_REVOKE_MANY=yes (an emptied accounts file
# must not lock every hospital out).
# Kafka 2.3 or later; with Kafka < 2.7 (ZooKeeper mode) set KAFKA_INIT_ZOOKEEPER: SCRAM users live there.
set -euo pipefail
set -f           # no file-name expansion: a * in the policy is a Kafka wildcard, never a glob
export LC_ALL=C  # sort and comm agree

BIN="${KAFKA_INIT_BIN:-/opt/kafka/bin}"
BOOTSTRAP="${KAFKA_INIT_BOOTSTRAP:-kafka-1:19092,kafka-2:19092,kafka-3:19092}"
ADMIN_CONFIG="${KAFKA_INIT_ADMIN_CONFIG:-/run/secrets/kafka-admin.properties}"
PASSWORDS="${KAFKA_INIT_PASSWORDS:-/run/secrets/kafka-users}"
ACCOUNTS="${KAFKA_INIT_ACCOUNTS:-/etc/hssk/kafka-accounts.txt}"
ACLS="${KAFKA_INIT_ACLS:-/etc/hssk/kafka-acls.txt}"
ZOOKEEPER="${KAFKA_INIT_ZOOKEEPER:-}"
REVOKE_MANY="${KAFKA_INIT_REVOKE_MANY:-no}"
ADMIN=(--bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG")
die() { echo "kafka-init: $*" >&2; exit 1; }
for file in "$ACLS" "$ACCOUNTS"; do
    [ -f "$file" ] && [ -r "$file" ] || die "$file is not a readable file (a missing bind mount becomes a directory)"
    ! grep -q $'\r' "$file" || die "$file has CRLF line endings: save it with LF only"
done
operations_known=" All Read Write Create Delete Alter Describe ClusterAction DescribeConfigs AlterConfigs IdempotentWrite "
name_pattern='^[A-Za-z0-9._{}-]+$'

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
    for op in ${operations//,/ }; do
        [[ "$operations_known" == *" $op "* ]] || die "kafka-acls.txt: '$op' is not a Kafka ACL operation (spelled as in:$operations_known)"
    done
    [ "$resource" = cluster ] || [[ "${resource#*:}" =~ $name_pattern ]] || die "kafka-acls.txt: '$resource': names may hold only letters, digits, . _ - and {placeholders}"
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
[ "${#services[@]}" -gt 0 ] || die "$ACLS grants no service anything: refusing to apply an empty policy"

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
trap 'exit 130' INT TERM
config_file_supported=false
configs_help="$("$BIN/kafka-configs.sh" --help 2>&1 || true)"
[[ "$configs_help" == *--add-config-file* ]] && config_file_supported=true
scram_user() {
    local name="$1" file="$PASSWORDS/$1.password" password output status=0
    [ -s "$file" ] || die "no password file $file for Kafka user $name"
    password="$(cat "$file")"
    # The tools print their arguments on some errors: their output is shown only with the password
    # blanked out.
    if $config_file_supported; then
        (umask 077; printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" > "$private/scram.properties")
        output="$("${CONFIGS[@]}" --alter --entity-type users --entity-name "$name" --add-config-file "$private/scram.properties" 2>&1)" || status=$?
        rm -f "$private/scram.properties"
    else
        output="$("${CONFIGS[@]}" --alter --entity-type users --entity-name "$name" \
            --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]" 2>&1)" || status=$?
    fi
    [ "$status" -eq 0 ] || die "could not set the SCRAM user $name: ${output//"$password"/<password>}"
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
        if (index(name, "|") > 0) { print "kafka-init: note: left alone, a name with |: " name > "/dev/stderr"; type = "" }
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
# What would go, first: a mistake that would revoke many users at once is refused before any change.
: > "$private/remove"
while IFS='|' read -r principal type pattern name op host perm; do
    user="${principal#User:}"
    if [ "$user" = '*' ]; then
        echo "kafka-init: warning: a grant to every user: $perm $op on $type $name ($pattern) — not in the policy, left alone" >&2
        continue
    fi
    managed "$user" || continue
    grep -qxF "$principal|$type|$pattern|$name|$op|$host|$perm" "$wanted" && continue
    if [ "$perm" = Deny ]; then
        echo "kafka-init: note: Deny $user $op on $type $name ($pattern) left in place (remove it by hand when it is no longer needed)"
        continue
    fi
    case "$type" in topic|group|cluster) ;; *) echo "kafka-init: note: $user's $op on $type $name left alone (hssk grants none)"; continue ;; esac
    echo "$principal|$type|$pattern|$name|$op|$host|$perm" >> "$private/remove"
done < "$private/present"
# SCRAM users that neither file lists any more. Kafka 2.x prints "Configs for user-principal 'NAME'
# are SCRAM-SHA-512=…", 3.x/4.x "SCRAM credential configs for user-principal 'NAME' are …"; users with
# only quotas are not SCRAM users.
users_described="$("${CONFIGS[@]}" --describe --entity-type users)"
retired="$({ grep 'SCRAM-SHA-512' <<< "$users_described" | grep -o "user-principal '[^']*'" || true; } |
    sed "s/^user-principal '//; s/'\$//" | sort -u | while read -r user; do
        managed "$user" || continue
        [ -n "${account_topics[$user]+listed}" ] && continue
        [[ " ${services[*]} " == *" $user "* ]] && continue
        echo "$user"
    done)"
# Users who keep no grant at all, or lose their credential, are being revoked.
revoked="$({ cut -d'|' -f1 "$private/remove" | sort -u | while read -r principal; do
    grep -q "^$principal|" "$wanted" || echo "${principal#User:}"; done; echo "$retired"; } | sed '/^$/d' | sort -u)"
if [ "$(grep -c . <<< "$revoked" || true)" -gt 2 ] && [ "$REVOKE_MANY" != yes ]; then
    die "this run would revoke $(grep -c . <<< "$revoked") users ($(tr '\n' ' ' <<< "$revoked")): refusing. Check $ACCOUNTS and $ACLS; if it is meant, run again with KAFKA_INIT_REVOKE_MANY=yes"
fi
while IFS='|' read -r principal type pattern name op host perm; do
    user="${principal#User:}"
    args=(--allow-principal "$principal" --allow-host "$host" --operation "$op")
    if [ "$type" = cluster ]; then args+=(--cluster); else args+=("--$type" "$name" --resource-pattern-type "$pattern"); fi
    "$BIN/kafka-acls.sh" "${ADMIN[@]}" --remove --force "${args[@]}" > /dev/null
    echo "kafka-init: removed $perm $user $op $type $name ($pattern)"
done < "$private/remove"

# --- SCRAM users of removed accounts -------------------------------------------------------------------
while read -r user; do
    [ -n "$user" ] || continue
    "${CONFIGS[@]}" --alter --entity-type users --entity-name "$user" --delete-config SCRAM-SHA-512 > /dev/null
    echo "kafka-init: removed SCRAM user $user (in neither $(basename "$ACCOUNTS") nor $(basename "$ACLS"))"
done <<< "$retired"

echo "kafka-init: done"
