#!/usr/bin/env bash
# make bench: ferry against the plain-tool pipeline, measured in the same
# run on the same corpus, printed as ratios. Usage: bench.sh WORKDIR [SIZE]
#
#   create:  ferry bundle create
#            vs  tar -c | zstd -T0 -3, sha256sum of every input, gpg --detach-sign of the sums
#   verify:  ferry verify
#            vs  gpg --verify of the sums, zstd -t of the archive, sha256sum -c of the inputs
#
# Both sides end with their outputs on disk (ferry fsyncs its bundle; the
# pipeline's outputs are synced with sync(1)) and run with a warm page cache.
# Timings are reported, never judged: this script fails only if a step fails.
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
trap 'gpgconf --kill gpg-agent 2>/dev/null || true' EXIT

echo "bench: generating a $size corpus" >&2
go run ./fixtures/cmd/fixturegen corpus -out "$work/corpus" -size "$size"
corpus_bytes=$(du -sb "$work/corpus" | cut -f1)

"$ferry" keys generate --type ecdsa-p256 --out "$work/release" >/dev/null
gpg --batch --quiet --passphrase '' --quick-gen-key 'Bench <bench@example.invalid>' ed25519 sign never 2>/dev/null

# warm the page cache for both sides alike
find "$work/corpus" -type f -exec cat {} + >/dev/null

# measure NAME CMD...: runs CMD $repeat times; the median wall seconds and
# the largest peak RSS (KiB) go into $NAME_s and $NAME_kb.
repeat=${REPEAT:-3}
measure() {
	local name=$1; shift
	local i
	: >"$work/times.$name"
	for ((i = 0; i < repeat; i++)); do
		/usr/bin/time -o "$work/time.$name" -f '%e %M' "$@" >"$work/log.$name" 2>&1 ||
			{ echo "bench: $name failed:" >&2; cat "$work/log.$name" >&2; exit 1; }
		tail -1 "$work/time.$name" >>"$work/times.$name"
	done
	printf -v "${name}_s" '%s' "$(cut -d' ' -f1 "$work/times.$name" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
	printf -v "${name}_kb" '%s' "$(cut -d' ' -f2 "$work/times.$name" | sort -n | tail -1)"
}

measure ferry_create "$ferry" bundle create -f "$work/corpus/ferry.yaml" -o "$work/bench.ferry" --key "$work/release.key"
measure pipe_create bash -c "
	cd '$work/corpus'
	tar -cf - . | zstd -T0 -3 -q -f -o '$work/pipe.tar.zst'
	find . -type f -print0 | sort -z | xargs -0 sha256sum > '$work/SHA256SUMS'
	gpg --batch --yes --detach-sign -o '$work/SHA256SUMS.sig' '$work/SHA256SUMS'
	sync '$work/pipe.tar.zst' '$work/SHA256SUMS' '$work/SHA256SUMS.sig'"

measure ferry_verify "$ferry" verify "$work/bench.ferry" --key "$work/release.pub"
measure ferry_deep "$ferry" verify --deep "$work/bench.ferry" --key "$work/release.pub"
measure pipe_verify bash -c "
	gpg --batch --verify '$work/SHA256SUMS.sig' '$work/SHA256SUMS'
	zstd -t -q '$work/pipe.tar.zst'
	cd '$work/corpus' && sha256sum -c --quiet '$work/SHA256SUMS'"

ferry_size=$(stat -c %s "$work/bench.ferry")
pipe_size=$(( $(stat -c %s "$work/pipe.tar.zst") + $(stat -c %s "$work/SHA256SUMS") + $(stat -c %s "$work/SHA256SUMS.sig") ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 0.001; printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }

cat <<REPORT

ferry bench — corpus $size ($corpus_bytes bytes), $(nproc) cores, median of $repeat runs

create                      wall      peak RSS   output
  ferry bundle create       ${ferry_create_s}s    $(mib "$ferry_create_kb")    $ferry_size bytes
  tar|zstd -3 + sha256sum   ${pipe_create_s}s    $(mib "$pipe_create_kb")    $pipe_size bytes
  speed-up (pipeline/ferry) $(ratio "$pipe_create_s" "$ferry_create_s")x        size ratio (ferry/pipeline) $(ratio "$ferry_size" "$pipe_size")

verify                      wall      peak RSS
  ferry verify              ${ferry_verify_s}s    $(mib "$ferry_verify_kb")
  ferry verify --deep       ${ferry_deep_s}s    $(mib "$ferry_deep_kb")
  gpg + zstd -t + sha256sum ${pipe_verify_s}s    $(mib "$pipe_verify_kb")
  speed-up (pipeline/ferry) $(ratio "$pipe_verify_s" "$ferry_verify_s")x        (--deep: $(ratio "$pipe_verify_s" "$ferry_deep_s")x)
REPORT
