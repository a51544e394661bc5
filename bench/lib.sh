# lib.sh: shell helpers the bench/ scripts share; source it, don't run it.

# posint NAME VALUE exits 2 unless VALUE is a positive integer.
posint() {
	case $2 in '' | *[!0-9]*) echo "$1 must be a positive integer, not '$2'" >&2; exit 2 ;; esac
	(($2 > 0)) || { echo "$1 must be > 0" >&2; exit 2; }
}

# bg_sipp LOG ARGS... starts SIPp in the background (-bg) in $tmp and prints
# its PID.
bg_sipp() {
	local log=$1 pid
	shift
	# (the parent's exit status is not 0 even when the daemon started)
	(cd "$tmp" && sipp "$@" -bg -nostdin) >"$log" 2>&1 || true
	pid=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' "$log" | head -n1)
	[[ -n $pid ]] || { echo "no PID from sipp $*:" >&2; cat "$log" >&2; return 1; }
	printf '%s\n' "$pid"
}

# stop PID... sends each process SIGTERM, gives it 5 s to end, then
# SIGKILLs it, and reaps it; empty PIDs are skipped.
stop() {
	local p
	for p in "$@"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		[[ -n $p ]] || continue
		for _ in $(seq 25); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
