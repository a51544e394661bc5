#!/usr/bin/env bash
# sim-vs-bare.sh — time `ccswitch sim` (the real routing domain on a virtual
# clock) against bench/bare (a hand-written event-heap loop) on the same
# M/M/n+M model, side by side in one run.
#
# Model: AGENTS agents (default 100), exponential handle time mean
# HANDLE_MEAN (290 s), exponential patience mean PATIENCE_MEAN (120 s), SL
# target 20 s, Poisson arrivals at PER_HOUR, by default the rate that loads
# the agents to LOAD (0.97): AGENTS × LOAD × 3600 / HANDLE_MEAN per hour. The
# sim runs for CONTACTS/PER_HOUR hours, so it sees CONTACTS arrivals on
# average; bare generates exactly CONTACTS arrivals and drains.
#
# Each binary is run ROUNDS times, alternating (sim, bare, sim, bare, ...), and
# the minimum wall time of each whole process is kept (shared, noisy machines).
#
# SIZES="100 300 1000 3000" runs the model at each number of agents in turn
# (the rate scaled with it) and prints one line per size,
# `agents=N per_hour=R sim_s=X bare_s=Y ratio=Z`; the last line is then the
# size with the highest ratio, in the format below.
#
# Environment: AGENTS (default 100), SIZES (default: AGENTS alone), LOAD
# (0.97), PER_HOUR (from LOAD; set only with one size), HANDLE_MEAN (290),
# PATIENCE_MEAN (120), CONTACTS (default 2000000), ROUNDS (default 3).
# Quick smoke run: CONTACTS=20000 ROUNDS=1 bench/sim-vs-bare.sh
#
# Last line of output, always: sim_s=X bare_s=Y ratio=Z
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

CONTACTS=${CONTACTS:-2000000}
ROUNDS=${ROUNDS:-3}
AGENTS=${AGENTS:-100}
SIZES=${SIZES:-$AGENTS}
LOAD=${LOAD:-0.97}
PER_HOUR=${PER_HOUR:-}
HANDLE_MEAN=${HANDLE_MEAN:-290}
PATIENCE_MEAN=${PATIENCE_MEAN:-120}
SL_TARGET=20
SEED=1

