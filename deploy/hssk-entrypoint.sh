#!/bin/sh
# Entry point of the hssk image. libpq ignores a password file that its group or others may read (it
# must be mode 0600 or stricter), but Docker and Kubernetes mount secrets readable by a group or by
# everyone. When PGPASSFILE_SECRET names such a secret, copy it to a private file and point libpq at
# the copy; everything else goes to hssk unchanged.
set -eu
if [ -n "${PGPASSFILE_SECRET:-}" ]; then
    private="${TMPDIR:-/tmp}/hssk-pgpass.$$"
    (umask 077 && cat "$PGPASSFILE_SECRET" > "$private")
    PGPASSFILE="$private"
    export PGPASSFILE
fi
exec /usr/local/bin/hssk "$@"
