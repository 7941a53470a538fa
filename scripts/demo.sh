#!/usr/bin/env bash
# The demo of README.md, offline: build a signed bundle from generated
# fixtures, verify and inspect it, install it on an appliance directory,
# apply an update bundle and a one-migration hotfix, check, roll back,
# report compliance evidence, then make a self-contained installer and
# install from it on a fresh root, split the bundle into parts for
# size-limited media, and finally run ferry serve with canary rollouts of a
# service under generated traffic.
# Usage: demo.sh WORKDIR
set -euo pipefail

work=${1:-out/demo}
ferry=$(pwd)/bin/ferry
rm -rf "$work"
mkdir -p "$work"
# Run as root, ferry runs services as an unprivileged account, which must
# be able to enter every directory above an appliance root (install
# refuses a root it cannot reach). A checkout under a private home is
# closed to it: the demo then works in a directory of its own under /tmp,
# and WORKDIR is a link to it.
if [[ $(id -u) == 0 ]]; then
	dir=$(cd "$work" && pwd)
	while [[ $dir != / ]]; do
		if [[ $(( 0$(stat -c %a "$dir") & 1 )) == 0 ]]; then
			real=$(mktemp -d /tmp/ferry-demo.XXXXXX)
			chmod 0755 "$real"
			rmdir "$work" && ln -s "$real" "$work"
			echo "$dir is closed to other users: the demo works in $real ($work links to it)"
			work=$real
			break
		fi
		dir=$(dirname "$dir")
	done
fi
export FERRY_PASSPHRASE=${FERRY_PASSPHRASE:-demo-passphrase}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1764028800}

# Each ferry command is printed before it runs, as it could be typed, so
# that a newcomer can copy it (to the demo's standard output, also from
# inside a pipeline). Headings are bold only on a terminal.
exec 3>&1
show() { printf '$%s\n' "$(printf ' %q' "$@")" >&3; }
ferry() { show ferry "$@"; "$ferry" "$@"; }
run() { show "$@"; "$@"; }
if [[ -t 1 ]]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi

step "generate a demo project (images, migrations, files, charts, services)"
go run ./fixtures/cmd/fixturegen project -out "$work/project" -name demo-app -version 1.0.0
cat "$work/project/ferry.yaml"

step "generate signing keys"
ferry keys generate --type ecdsa-p256 --out "$work/release"
ferry keys generate --type openpgp --out "$work/release-pgp" --name "Demo Release <release@demo.invalid>"

step "build the signed bundle"
ferry bundle create -f "$work/project/ferry.yaml" -o "$work/demo-app-1.0.0.ferry" \
	--key "$work/release.key" --key "$work/release-pgp.key"

step "inspect it"
ferry bundle inspect "$work/demo-app-1.0.0.ferry"

step "verify it with both keys (threshold 2)"
ferry verify "$work/demo-app-1.0.0.ferry" --key "$work/release.pub" --key "$work/release-pgp.pub" --threshold 2

step "a tampered copy is refused"
cp "$work/demo-app-1.0.0.ferry" "$work/tampered.ferry"
size=$(stat -c %s "$work/tampered.ferry")
printf "X" | dd of="$work/tampered.ferry" bs=1 seek=$((size * 6 / 10)) conv=notrunc status=none
set +e
ferry verify "$work/tampered.ferry" --key "$work/release.pub"
code=$?
set -e
if [ "$code" -eq 0 ]; then echo "demo: the tampered bundle was accepted" >&2; exit 1; fi
echo "refused with exit code $code, as expected"

root="$work/appliance"

step "plan the install on an empty appliance"
ferry plan "$work/demo-app-1.0.0.ferry" --root "$root" --key "$work/release.pub" --key "$work/release-pgp.pub"

step "install it (verified first; migrations into embedded SQLite; images into the offline registry's store)"
ferry install "$work/demo-app-1.0.0.ferry" --root "$root" --key "$work/release.pub" --key "$work/release-pgp.pub"
ferry status --root "$root"

step "an update carries only what changed, and applies only to its base"
go run ./fixtures/cmd/fixturegen project -out "$work/project-1.1.0" -name demo-app -version 1.1.0
ferry bundle create -f "$work/project-1.1.0/ferry.yaml" -o "$work/demo-app-1.1.0-update.ferry" \
	--key "$work/release.key" --base "$work/demo-app-1.0.0.ferry"
