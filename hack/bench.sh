#!/usr/bin/env bash
# Measures the loop people live in and the commands' wall times: a one-line
# edit in homelab/ followed by `go run . synth` (warm build cache), the
# same loop in a library user's module (examples/ha-nfs, whose main is
# launch.Main), next to that module built as the full command line (what a
# main calling cli.Run links), the
# built binary's size, and the built binary's synth, validate, version and
# secrets get. Medians of RUNS runs (default 5). Nothing in the repository
# changes: the edit is reverted and every output goes to a temporary dir.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
go="${GO:-go}"
# As users run it: without JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION.
unset JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION

tmp="$(mktemp -d)"
edited=homelab/platform.go
cp "$edited" "$tmp/edited.orig"
userlab=examples/ha-nfs/lab.go
cp "$userlab" "$tmp/userlab.orig"
cleanup() {
	cp "$tmp/edited.orig" "$edited"
	cp "$tmp/userlab.orig" "$userlab"
	rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
# median prints the median of its arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# timed runs "$@" RUNS times and prints the median wall time in seconds.
timed() {
	local t=()
	for _ in $(seq "$runs"); do
		local s; s="$(now)"
		"$@" >/dev/null 2>&1 || { echo "bench: $* failed" >&2; "$@" >&2 || true; exit 1; }
		t+=("$(echo "$(now) - $s" | bc)")
	done
	median "${t[@]}"
}

# Warm the build cache and the fixtures once. The repository's main links
# only synth and version and runs every other command in the full one
# (cmd/homelab), found beside it as homelab-full.
"$go" build -o "$tmp/homelab" .
"$go" build -o "$tmp/homelab-full" ./cmd/homelab
"$go" run . synth --out "$tmp/warm" >/dev/null

edit_and_synth() {
	cp "$tmp/edited.orig" "$edited"
	# A code change (not a comment), so the package and the binary are
	# rebuilt, as after a real edit.
	echo "var BenchEdit = \"$(now)\"" >>"$edited"
	"$go" run . synth --out "$tmp/out"
}
loop="$(timed edit_and_synth)"
# Where the loop's build time goes: one more edit, built with the go
# command's trace (a debug flag: the build cache keys stay the same).
cp "$tmp/edited.orig" "$edited"
echo "var BenchEdit = \"$(now)\"" >>"$edited"
"$go" run -debug-trace="$tmp/trace.json" . version >/dev/null
cp "$tmp/edited.orig" "$edited"
# split prints the seconds of go run's build (up to the end of the link),
# of its compiles and of its link, from the trace's begin/end events.
split() {
	node -e '
		const events = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const open = new Map();
		const start = Math.min(...events.map((e) => e.ts));
		let end = start, compile = 0, link = 0;
		for (const e of events) {
			const key = e.pid + "/" + e.tid + "/" + e.name;
			if (e.ph === "B") open.set(key, e.ts);
			if (e.ph !== "E" || !open.has(key)) continue;
			const s = (e.ts - open.get(key)) / 1e6;
			// Cached packages also have build actions, of microseconds.
			if (e.name.startsWith("Executing action (build ") && !e.name.includes("check cache") && s > 0.005) compile += s;
			if (e.name.startsWith("Executing action (link ")) {
				link += s;
				end = e.ts;
			}
		}
		console.log(((end - start) / 1e6).toFixed(2), compile.toFixed(2), link.toFixed(2));
	' "$1"
}
read -r _ compile link < <(split "$tmp/trace.json")

# The same loop in a library user's module: an edit of its lab.go, then
# `go run . synth` (launch.Main: links only synth), and, for comparison,
# the module built as the full command line (-tags homelab_full: what a
# main calling cli.Run links on every edit).
user_edit_and_synth() {
	cp "$tmp/userlab.orig" "$userlab"
	echo "var BenchEdit = \"$(now)\"" >>"$userlab"
	(cd examples/ha-nfs && "$go" run "$@" . synth --out "$tmp/userout")
}
(cd examples/ha-nfs && "$go" build -o /dev/null . && "$go" build -tags homelab_full -o /dev/null .)
userloop="$(timed user_edit_and_synth)"
userfull="$(timed user_edit_and_synth -tags homelab_full)"
cp "$tmp/userlab.orig" "$userlab"

build="$(timed "$go" build -o "$tmp/homelab" .)"
size="$(stat -c %s "$tmp/homelab")"
fullsize="$(stat -c %s "$tmp/homelab-full")"

bin="$tmp/homelab"
synth="$(timed "$bin" synth --out "$tmp/out2")"
# validate exits 3 while example site values block a real cluster.
validate_ok() { local rc=0; "$bin" validate || rc=$?; [ "$rc" = 0 ] || [ "$rc" = 3 ]; }
validate_t="$(timed validate_ok)"
version="$(timed "$bin" version)"

# A store with one Secret, for `secrets get`.
export HOMELAB_AGE_KEY_FILE="$tmp/age.key"
sdir="$tmp/repo"
mkdir -p "$sdir"
sflags=(--store "$sdir/secrets" --sops-config "$sdir/.sops.yaml" --talos-secrets "$sdir/cluster/talos/talsecret.sops.yaml" --cluster-key "$sdir/cluster/cluster-age.sops.yaml")
"$bin" secrets init "${sflags[@]}" >/dev/null
printf 'value' | "$bin" secrets set monitoring/grafana-admin admin-password "${sflags[@]}" 2>/dev/null
get="$(timed "$bin" secrets get monitoring/grafana-admin admin-password "${sflags[@]}")"

printf '%-46s %10s\n' "measure (median of $runs)" "value"
printf '%-46s %9.2fs\n' "edit homelab/ + go run . synth" "$loop"
printf '%-46s %9.2fs %3.0f%%\n' "  of which compile (homelab/, its importers)" "$compile" "$(echo "100 * $compile / $loop" | bc -l)"
printf '%-46s %9.2fs %3.0f%%\n' "  of which link (one traced run)" "$link" "$(echo "100 * $link / $loop" | bc -l)"
printf '%-46s %9.2fs\n' "  the rest: go command, synth (see below)" "$(echo "$loop - $compile - $link" | bc -l)"
printf '%-46s %9.2fs\n' "user module: edit lab.go + go run . synth" "$userloop"
printf '%-46s %9.2fs\n' "  the same, built as the full command line" "$userfull"
printf '%-46s %9.2fs\n' "go build (no change)" "$build"
printf '%-46s %8.1fMB\n' "binary size (go run . : synth, version)" "$(echo "$size / 1000000" | bc -l)"
printf '%-46s %8.1fMB\n' "binary size (cmd/homelab: every command)" "$(echo "$fullsize / 1000000" | bc -l)"
printf '%-46s %9.2fs\n' "homelab synth (built)" "$synth"
printf '%-46s %9.2fs\n' "homelab validate (built, run by homelab-full)" "$validate_t"
printf '%-46s %9.2fs\n' "homelab version (built)" "$version"
printf '%-46s %9.2fs\n' "homelab secrets get (built, by homelab-full)" "$get"
