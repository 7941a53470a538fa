#!/usr/bin/env bash
# make bench: ferry against the plain-tool pipeline, measured in the same
# run on the same corpus, printed as ratios. Usage: bench.sh WORKDIR [SIZE]
#
#   create:  ferry bundle create
#            vs  tar -c | zstd -T0 -3, sha256sum of every input, gpg --detach-sign of the sums
#            on the corpus, and again on one of the same size whose bulk (65 %)
#            is one large file (fixturegen corpus -large-file)
#   verify:  ferry verify
#            vs  gpg --verify of the sums, zstd -t of the archive, sha256sum -c of the inputs
#   install: ferry install into a fresh root
#            vs  gpg --verify of the sums, zstd -dc | tar -x into a fresh directory,
#                sha256sum -c there, sync(1) of every extracted file and directory
#   images:  ferry bundle create of 6 images (corpus/4 in all, at most
#            512 MiB; two base layers shared by all) from go-containerregistry's
#            registry on loopback (scripts/imagebench)
#            vs  skopeo copy docker://... oci:... of each image into one
#                layout, then sync(1); again with 20 ms added to every request
#   pull:    every blob of one image (min(500 MiB, corpus/2), 8 layers) from
#            ferry registry serve over an installed root
#            vs  the same blob files from net/http's FileServer
#            (scripts/pullbench), fetched over loopback by the same client,
#            4 connections, bytes discarded
#   router:  ferry serve's router in front of a backend on loopback
#            vs  the same backend reached directly, vs HAProxy and vs a
#            TCP relay that parses nothing in the router's place (the
#            floor of any proxy there) (scripts/routerbench; router, backend and
#            HAProxy are processes of their own, the load generator pinned
#            to half the CPUs, they to the other half): throughput with a
#            trivial backend and with ones doing 100 µs, 300 µs and 1 ms
#            of CPU work per request (and the least of these at which the
#            router keeps 0.8× direct), CPU per request, memory per idle kept-alive
#            client connection, added p99 latency (median of 5
#            rounds), abort-to-stable and blue-green switch times with
#            failed requests counted
#   delta:   update bundles (scripts/deltabench) against full bundles of the
#            same releases: one changed layer of ten, a large binary changed
#            in place, one new migration and one changed file, 16 of 64
#            files changed in place; applying each against installing the
#            changed content alone; and the delta builds of the binary and
#            of the 16 files against zstd -3 and -12 --patch-from; and one
#            small changed file of a 512 MiB release, whose apply must stay
#            within 1 s of installing that file alone
#            (DELTA_SCALE=ci: an 8 MiB binary, 4 MiB layers, 512 KiB files,
#            a 16 MiB release; DELTA_SCALE=large adds a 4 GiB release)
#
# Both sides end with their outputs on disk (ferry fsyncs its bundle and
# every installed file; the pipeline's outputs are synced with sync(1)) and
# run with a warm page cache.
# The targets (create at least 2x as fast as the pipeline on both corpora
# with at most 128 MiB peak RSS, images fetched at least 1.5x as fast as
# skopeo copy, install within 1.1x of the pipeline and at most 128 MiB
# peak RSS, pull at least 0.8x a static server, verify and install memory
# growing by less than 4 MiB from the corpus, or 128 MiB when it is
# smaller, to one four times as large)
# are judged on the lines under "targets", "ok" or "MISSED", as routerbench
# and deltabench judge theirs; this script fails only if a step fails.
set -euo pipefail

work=${1:-out/bench}
size=${2:-1GiB}
ferry=$(pwd)/bin/ferry
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
export FERRY_PASSPHRASE=bench
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	gpgconf --kill gpg-agent 2>/dev/null || true
}
trap cleanup EXIT

echo "bench: generating a $size corpus" >&2
go run ./fixtures/cmd/fixturegen corpus -out "$work/corpus" -size "$size"
corpus_bytes=$(du -sb "$work/corpus" | cut -f1)

"$ferry" keys generate --type ecdsa-p256 --out "$work/release" >/dev/null
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bench <bench@example.invalid>' ed25519 sign never 2>/dev/null

