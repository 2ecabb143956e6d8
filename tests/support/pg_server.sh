#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own data directory, a free port on 127.0.0.1,
# a unix socket in that directory, trust authentication, fsync off. Never for real data.
#
#   pg_server.sh start DIR [OWNER_PID]  initdb into DIR/data, start, print the conninfo; with
#                                       OWNER_PID, a watcher stops the server and removes DIR when
#                                       that process ends (a test that crashed cannot leave it)
#   pg_server.sh stop DIR               stop at once (-m immediate) and remove DIR
#   pg_server.sh halt DIR               stop at once, keep DIR (the server "goes away")
#   pg_server.sh resume DIR             start a halted server again on the same port
#   pg_server.sh psql DIR [ARGS...]     the server's psql, connected, unaligned and quiet
#
# The server runs as an unprivileged user (initdb and postgres refuse root): the calling user
# when it is not root, otherwise `postgres` (or `nobody`) through runuser.
set -euo pipefail

die() { echo "pg_server.sh: $*" >&2; exit 1; }

find_bin() {
    if [ -n "${NF_PG_BIN:-}" ]; then
        [ -x "$NF_PG_BIN/initdb" ] || die "NF_PG_BIN=$NF_PG_BIN has no initdb"
        echo "$NF_PG_BIN"
        return
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && best=$d
    done
    [ -n "$best" ] || die "PostgreSQL server binaries not found (no initdb, pg_ctl and postgres" \
        "in /usr/lib/postgresql/*/bin): install the Debian package postgresql (or set NF_PG_BIN)"
    echo "$best"
}

run_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

pick_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    elif id nobody >/dev/null 2>&1; then
        echo nobody
    else
        die "running as root and there is neither a postgres nor a nobody user to run the server as"
    fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

conninfo() { echo "host=127.0.0.1 port=$(cat "$1/port") user=$(cat "$1/user") dbname=postgres"; }

start_on() { # DIR PORT: 0 when the server runs
    local dir=$1 port=$2
    echo "$port" >"$dir/port"
    local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir'"
    # fsync off: fast, and still nothing committed is lost when the server alone stops
    opts+=" -c fsync=off -c full_page_writes=off -c max_connections=40"
    run_as "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s -o "$opts" start >/dev/null
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg_server.sh start|stop|halt|resume|psql DIR [...]"

case "$cmd" in
start)
    BIN=$(find_bin)
    PG_USER=$(pick_user)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # the socket path must fit a sockaddr_un (107 bytes) with "/.s.PGSQL.NNNNN"
    [ ${#dir} -le 80 ] || die "$dir is too long for a unix socket path; use a shorter directory"
    echo "$PG_USER" >"$dir/user"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
    run_as "$BIN/initdb" -D "$dir/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb into $dir/data failed"; }
    started=0
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 40000))
        port_busy "$port" && continue
        if start_on "$dir" "$port" 2>>"$dir/pg_ctl.err"; then
            started=1
            break
        fi
    done
    [ $started -eq 1 ] ||
        { tail -20 "$dir/server.log" >&2 || true; die "the server in $dir did not start"; }
    if [ -n "${3:-}" ]; then
        owner=$3
        me=$(readlink -f "$0")
        setsid bash -c "while kill -0 $owner 2>/dev/null && [ -d '$dir' ]; do sleep 1; done; \
            [ -d '$dir' ] && '$me' stop '$dir'" </dev/null >/dev/null 2>&1 &
    fi
    conninfo "$dir"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        BIN=$(find_bin)
        PG_USER=$(cat "$dir/user")
        run_as "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -s stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
halt)
    BIN=$(find_bin)
    PG_USER=$(cat "$dir/user")
    run_as "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -s stop >/dev/null
    ;;
resume)
    BIN=$(find_bin)
    PG_USER=$(cat "$dir/user")
    start_on "$dir" "$(cat "$dir/port")" ||
        { tail -20 "$dir/server.log" >&2; die "the server in $dir did not start again"; }
    ;;
psql)
    BIN=$(find_bin)
    shift 2
    exec "$BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -d "$(conninfo "$dir")" "$@"
    ;;
*)
    die "unknown command $cmd (start, stop, halt, resume, psql)"
    ;;
esac
