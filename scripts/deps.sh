#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when missing:
# gnupg (gpg interoperability), skopeo (reads extracted OCI layouts),
# zstd and time (the plain pipeline and measurements in benchmarks),
# docker-registry (a real registry for --push-to), libxml2-utils (xmllint
# validates STIG checklists against DISA's schema), postgresql (migration
# tests start a throwaway server of their own), haproxy (the reference
# proxy the router benchmark measures ferry's router against), sqlite3
# (the fixtures' migrations are checked with SQLite's own shell), openssl
# (installer and install-guide signatures checked with the standard tool),
# jq (the install guide lists entries with it), iproute2 (the sites tests
# build their network of namespaces with ip). Under CI=true
# (CI, make test) a test that finds one of these missing fails instead of
# skipping (internal/testenv), so every tool a test uses belongs here.
set -euo pipefail

missing=()
command -v gpg >/dev/null || missing+=(gnupg)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v zstd >/dev/null || missing+=(zstd)
[ -x /usr/bin/time ] || missing+=(time)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v openssl >/dev/null || missing+=(openssl)
command -v jq >/dev/null || missing+=(jq)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then sudo="sudo"; else
		echo "deps: need ${missing[*]} and cannot install them as a non-root user without sudo" >&2
		exit 1
	fi
fi
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