# warm the page cache for both sides alike
find "$work/corpus" -type f -exec cat {} + >/dev/null

# measure NAME CMD...: runs CMD $repeat times; the median wall seconds and
# the largest peak RSS (KiB) go into $NAME_s and $NAME_kb. With prep=SCRIPT
# set, bash runs SCRIPT before each run, outside the timing.
repeat=${REPEAT:-3}
measure() {
	local name=$1; shift
	local i
	: >"$work/times.$name"
	for ((i = 0; i < repeat; i++)); do
		if [[ -n ${prep:-} ]]; then bash -c "$prep"; fi
		/usr/bin/time -o "$work/time.$name" -f '%e %M' "$@" >"$work/log.$name" 2>&1 ||
			{ echo "bench: $name failed:" >&2; cat "$work/log.$name" >&2; exit 1; }
		tail -1 "$work/time.$name" >>"$work/times.$name"
	done
	printf -v "${name}_s" '%s' "$(cut -d' ' -f1 "$work/times.$name" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
	printf -v "${name}_kb" '%s' "$(cut -d' ' -f2 "$work/times.$name" | sort -n | tail -1)"
}

# pipe_create DIR PREFIX: the pipeline's create of the corpus at DIR, into
# PREFIX.tar.zst, PREFIX.SHA256SUMS and PREFIX.SHA256SUMS.sig.
pipe_create() {
	printf '%s' "
	cd '$1'
	tar -cf - . | zstd -T0 -3 -q -f -o '$2.tar.zst'
	find . -type f -print0 | sort -z | xargs -0 sha256sum > '$2.SHA256SUMS'
	gpg --batch --yes --detach-sign -o '$2.SHA256SUMS.sig' '$2.SHA256SUMS'
	sync '$2.tar.zst' '$2.SHA256SUMS' '$2.SHA256SUMS.sig'"
}
measure ferry_create "$ferry" bundle create -f "$work/corpus/ferry.yaml" -o "$work/bench.ferry" --key "$work/release.key"
measure pipe_create bash -c "$(pipe_create "$work/corpus" "$work/pipe")"
mv "$work/pipe.SHA256SUMS" "$work/SHA256SUMS"
mv "$work/pipe.SHA256SUMS.sig" "$work/SHA256SUMS.sig"

# create again on a corpus of the same size whose bulk (65 %) is one large
# file: a builder that compresses one file per core leaves cores idle.
echo "bench: generating a $size corpus dominated by one large file" >&2
go run ./fixtures/cmd/fixturegen corpus -large-file -out "$work/large" -size "$size"
find "$work/large" -type f -exec cat {} + >/dev/null
measure ferry_create_large "$ferry" bundle create -f "$work/large/ferry.yaml" -o "$work/large.ferry" --key "$work/release.key"
measure pipe_create_large bash -c "$(pipe_create "$work/large" "$work/large-pipe")"
large_ferry_size=$(stat -c %s "$work/large.ferry")
large_pipe_size=$(( $(stat -c %s "$work/large-pipe.tar.zst") + $(stat -c %s "$work/large-pipe.SHA256SUMS") + $(stat -c %s "$work/large-pipe.SHA256SUMS.sig") ))
rm -rf "$work/large" "$work/large.ferry" "$work/large-pipe".*

measure ferry_verify "$ferry" verify "$work/bench.ferry" --key "$work/release.pub"
measure ferry_deep "$ferry" verify --deep "$work/bench.ferry" --key "$work/release.pub"
measure pipe_verify bash -c "
	gpg --batch --verify '$work/SHA256SUMS.sig' '$work/SHA256SUMS'
	zstd -t -q '$work/pipe.tar.zst'
	cd '$work/corpus' && sha256sum -c --quiet '$work/SHA256SUMS'"

