#!/usr/bin/env bash
# sim-vs-bare.sh — time `ccswitch sim` (the real routing domain on a virtual
# clock) against bench/bare (a hand-written event-heap loop) on the same
# M/M/n+M model, side by side in one run.
#
# Model: 100 agents, Poisson arrivals 1440/h (0.4/s), exponential handle time
# mean 240s, exponential patience mean 120s, SL target 20s. The sim runs for
# CONTACTS/1440 hours, so it sees CONTACTS arrivals on average; bare generates
# exactly CONTACTS arrivals and drains.
#
# Each binary is run ROUNDS times, alternating (sim, bare, sim, bare, ...), and
# the minimum wall time of each whole process is kept (shared, noisy machines).
#
# Environment: CONTACTS (default 2000000), ROUNDS (default 3).
# Quick smoke run: CONTACTS=20000 ROUNDS=1 bench/sim-vs-bare.sh
#
# Last line of output, always: sim_s=X bare_s=Y ratio=Z
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

CONTACTS=${CONTACTS:-2000000}
ROUNDS=${ROUNDS:-3}
AGENTS=100
PER_HOUR=1440
HANDLE_MEAN=240
PATIENCE_MEAN=120
SL_TARGET=20
SEED=1

export LC_ALL=C # decimal points, not commas, in awk/printf/EPOCHREALTIME

case $CONTACTS in '' | *[!0-9]*) echo "CONTACTS must be a positive integer" >&2; exit 2 ;; esac
case $ROUNDS in '' | *[!0-9]*) echo "ROUNDS must be a positive integer" >&2; exit 2 ;; esac
((CONTACTS > 0 && ROUNDS > 0)) || { echo "CONTACTS and ROUNDS must be > 0" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sim-vs-bare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building ccswitch and bare into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch
go build -o "$tmp/bare" ./bench/bare

duration=$(awk -v c="$CONTACTS" -v r="$PER_HOUR" 'BEGIN { printf "%.3fh", c / r }')
cat >"$tmp/mmnm.yaml" <<EOF
queues: [{name: support, media: voice, sl_target: ${SL_TARGET}s}]
agents: [{group: agent, count: ${AGENTS}, skills: {support: 5}}]
traffic:
  - {queue: support, arrivals: {poisson: {per_hour: ${PER_HOUR}}}, handle: {exponential: {mean: ${HANDLE_MEAN}s}},
     patience: {exponential: {mean: ${PATIENCE_MEAN}s}}}
run: {duration: ${duration}, warmup: 0s, replications: 1, seed: ${SEED}}
EOF

sim_cmd=("$tmp/ccswitch" sim --json "$tmp/mmnm.yaml")
bare_cmd=("$tmp/bare" -agents "$AGENTS" -per-hour "$PER_HOUR" -handle-mean "$HANDLE_MEAN"
	-patience-mean "$PATIENCE_MEAN" -sl-target "$SL_TARGET" -contacts "$CONTACTS" -seed "$SEED")

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

echo "model: M/M/${AGENTS}+M, ${PER_HOUR}/h, handle ${HANDLE_MEAN}s, patience ${PATIENCE_MEAN}s," \
	"SL ${SL_TARGET}s, contacts ${CONTACTS} (sim duration ${duration}), rounds ${ROUNDS}"

sim_best='' bare_best=''
for ((i = 1; i <= ROUNDS; i++)); do
	t=$(timed "$tmp/sim.json" "${sim_cmd[@]}")
	printf 'round %d: sim  %ss\n' "$i" "$t"
	sim_best=$(min "$sim_best" "$t")
	t=$(timed "$tmp/bare.json" "${bare_cmd[@]}")
	printf 'round %d: bare %ss\n' "$i" "$t"
	bare_best=$(min "$bare_best" "$t")
done

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

kpis sim "$tmp/sim.json"
kpis bare "$tmp/bare.json"

awk -v s="$sim_best" -v b="$bare_best" 'BEGIN {
	r = (b > 0) ? sprintf("%.2f", s / b) : "inf"
	printf "sim_s=%.3f bare_s=%.3f ratio=%s\n", s, b, r
}'
