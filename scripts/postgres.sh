#!/bin/sh
# A throwaway PostgreSQL server for tests and demos.
#
#   scripts/postgres.sh start DIR   # prints postgres://ferry:PASSWORD@127.0.0.1:PORT/app?sslmode=disable
#   scripts/postgres.sh stop DIR
#
# start installs Debian's postgresql package when initdb is missing (as
# root, or through sudo), initializes DIR as an unprivileged user, starts
# the server on a free loopback port with its socket in DIR, and creates a
# role "ferry" with a random password and a database "app" it owns.
set -eu

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# bindir is where the server's programs are: Debian's versioned directory
# (newest first), else wherever initdb is on PATH.
bindir() {
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

# as runs a command as the server's user: the caller when unprivileged,
# else postgres (or nobody), since initdb refuses to run as root.
as() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	else
		runuser -u "$pguser" -- "$@"
	fi
}

bin=$(bindir)
if [ -z "$bin" ] && [ "$cmd" = start ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2
	bin=$(bindir)
fi
[ -n "$bin" ] || { echo "$0: initdb not found: install Debian's postgresql package" >&2; exit 1; }

pguser=postgres
id "$pguser" >/dev/null 2>&1 || pguser=nobody

case $cmd in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$(id -u)" -ne 0 ] || chown "$pguser" "$dir"
	password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	as "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-sync \
		--auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-h 127.0.0.1 -p $port -k $dir -c fsync=off" start >&2 ||
		{ cat "$dir/server.log" >&2; exit 1; }
	as "$bin/pg_isready" -h 127.0.0.1 -p "$port" -t 30 >/dev/null
	as "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
		-c "CREATE ROLE ferry LOGIN PASSWORD '$password'" \
		-c "CREATE DATABASE app OWNER ferry" >&2
	echo "postgres://ferry:$password@127.0.0.1:$port/app?sslmode=disable"
	;;
stop)
	[ -d "$dir/data" ] || exit 0
	as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	rm -rf "$dir"
	;;
*)
	usage
	;;
esac