# install: both sides start from nothing (and a clean page cache: nothing
# dirty left to write back) and end durable.
prep="rm -rf '$work/root' && sync" measure ferry_install "$ferry" install "$work/bench.ferry" --root "$work/root" --key "$work/release.pub"
prep="rm -rf '$work/extract' && sync" measure pipe_install bash -c "
	gpg --batch --verify '$work/SHA256SUMS.sig' '$work/SHA256SUMS'
	mkdir '$work/extract'
	zstd -dc -q '$work/pipe.tar.zst' | tar -xf - -C '$work/extract'
	cd '$work/extract' && sha256sum -c --quiet '$work/SHA256SUMS'
	find . -exec sync {} +"
rm -rf "$work/root" "$work/extract"

# memory: verify and install hold fixed memory whatever the bundle size
# (docs/SECURITY.md); measured on a corpus four times as large (4 GiB beside
# the default 1 GiB), once each. Below 128 MiB a corpus has fewer and
# smaller files than a large one, which changes what install holds (32 MiB
# to 128 MiB: +8 MiB; 128 MiB to 512 MiB: +0.8 MiB), so a small run
# compares 128 MiB with 512 MiB instead of its own corpus.
echo "bench: verify and install at 4x the corpus, for memory" >&2
mem_floor=$(( 128 * 1024 * 1024 ))
# install's peak RSS varies by up to 9 MiB between runs of one bundle (51
# and 60 MiB at 128 MiB): at the floor, the largest of 3 runs each side.
repeat_saved=$repeat repeat=1
(( corpus_bytes >= mem_floor )) || repeat=3
# memory_bundle NAME BYTES: a bundle of a corpus of BYTES at $work/NAME.ferry,
# the peak RSS of its create (KiB) in $create_NAME_kb
memory_bundle() {
	go run ./fixtures/cmd/fixturegen corpus -out "$work/corpus.$1" -size "$2"
	/usr/bin/time -o "$work/time.create.$1" -f '%M' \
		"$ferry" bundle create -f "$work/corpus.$1/ferry.yaml" -o "$work/$1.ferry" --key "$work/release.key" >"$work/log.create.$1" 2>&1 ||
		{ echo "bench: bundle create of the $1 corpus failed:" >&2; cat "$work/log.create.$1" >&2; exit 1; }
	printf -v "create_${1}_kb" '%s' "$(tail -1 "$work/time.create.$1")"
	rm -rf "$work/corpus.$1"
}
if (( corpus_bytes >= mem_floor )); then
	mem_base=$corpus_bytes mem1_bundle="$work/bench.ferry"
	ferry_verify1_kb=$ferry_verify_kb ferry_install1_kb=$ferry_install_kb create_bench1_kb=$ferry_create_kb
else
	mem_base=$mem_floor mem1_bundle="$work/bench1.ferry"
	memory_bundle bench1 "$mem_base"
	measure ferry_verify1 "$ferry" verify "$mem1_bundle" --key "$work/release.pub"
	prep="rm -rf '$work/root1' && sync" measure ferry_install1 "$ferry" install "$mem1_bundle" --root "$work/root1" --key "$work/release.pub"
	rm -rf "$work/root1"
fi
memory_bundle bench4 $(( mem_base * 4 ))
measure ferry_verify4 "$ferry" verify "$work/bench4.ferry" --key "$work/release.pub"
prep="rm -rf '$work/root4' && sync" measure ferry_install4 "$ferry" install "$work/bench4.ferry" --root "$work/root4" --key "$work/release.pub"
rm -rf "$work/root4"
mem1_bundle_bytes=$(stat -c %s "$mem1_bundle")
big_bundle_bytes=$(stat -c %s "$work/bench4.ferry")
repeat=$repeat_saved
rm -rf "$work/root4" "$work/bench4.ferry"