export LC_ALL=C # decimal points, not commas, in awk/printf/EPOCHREALTIME

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
posint CONTACTS "$CONTACTS"
posint ROUNDS "$ROUNDS"
posint HANDLE_MEAN "$HANDLE_MEAN"
posint PATIENCE_MEAN "$PATIENCE_MEAN"
read -r -a sizes <<<"$SIZES"
((${#sizes[@]} > 0)) || { echo "SIZES must list at least one number of agents" >&2; exit 2; }
for n in "${sizes[@]}"; do posint "SIZES (agents)" "$n"; done
awk -v l="$LOAD" 'BEGIN { exit !(l ~ /^[0-9]*\.?[0-9]+$/ && l > 0) }' || { echo "LOAD must be a number > 0, not '$LOAD'" >&2; exit 2; }
if [[ -n $PER_HOUR ]]; then
	awk -v r="$PER_HOUR" 'BEGIN { exit !(r ~ /^[0-9]*\.?[0-9]+$/ && r > 0) }' || { echo "PER_HOUR must be a number > 0, not '$PER_HOUR'" >&2; exit 2; }
	((${#sizes[@]} == 1)) || { echo "PER_HOUR fixes the rate: give one size (AGENTS), or LOAD" >&2; exit 2; }
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim-vs-bare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building ccswitch and bare into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch
go build -o "$tmp/bare" ./bench/bare

# now prints the current time in seconds, from bash's own clock when it has one.
now() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		printf '%s\n' "$EPOCHREALTIME"
	else
		date +%s.%N
	fi
}

# timed OUTFILE CMD... runs CMD with stdout to OUTFILE and prints its wall time.
timed() {
	local out=$1 t0 t1
	shift
	t0=$(now)
	if ! "$@" >"$out"; then
		echo "failed: $*" >&2
		return 1
	fi
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

# min A B prints the smaller of two decimal numbers (A may be empty).
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

# kpis NAME FILE prints the KPI fields found in a JSON document, wherever they
# sit in it (the sim's report may nest them per queue or per replication).
# Without python3, it prints the head of the raw output instead.
kpis() {
	local name=$1 file=$2
	if command -v python3 >/dev/null 2>&1; then
		python3 - "$name" "$file" <<'PY' && return 0
import json, sys

name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
try:
    doc = json.loads(text)
except ValueError:
    # One JSON value per line (e.g. a progress stream): take the last one.
    doc = None
    for line in reversed(text.strip().splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            pass
    if doc is None:
        sys.exit(1)

want = ["offered", "answered", "abandoned", "pw", "asa_s", "asa",
        "service_level", "abandon_rate", "events"]
found = {}

def walk(v):
    # Breadth-first, so a top-level total wins over a nested per-queue value.
    todo = [v]
    while todo:
        v = todo.pop(0)
        if isinstance(v, dict):
            for k, x in v.items():
                key = k.lower()
                if key in want and key not in found and isinstance(x, (int, float)):
                    found[key] = x
                elif isinstance(x, (dict, list)):
                    todo.append(x)
        elif isinstance(v, list):
            todo.extend(v)

walk(doc)
if not found:
    sys.exit(1)
def fmt(x):
    return str(x) if isinstance(x, int) else "%.4f" % x
print("%-5s %s" % (name, " ".join("%s=%s" % (k, fmt(found[k])) for k in want if k in found)))
# Exit 3 when a core KPI is missing, so the caller shows the raw output too.
core = ["offered", "pw", "service_level", "abandon_rate"]
sys.exit(0 if all(k in found for k in core) else 3)
PY
	fi
	printf '%-5s (raw) %s\n' "$name" "$(head -c 600 "$file" | tr '\n' ' ')"
}

# run_size AGENTS runs sim and bare ROUNDS times each on M/M/AGENTS+M, prints
# the rounds, both tools' KPIs and, last,
# `agents=N per_hour=R sim_s=X bare_s=Y ratio=Z`.
run_size() {
	local agents=$1 per_hour duration sim_best='' bare_best='' t i
	per_hour=${PER_HOUR:-$(awk -v n="$agents" -v l="$LOAD" -v h="$HANDLE_MEAN" 'BEGIN { printf "%.2f", n * l * 3600 / h }')}
	duration=$(awk -v c="$CONTACTS" -v r="$per_hour" 'BEGIN { printf "%.3fh", c / r }')
	cat >"$tmp/mmnm.yaml" <<EOF
queues: [{name: support, media: voice, sl_target: ${SL_TARGET}s}]
agents: [{group: agent, count: ${agents}, skills: {support: 5}}]
traffic:
  - {queue: support, arrivals: {poisson: {per_hour: ${per_hour}}}, handle: {exponential: {mean: ${HANDLE_MEAN}s}},
     patience: {exponential: {mean: ${PATIENCE_MEAN}s}}}
run: {duration: ${duration}, warmup: 0s, replications: 1, seed: ${SEED}}
EOF
	local sim_cmd=("$tmp/ccswitch" sim --json "$tmp/mmnm.yaml")
	local bare_cmd=("$tmp/bare" -agents "$agents" -per-hour "$per_hour" -handle-mean "$HANDLE_MEAN"
		-patience-mean "$PATIENCE_MEAN" -sl-target "$SL_TARGET" -contacts "$CONTACTS" -seed "$SEED")

	echo "model: M/M/${agents}+M, ${per_hour}/h, handle ${HANDLE_MEAN}s, patience ${PATIENCE_MEAN}s," \
		"SL ${SL_TARGET}s, contacts ${CONTACTS} (sim duration ${duration}), rounds ${ROUNDS}"
	for ((i = 1; i <= ROUNDS; i++)); do
		t=$(timed "$tmp/sim.json" "${sim_cmd[@]}")
		printf 'round %d: sim  %ss\n' "$i" "$t"
		sim_best=$(min "$sim_best" "$t")
		t=$(timed "$tmp/bare.json" "${bare_cmd[@]}")
		printf 'round %d: bare %ss\n' "$i" "$t"
		bare_best=$(min "$bare_best" "$t")
	done
	kpis sim "$tmp/sim.json"
	kpis bare "$tmp/bare.json"
	awk -v n="$agents" -v r="$per_hour" -v s="$sim_best" -v b="$bare_best" 'BEGIN {
		q = (b > 0) ? sprintf("%.2f", s / b) : "inf"
		printf "agents=%d per_hour=%s sim_s=%.3f bare_s=%.3f ratio=%s\n", n, r, s, b, q
	}'
}

# One summary line per size, then the worst of them in the fixed format.
summary=()
for n in "${sizes[@]}"; do
	run_size "$n" | tee "$tmp/size.out"
	summary+=("$(tail -n 1 "$tmp/size.out")")
done
if ((${#summary[@]} > 1)); then
	printf '%s\n' "${summary[@]}"
fi
printf '%s\n' "${summary[@]}" | awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	r = (v["ratio"] == "inf") ? 1e300 : v["ratio"] + 0
	if (NR == 1 || r > worst) { worst = r; line = sprintf("sim_s=%s bare_s=%s ratio=%s", v["sim_s"], v["bare_s"], v["ratio"]) }
} END { print line }'