ls -l "$work"/*.ferry
ferry update apply "$work/demo-app-1.1.0-update.ferry" --root "$root"

step "a hotfix of one migration: the update is a few KiB, zstd-compressed whole"
cp -r "$work/project-1.1.0" "$work/project-1.1.1"
sed -i 's/^  version: 1.1.0$/  version: 1.1.1/' "$work/project-1.1.1/ferry.yaml"
printf 'CREATE INDEX users_display_name ON users (display_name);\n' > "$work/project-1.1.1/migrations/app/004_index_display_name.up.sql"
printf 'DROP INDEX users_display_name;\n' > "$work/project-1.1.1/migrations/app/004_index_display_name.down.sql"
ferry bundle create -f "$work/project-1.1.1/ferry.yaml" -o "$work/demo-app-1.1.1-hotfix.ferry" \
	--key "$work/release.key" --base "$work/demo-app-1.1.0-update.ferry"
ferry update plan "$work/demo-app-1.1.1-hotfix.ferry" --root "$root"
ferry update apply "$work/demo-app-1.1.1-hotfix.ferry" --root "$root"

step "check installed content against the signed manifests, and the audit chain"
ferry check --root "$root"
ferry audit --verify --root "$root" | tail -3

step "roll back to the kept release, then forward again"
ferry rollback --root "$root"
ferry update apply "$work/demo-app-1.1.1-hotfix.ferry" --root "$root"
ferry history --root "$root" | grep -v '^      '

step "rotate the release key: the next update is signed by a new key and carries the statement the old one signed"
ferry keys generate --type ed25519 --out "$work/release-2027"
ferry keys rotate --key "$work/release.key" --new "$work/release-2027.pub" --sequence 1 --out "$work/rotation-1.json"
cp -r "$work/project-1.1.1" "$work/project-1.2.0"
sed -i 's/^  version: 1.1.1$/  version: 1.2.0/' "$work/project-1.2.0/ferry.yaml"
ferry bundle create -f "$work/project-1.2.0/ferry.yaml" -o "$work/demo-app-1.2.0-update.ferry" \
	--key "$work/release-2027.key" --base "$work/demo-app-1.1.1-hotfix.ferry" --rotation "$work/rotation-1.json"
ferry verify "$work/demo-app-1.2.0-update.ferry" --key "$work/release.pub"
ferry update apply "$work/demo-app-1.2.0-update.ferry" --root "$root"
ferry trust list --root "$root"

step "compliance evidence (NIST SP 800-53 rev5) from what ferry recorded"
ferry compliance report --root "$root" --format markdown -o "$work/COMPLIANCE.md"
ferry compliance report --root "$root" --format oscal -o "$work/assessment-results.json"
sed -n '5p' "$work/COMPLIANCE.md"
# the controls not satisfied, by name (the report says why under each)
grep -E '^### .*: \*\*not satisfied\*\*$' "$work/COMPLIANCE.md" | sed -e 's/^### /not satisfied: /' -e 's/: \*\*not satisfied\*\*$//' || echo "every control is satisfied"
ferry bundle guide "$work/demo-app-1.0.0.ferry" -o "$work/AIRGAP_INSTALLATION.md"

step "a self-contained installer: ferry, the bundle and the release keys in one executable"
ferry installer build "$work/demo-app-1.0.0.ferry" -o "$work/demo-app-1.0.0-installer" \
	--key "$work/release.pub" --key "$work/release-pgp.pub" --sign-key "$work/release.key"
if command -v sha256sum >/dev/null; then (cd "$work" && sha256sum -c demo-app-1.0.0-installer.sha256); fi

step "on a fresh host the installer is the only file: verify, install, extract"
site="$work/site"
mkdir -p "$site"
cp "$work/demo-app-1.0.0-installer" "$site/"
(
	cd "$site"
	run ./demo-app-1.0.0-installer verify --threshold 2
	run ./demo-app-1.0.0-installer install --root appliance
	run ./demo-app-1.0.0-installer status --root appliance
	run ./demo-app-1.0.0-installer extract -o demo-app-1.0.0.ferry
)
cmp "$site/demo-app-1.0.0.ferry" "$work/demo-app-1.0.0.ferry"

step "split the bundle for media with a file size limit; verify from the first part; join it back"
mkdir -p "$work/media"
ferry bundle split "$work/demo-app-1.0.0.ferry" --size 128KiB --dir "$work/media"
ferry verify "$work/media/demo-app-1.0.0.ferry.part000" --key "$work/release.pub"
ferry bundle join "$work/media/demo-app-1.0.0.ferry.part000" -o "$work/media/demo-app-1.0.0.ferry"
cmp "$work/media/demo-app-1.0.0.ferry" "$work/demo-app-1.0.0.ferry" && echo "joined bundle is identical"

step "ferry serve: a service under generated traffic, a canary of a second version, and a bad third one rolled back"
# The demo service is the test service of the runtime tests; each version
# answers with its version, and 1.2.0 fails 5% of its requests.
served="$work/served"
mkdir -p "$served/bin"
go build -o "$served/bin/api" ./fixtures/cmd/testservice
go build -o "$work/loadgen" ./fixtures/cmd/loadgen
port=$((20000 + RANDOM % 20000))
for version in 1.0.0 1.1.0 1.2.0; do
	flags=""
	[ "$version" = 1.2.0 ] && flags=', --error-rate, "0.05"'
	mkdir -p "$served/$version/bin"
	cp "$served/bin/api" "$served/$version/bin/api"
	cat > "$served/$version/ferry.yaml" <<SPEC
apiVersion: ferry/v1
kind: Bundle
metadata: {name: demo-service, version: $version}
components:
  - name: api
    files:
      - {src: bin/api, dest: bin/api, mode: "0755"}
    services:
      - name: api
        command: [bin/api, --listen, "127.0.0.1:\${PORT}", --version, "$version"$flags]
        listen: 127.0.0.1:$port
        health: {http: /healthz, interval: 500ms}
        rollout:
          strategy: canary
          steps: [10, 50, 100]
          interval: 2s
          analysis: {errorRate: 1%, latencyP95: 200ms, minRequests: 30}
SPEC
done
for version in 1.0.0 1.1.0 1.2.0; do
	ferry bundle create -f "$served/$version/ferry.yaml" -o "$work/demo-service-$version.ferry" --key "$work/release.key"
done
sroot="$work/served-appliance"
ferry install "$work/demo-service-1.0.0.ferry" --root "$sroot" --key "$work/release.pub"
# (run directly, not through the function, so that $! is ferry serve)
show ferry serve --root "$sroot" --tick 250ms --metrics-addr "127.0.0.1:$((port + 1))"
"$ferry" serve --root "$sroot" --tick 250ms --metrics-addr "127.0.0.1:$((port + 1))" >"$work/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
	out=$("$ferry" rollout status api --root "$sroot" 2>/dev/null || true)
	grep -q ' healthy ' <<<"$out" && break
	sleep 0.25
done
"$work/loadgen" -url "http://127.0.0.1:$port/" -rate 150 >"$work/load.out" 2>&1 &
load_pid=$!
trap 'kill $load_pid $serve_pid 2>/dev/null || true' EXIT

# wait_phase PHASE: until the rollout of api reaches it (or 90 s pass).
# (Output is captured before it is searched: with pipefail, grep -q
# stopping early would fail the pipeline with ferry's SIGPIPE.)
wait_phase() {
	local out
	for _ in $(seq 1 360); do
		out=$("$ferry" rollout status api --root "$sroot" 2>/dev/null || true)
		if grep -q "): $1" <<<"$out"; then return 0; fi
		sleep 0.25
	done
	echo "demo: the rollout did not reach $1" >&2
	cat "$work/serve.log" >&2
	return 1
}
ferry rollout status api --root "$sroot"

echo "-- update to 1.1.0: canary 10% -> 50% -> 100%, each step analysed against the thresholds and 1.0.0"
ferry update apply "$work/demo-service-1.1.0.ferry" --root "$sroot"
sleep 3
ferry rollout status api --root "$sroot"
wait_phase succeeded
ferry rollout status api --root "$sroot"

echo "-- update to 1.2.0, which fails 5% of requests: the first analysis aborts it and rolls the release back"
ferry update apply "$work/demo-service-1.2.0.ferry" --root "$sroot"
wait_phase aborted
sleep 1
ferry rollout status api --root "$sroot"
ferry status --root "$sroot" | sed -n 1p
if command -v curl >/dev/null; then
	echo "-- Prometheus metrics of ferry serve:"
	curl -s "http://127.0.0.1:$((port + 1))/metrics" | grep -E '^ferry_(requests_total|responses_5xx_total)' || true
fi

kill -TERM "$load_pid"; wait "$load_pid" || true
kill -TERM "$serve_pid"; wait "$serve_pid" || true
trap - EXIT
echo "-- the traffic during both rollouts:"
cat "$work/load.out"
ferry audit --root "$sroot" | grep -E 'rollout\.(start|advance|succeed|abort)|release-rolled-back' | tail -8

step "done: bundles, installer, appliances and reports under $work"