# pull: one image of min(500 MiB, corpus/2), bundled and installed into its
# own root, served by ferry and by a static file server over the same store.
echo "bench: registry pull" >&2
pull_image=$(( corpus_bytes / 2 < 500 * 1024 * 1024 ? corpus_bytes / 2 : 500 * 1024 * 1024 ))
# a pull takes a fraction of a second and varies run to run: enough runs to
# move about 4 GiB per side (5 to 50), alternating between the servers
pull_runs=$(( (4096 * 1024 * 1024 + pull_image - 1) / pull_image ))
pull_runs=$(( pull_runs > 50 ? 50 : pull_runs < 5 ? 5 : pull_runs ))
pull_runs=$(( pull_runs < repeat ? repeat : pull_runs ))
go build -o "$work/pullbench" ./scripts/pullbench
"$work/pullbench" image -out "$work/pull" -size "$pull_image" -layers 8
"$ferry" bundle create -f "$work/pull/ferry.yaml" -o "$work/pull.ferry" --key "$work/release.key" >"$work/log.pull_create" 2>&1 ||
	{ echo "bench: bundle create of the pull image failed:" >&2; cat "$work/log.pull_create" >&2; exit 1; }
"$ferry" install "$work/pull.ferry" --root "$work/pullroot" --key "$work/release.pub" >"$work/log.pull_install" 2>&1 ||
	{ echo "bench: install of the pull image failed:" >&2; cat "$work/log.pull_install" >&2; exit 1; }

