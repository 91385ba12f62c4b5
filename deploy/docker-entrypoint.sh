#!/bin/sh
# Entrypoint of the syncd image: run the given command (the image gives `syncd run`) as the NAS
# user that owns the synced files, the way NAS images are configured, then exec it so that it
# gets the container's signals (SIGTERM: clean stop, SIGHUP: reload).
#
#   PUID, PGID   uid and gid to run as (default 1000): `id -u` / `id -g` of the files' owner
#   TZ           time zone for log times, e.g. Europe/Berlin (default UTC)
#   SYNCD_STATE_DIR  the state volume (default /state); the only thing chowned to PUID:PGID
#
# Everything else (SYNCD_CONFIG, SYNCD_KEY1_FILE, SYNCD_KEY2_FILE, ...) reaches syncd untouched.
# Started as root, it names PUID:PGID `syncd` in /etc/passwd and /etc/group when /etc is
# writable (a read-only container runs the numeric ids, which is all the kernel needs), owns the
# state directory to them and drops root with setpriv (util-linux, in every Debian image).
# Started as another user (`docker run --user`), it cannot switch and runs the command as is.
# SYNCD_ENTRYPOINT_ROOT (default /) moves the /etc it edits, for tests.
set -eu

me=docker-entrypoint
die() {
    printf '%s: error: %s\n' "$me" "$*" >&2
    exit 2
}
note() { printf '%s: %s\n' "$me" "$*" >&2; }

[ "$#" -gt 0 ] || die "no command given — the image runs 'syncd run' when none is"

PUID=${PUID:-1000}
PGID=${PGID:-1000}
case $PUID in '' | *[!0-9]*) die "PUID must be a number, got '$PUID' — set it to the uid of the user that owns the synced files (id -u)" ;; esac
case $PGID in '' | *[!0-9]*) die "PGID must be a number, got '$PGID' — set it to the gid of the group that owns the synced files (id -g)" ;; esac
state=${SYNCD_STATE_DIR:-/state}
etc=${SYNCD_ENTRYPOINT_ROOT:-/}
etc=${etc%/}/etc

# --- time zone: TZ is what glibc and Python read; /etc/localtime for tools that ignore TZ.
TZ=${TZ:-UTC}
case $TZ in
    /* | *..* | '') valid=no ;;
    *) if [ -f "/usr/share/zoneinfo/$TZ" ]; then valid=yes; else valid=no; fi ;;
esac
if [ "$valid" = no ]; then
    note "unknown time zone TZ='$TZ' — using UTC; set a name from /usr/share/zoneinfo such as Europe/Berlin"
    TZ=UTC
fi
export TZ

if [ "$(id -u)" -ne 0 ]; then
    if [ "$(id -u)" != "$PUID" ] || [ "$(id -g)" != "$PGID" ]; then
        note "started as uid $(id -u) gid $(id -g), not root: PUID/PGID cannot be applied, running as is"
    fi
    exec "$@"
fi

if [ -w "$etc" ] && [ -w "$etc/passwd" ] && [ -w "$etc/group" ]; then
    ln -sf "/usr/share/zoneinfo/$TZ" "$etc/localtime"
    printf '%s\n' "$TZ" >"$etc/timezone"

    # shadow's tools edit $etc/.. when given --prefix; it must come first.
    shadow() {
        tool=$1
        shift
        if [ "$etc" = /etc ]; then "$tool" "$@"; else "$tool" --prefix "${etc%/etc}" "$@"; fi
    }
    field() { awk -F: -v name="$2" '$1 == name { print $3; exit }' "$1"; }

    # -o: the ids may already be taken (PGID=100 is Debian's "users"); syncd still gets its name.
    gid_now=$(field "$etc/group" syncd)
    if [ -z "$gid_now" ]; then
        shadow groupadd -o -g "$PGID" syncd
    elif [ "$gid_now" != "$PGID" ]; then
        shadow groupmod -o -g "$PGID" syncd
    fi
    uid_now=$(field "$etc/passwd" syncd)
    if [ -z "$uid_now" ]; then
        shadow useradd -o -u "$PUID" -g "$PGID" -d "$state" -M -s /usr/sbin/nologin syncd
    else
        gid_user=$(awk -F: '$1 == "syncd" { print $4; exit }' "$etc/passwd")
        if [ "$uid_now" != "$PUID" ] || [ "$gid_user" != "$PGID" ]; then
            shadow usermod -o -u "$PUID" -g "$PGID" syncd
        fi
    fi
fi

# --- the state directory, and nothing else, belongs to PUID:PGID (the synced trees are the
# user's own files, mounted read-only; chowning them would be wrong and slow).
mkdir -p "$state"
find "$state" -xdev \( ! -user "$PUID" -o ! -group "$PGID" \) -exec chown -h "$PUID:$PGID" {} +
chmod 0700 "$state"
export HOME="$state"

if [ "$PUID" -eq 0 ]; then
    note "PUID=0: running as root; a user that can read the synced files is safer"
    exec "$@"
fi

# Secret files the dropped user cannot read would fail later with a vaguer message.
for var in SYNCD_KEY1_FILE SYNCD_KEY2_FILE SYNCD_USERNAME_FILE SYNCD_PASSWORD_FILE; do
    eval "file=\${$var:-}"
    # shellcheck disable=SC2154 # set by the eval above
    if [ -n "$file" ] && ! setpriv --reuid="$PUID" --regid="$PGID" --clear-groups test -r "$file"; then
        note "$var: $file is not readable by uid $PUID — chown it to PUID:PGID (chmod 600) on the host"
    fi
done

exec setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