# start_server NAME PROBE CMD...: starts CMD, which prints "serving ... on
# http://ADDR" once it listens on a free loopback port, and waits until
# ADDR/PROBE answers; the base URL and pid go into $NAME_url and $NAME_pid.
start_server() {
	local name=$1 probe=$2; shift 2
	"$@" >"$work/log.$name" 2>&1 &
	local pid=$! url='' i
	pids+=("$pid")
	for ((i = 0; i < 200; i++)); do
		url=$(sed -n 's|^serving .* on \(http://127\.0\.0\.1:[0-9]*\)$|\1|p' "$work/log.$name")
		[[ -n $url ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[[ -n $url ]] && "$work/pullbench" wait "$url$probe" ||
		{ echo "bench: $name did not start:" >&2; cat "$work/log.$name" >&2; exit 1; }
	printf -v "${name}_url" '%s' "$url"
	printf -v "${name}_pid" '%s' "$pid"
}
start_server registry /v2/ "$ferry" registry serve --root "$work/pullroot" --addr 127.0.0.1:0
start_server static / "$work/pullbench" serve -dir "$work/pullroot/store" -addr 127.0.0.1:0
find "$work/pullroot/store/blobs" -type f -exec cat {} + >/dev/null
"$work/pullbench" pull -store "$work/pullroot/store" -ref bench/big:1.0.0 -c 4 -runs "$pull_runs" \
	-registry "$registry_url" -static "$static_url" >"$work/pull.out" 2>"$work/log.pull" ||
	{ echo "bench: pull failed:" >&2; cat "$work/log.pull" >&2; exit 1; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
registry_kb=$(hwm "$registry_pid")
static_kb=$(hwm "$static_pid")
read -r _ registry_pull_s pull_bytes pull_blobs < <(grep '^registry ' "$work/pull.out")
read -r _ static_pull_s _ < <(grep '^static ' "$work/pull.out")

ferry_size=$(stat -c %s "$work/bench.ferry")
pipe_size=$(( $(stat -c %s "$work/pipe.tar.zst") + $(stat -c %s "$work/SHA256SUMS") + $(stat -c %s "$work/SHA256SUMS.sig") ))

# The targets, judged as routerbench and deltabench judge theirs: "ok" or
# "MISSED" on the lines under "targets"; a missed target does not change
# the exit status.
create_target=2.00 install_target=1.10 rss_target_kb=$(( 128 * 1024 )) pull_target=0.80 mem_growth_kb=$(( 4 * 1024 ))
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "ok" : "MISSED" }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? "ok" : "MISSED" }'; }
judge() { printf '  %-54s %12s  %s' "$1" "$2" "$3"; }
kib_diff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f MiB", (a - b) / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 0.001; printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
mbps() { awk -v n="$1" -v s="$2" 'BEGIN { if (s == 0) s = 0.0001; printf "%.0f MB/s", n / s / 1e6 }'; }

cat <<REPORT

ferry bench — corpus $size ($corpus_bytes bytes), $(nproc) cores, median of $repeat runs

create                      wall      peak RSS   output
  ferry bundle create       ${ferry_create_s}s    $(mib "$ferry_create_kb")    $ferry_size bytes
  tar|zstd -3 + sha256sum   ${pipe_create_s}s    $(mib "$pipe_create_kb")    $pipe_size bytes
  speed-up (pipeline/ferry) $(ratio "$pipe_create_s" "$ferry_create_s")x        size ratio (ferry/pipeline) $(ratio "$ferry_size" "$pipe_size")

create, one large file      wall      peak RSS   output
  ferry bundle create       ${ferry_create_large_s}s    $(mib "$ferry_create_large_kb")    $large_ferry_size bytes
  tar|zstd -3 + sha256sum   ${pipe_create_large_s}s    $(mib "$pipe_create_large_kb")    $large_pipe_size bytes
  speed-up (pipeline/ferry) $(ratio "$pipe_create_large_s" "$ferry_create_large_s")x        size ratio (ferry/pipeline) $(ratio "$large_ferry_size" "$large_pipe_size")

verify                      wall      peak RSS
  ferry verify              ${ferry_verify_s}s    $(mib "$ferry_verify_kb")
  ferry verify --deep       ${ferry_deep_s}s    $(mib "$ferry_deep_kb")
  gpg + zstd -t + sha256sum ${pipe_verify_s}s    $(mib "$pipe_verify_kb")
  speed-up (pipeline/ferry) $(ratio "$pipe_verify_s" "$ferry_verify_s")x        (--deep: $(ratio "$pipe_verify_s" "$ferry_deep_s")x)

install                     wall      peak RSS
  ferry install             ${ferry_install_s}s    $(mib "$ferry_install_kb")
  tar -x + sha256sum + sync ${pipe_install_s}s    $(mib "$pipe_install_kb")
  ratio (ferry/pipeline)    $(ratio "$ferry_install_s" "$pipe_install_s")x        (targets: <= ${install_target}x, peak RSS <= 128 MiB)

registry pull               speed       server peak RSS
  ferry registry serve      $(mbps "$pull_bytes" "$registry_pull_s")   $(mib "$registry_kb")
  net/http FileServer       $(mbps "$pull_bytes" "$static_pull_s")   $(mib "$static_kb")
  ratio (ferry/static)      $(ratio "$static_pull_s" "$registry_pull_s")x        (target >= 0.80x; $pull_bytes bytes in $pull_blobs blobs, 4 connections, median of $pull_runs pulls)

memory at 4x the corpus      peak RSS            growth
  ferry bundle create       $(mib "$create_bench1_kb") -> $(mib "$create_bench4_kb")   $(kib_diff "$create_bench4_kb" "$create_bench1_kb")
  ferry verify              $(mib "$ferry_verify1_kb") -> $(mib "$ferry_verify4_kb")   $(kib_diff "$ferry_verify4_kb" "$ferry_verify1_kb")
  ferry install             $(mib "$ferry_install1_kb") -> $(mib "$ferry_install4_kb")   $(kib_diff "$ferry_install4_kb" "$ferry_install1_kb")
  (bundles of $mem1_bundle_bytes and $big_bundle_bytes bytes; target: growth < $(mib "$mem_growth_kb"))

targets
$(judge "create >= ${create_target}x the pipeline" "$(ratio "$pipe_create_s" "$ferry_create_s")x" \
	"$(le "$create_target" "$(ratio "$pipe_create_s" "$ferry_create_s")")")
$(judge "create, one large file, >= ${create_target}x the pipeline" "$(ratio "$pipe_create_large_s" "$ferry_create_large_s")x" \
	"$(le "$create_target" "$(ratio "$pipe_create_large_s" "$ferry_create_large_s")")")
$(judge "create peak RSS <= $(mib "$rss_target_kb")" "$(mib "$ferry_create_kb")" "$(le "$ferry_create_kb" "$rss_target_kb")")
$(judge "create, one large file, peak RSS <= $(mib "$rss_target_kb")" "$(mib "$ferry_create_large_kb")" "$(le "$ferry_create_large_kb" "$rss_target_kb")")
$(judge "install <= ${install_target}x the pipeline" "$(ratio "$ferry_install_s" "$pipe_install_s")x" \
	"$(le "$(ratio "$ferry_install_s" "$pipe_install_s")" "$install_target")")
$(judge "install peak RSS <= $(mib "$rss_target_kb")" "$(mib "$ferry_install_kb")" "$(le "$ferry_install_kb" "$rss_target_kb")")
$(judge "registry pull >= ${pull_target}x a static server" "$(ratio "$static_pull_s" "$registry_pull_s")x" \
	"$(le "$pull_target" "$(ratio "$static_pull_s" "$registry_pull_s")")")
$(judge "verify peak RSS at 4x the corpus <= $(mib "$rss_target_kb")" "$(mib "$ferry_verify4_kb")" "$(le "$ferry_verify4_kb" "$rss_target_kb")")
$(judge "install peak RSS at 4x the corpus <= $(mib "$rss_target_kb")" "$(mib "$ferry_install4_kb")" "$(le "$ferry_install4_kb" "$rss_target_kb")")
$(judge "create peak RSS at 4x the corpus <= $(mib "$rss_target_kb")" "$(mib "$create_bench4_kb")" "$(le "$create_bench4_kb" "$rss_target_kb")")
$(judge "create peak RSS at 4x the corpus: growth < $(mib "$mem_growth_kb")" "$(kib_diff "$create_bench4_kb" "$create_bench1_kb")" \
	"$(lt "$(( create_bench4_kb - create_bench1_kb ))" "$mem_growth_kb")")
$(judge "verify peak RSS at 4x the corpus: growth < $(mib "$mem_growth_kb")" "$(kib_diff "$ferry_verify4_kb" "$ferry_verify1_kb")" \
	"$(lt "$(( ferry_verify4_kb - ferry_verify1_kb ))" "$mem_growth_kb")")
$(judge "install peak RSS at 4x the corpus: growth < $(mib "$mem_growth_kb")" "$(kib_diff "$ferry_install4_kb" "$ferry_install1_kb")" \
	"$(lt "$(( ferry_install4_kb - ferry_install1_kb ))" "$mem_growth_kb")")
REPORT

echo "bench: image fetch at build time" >&2
image_bytes=$(( corpus_bytes / 4 < 512 * 1024 * 1024 ? corpus_bytes / 4 : 512 * 1024 * 1024 ))
go build -o "$work/imagebench" ./scripts/imagebench
"$work/imagebench" -dir "$work/images" -ferry "$ferry" -key "$work/release.key" -size "$image_bytes" -repeat "$repeat" \
	> "$work/images.out" 2> "$work/log.images" ||
	{ echo "bench: imagebench failed:" >&2; cat "$work/log.images" >&2; exit 1; }
rm -rf "$work/images"
echo
cat "$work/images.out"

echo "bench: router" >&2
router_duration=${ROUTER_DURATION:-5s}
go run ./scripts/routerbench -duration "$router_duration" > "$work/router.out" 2> "$work/log.router" ||
	{ echo "bench: routerbench failed:" >&2; cat "$work/log.router" >&2; exit 1; }
cat <<REPORT

router ($router_duration per measurement, $(nproc) cores)
$(sed 's/^/  /' "$work/router.out")
REPORT

echo "bench: sites" >&2
go run ./scripts/sitesbench -duration "$router_duration" > "$work/sites.out" 2> "$work/log.sites" ||
	{ echo "bench: sitesbench failed:" >&2; cat "$work/log.sites" >&2; exit 1; }
cat <<REPORT

sites (loopback, mutual TLS between sites)
$(sed 's/^/  /' "$work/sites.out")
REPORT

echo "bench: delta updates" >&2
delta_args=(-dir "$work/delta" -repeat 3)
case ${DELTA_SCALE:-full} in
ci) delta_args+=(-binary 8MiB -layer 4MiB -release 16MiB) ;;
large) delta_args+=(-release 512MiB,4GiB) ;;
esac
go run ./scripts/deltabench "${delta_args[@]}" > "$work/delta.out" 2> "$work/log.delta" ||
	{ echo "bench: deltabench failed:" >&2; cat "$work/log.delta" >&2; exit 1; }
echo
cat "$work/delta.out"
