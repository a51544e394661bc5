#!/usr/bin/env bash
# soak.sh — run the live center under a steady mixed load for DURATION and
# report whether it holds: memory, goroutines and errors.
#
# The center is bench/soak/center.yaml, run as
#   ccswitch serve --config bench/soak/center.yaml --simulate --pprof --drain 2s
#     --sip 127.0.0.1:P --http 127.0.0.1:P --store TMP/soak.db
# and under it, all on loopback:
#   - simulated trunk callers (the file's traffic: 1 call/s to queue desks,
#     2 s mean handle time) answered by 4 simulated desk telephones, or by
#     the SIP phones when the desks are busy;
#   - SIPp callers (bench/sipp/caller-waits.xml) calling route point 5000 at
#     RATE calls/s for DURATION; the switch answers, queues and bridges each
#     one to a SIP phone;
#   - 6 SIP phones 1001-1006: one SIPp process (bench/sipp/agent-hangs-up.xml,
#     answers and hangs up at once) registered for all of them
#     (bench/sipp/register-inf.xml);
#   - bench/soak (the load program): CUSTOMERS web chat customers over
#     WebSocket (/chat/ws), each chatting again as soon as a chat ends, and
#     the 6 CTI desktops chat-1..chat-6 that answer them (/cti), write 3
#     lines and end the chat.
#
# Samples: the switch's VmRSS (/proc/PID/status) and its goroutines (GET
# /debug/pprof/goroutine?debug=1, "goroutine profile: total N"), each the
# median of 11 readings a second apart: at the start, once the warm-up is
# over (the first minute, or the first 10% of DURATION when that is
# shorter), and at the end, over the last seconds of the load, with the
# load still running, so both are taken under the same load. Progress lines
# every PROGRESS seconds (default: DURATION/10, at least 10 s).
#
# calls = SIPp callers' successful calls + simulated calls handled (queue
# desks' "handled" in GET /api/status). chats = chats the load program
# completed (its customer read an agent's line and the agent ended it).
# errors = SIPp callers' failed calls + failed calls at the SIP phones
# (counted until the load ends) + the load program's errors (unexpected
# disconnects, EventError, chats over their timeout) + 1 if the load does
# not end within 120 s of DURATION + 1 if the switch exits before the end,
# does not drain and exit within DRAIN + 15 s of SIGTERM, or exits non-zero.
# A switch that does not start or phones that do not register stop the
# run before the load (exit 1, no result line).
#
# Last line of output:
#   minutes=M calls=N chats=K rss_start_mb=A rss_end_mb=B goroutines_start=G0 goroutines_end=G1 errors=E
# The goals (reported on the line before, not enforced): RSS grows under
# 10% from start to end, goroutines end within 5% of the start, errors 0.
# Exit status: 1 when errors != 0 or the run could not be made, 2 for bad
# settings, else 0.
#
# Environment:
#   DURATION   how long the load runs: 600, 90s, 10m, 1h (default 10m;
#              at least 30s)
#   RATE       SIPp calls/s to route point 5000 (default 5)
#   CUSTOMERS  web chat customers at once (default 20)
#   PROGRESS   seconds between progress lines (default DURATION/10, >= 10)
#   BASE_PORT  first loopback port (default: the first free of 30000,
#              30600, 31200, 31800); uses BASE_PORT..+599 (RTP: +100..+599)
#   CCSWITCH   a ccswitch binary to soak instead of building ./cmd/ccswitch
#   KEEP_TMP   keep the temporary directory (logs) when set
# Quick run: DURATION=60s bench/soak.sh (what `make test` runs).
#
# Needs sipp (Debian sip-tester), go, curl and ss.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
export LC_ALL=C

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10m}
RATE=${RATE:-5}
CUSTOMERS=${CUSTOMERS:-20}
DRAIN=2

# seconds D prints a duration (N, Ns, Nm, Nh) in whole seconds.
seconds() {
	case $1 in
	'' | *[!0-9smh]* | [smh]* | *[smh]?*) return 1 ;;
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo $((${1%s})) ;;
	*) echo $(($1)) ;;
	esac
}
DUR=$(seconds "$DURATION") || { echo "DURATION must look like 600, 90s, 10m or 1h, not '$DURATION'" >&2; exit 2; }
posint DURATION "$DUR"
((DUR >= 30)) || { echo "DURATION must be at least 30s" >&2; exit 2; }
posint RATE "$RATE"
posint CUSTOMERS "$CUSTOMERS"
WARMUP=$((DUR / 10 < 60 ? DUR / 10 : 60))
((WARMUP >= 5)) || WARMUP=5
PROGRESS=${PROGRESS:-$((DUR / 10 < 10 ? 10 : DUR / 10))}
posint PROGRESS "$PROGRESS"
for tool in sipp go ss curl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found (sipp: apt-get install sip-tester)" >&2; exit 2; }
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
scen=$root/bench/sipp

port_free() { [[ -z $(ss -Huan "sport = :$1" 2>/dev/null) && -z $(ss -Htan "sport = :$1" 2>/dev/null) ]]; }
# ports_free BASE: are the fixed ports of base BASE free?
ports_free() {
	local p
	for p in 0 1 10 11 12 20 21 22 23 30 31 40 41; do port_free $(($1 + p)) || return 1; done
}
if [[ -z ${BASE_PORT:-} ]]; then
	for b in 30000 30600 31200 31800; do
		if ports_free "$b"; then BASE_PORT=$b; break; fi
	done
	[[ -n ${BASE_PORT:-} ]] || { echo "no free ports at 30000-32399; set BASE_PORT" >&2; exit 1; }
else
	posint BASE_PORT "$BASE_PORT"
	((BASE_PORT + 599 <= 65535)) || { echo "BASE_PORT must be at most 64936" >&2; exit 2; }
	ports_free "$BASE_PORT" || { echo "ports at $BASE_PORT are in use (ss -anp); set BASE_PORT" >&2; exit 1; }
fi
SIP_PORT=$BASE_PORT
HTTP_PORT=$((BASE_PORT + 1))
PHONE_PORT=$((BASE_PORT + 10)) # the SIP phones' SIPp
REG_PORT=$((BASE_PORT + 11))
CALLER_PORT=$((BASE_PORT + 12))
RTP_PORTS="$((BASE_PORT + 100))-$((BASE_PORT + 599))"
HTTP=127.0.0.1:$HTTP_PORT

tmp=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
pids=() # processes this script started, stopped at exit
cc_pid=''

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop "${pids[@]}"
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "logs kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stat_last FIELD FILE prints a field of the last line of a SIPp
# -trace_stat CSV file (';'-separated; 13 TotalCallCreated, 14 CurrentCall,
# 16 SuccessfulCall(C), 18 FailedCall(C)), 0 when there is none yet.
stat_last() {
	[[ -s $2 ]] || { echo 0; return; }
	tail -n 1 "$2" | awk -F';' -v f="$1" '$1 !~ /^StartTime/ { v = $f + 0 } END { print v + 0 }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_parts PID prints "anon_mb=A file_mb=F": anonymous memory (Go's heap,
# SQLite's page cache) and file pages (the binary's code, paged in as it runs).
rss_parts() {
	awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { printf "anon_mb=%.1f file_mb=%.1f", a / 1024, f / 1024 }' \
		"/proc/$1/status" 2>/dev/null || true
}
goroutines() {
	curl -fsS --max-time 5 "http://$HTTP/debug/pprof/goroutine?debug=1" 2>/dev/null |
		sed -n '1s/^goroutine profile: total \([0-9]*\).*/\1/p' | grep . || echo -1
}
# median prints the median of its arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# sample [N] prints "RSS_KB GOROUTINES", each the median of N (SAMPLES)
# readings 1 s apart (under load the goroutines move with the connections
# open at that instant: a customer between two chats has none).
SAMPLES=11
sample() {
	local r=() g=() i n=${1:-$SAMPLES}
	for ((i = 1; i <= n; i++)); do
		r+=("$(rss_kb "$cc_pid")") g+=("$(goroutines)")
		((i < n)) && sleep 1
	done
	echo "$(median "${r[@]}") $(median "${g[@]}")"
}
# queue_field QUEUE FIELD prints a number of queue QUEUE in /api/status
# (a field of its stats, or of the queue itself), -1 when it does not answer.
queue_field() {
	curl -fsS --max-time 5 "http://$HTTP/api/status" 2>/dev/null | sed 's/{"name":/\n/g' |
		sed -n "/^\"$1\"/s/.*[{,]\"$2\":\([0-9]*\).*/\1/p" | head -n1 | grep . || echo -1
}
# SIPp's watchdog ends a test after 120 stalls of 500 ms (10 of 3 s): on a
# busy shared host that is the host, not the switch. Stalls are still
# logged (*_errors.log) and counted on the "calls:" line.
WATCHDOG=(-watchdog_minor_maxtriggers 1000000 -watchdog_major_maxtriggers 1000000)
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

if [[ -n ${CCSWITCH:-} ]]; then
	[[ -x $CCSWITCH ]] || { echo "CCSWITCH=$CCSWITCH is not an executable" >&2; exit 2; }
	cp "$CCSWITCH" "$tmp/ccswitch"
	echo "building bench/soak into $tmp (ccswitch: $CCSWITCH) ..." >&2
else
	echo "building ccswitch and bench/soak into $tmp ..." >&2
	go build -o "$tmp/ccswitch" ./cmd/ccswitch
fi
go build -o "$tmp/soak" ./bench/soak

"$tmp/ccswitch" serve --config "$root/bench/soak/center.yaml" --simulate \
	--sip "127.0.0.1:$SIP_PORT" --http "$HTTP" --store "$tmp/soak.db" --pprof --drain "${DRAIN}s" \
	--rtp-ports "$RTP_PORTS" --log-level warn >"$tmp/ccswitch.log" 2>&1 &
cc_pid=$!
pids+=("$cc_pid")
for _ in $(seq 100); do
	curl -fsS --max-time 1 "http://$HTTP/readyz" >/dev/null 2>&1 && break
	kill -0 "$cc_pid" 2>/dev/null || { echo "ccswitch exited:" >&2; cat "$tmp/ccswitch.log" >&2; exit 1; }
	sleep 0.1
done
curl -fsS --max-time 1 "http://$HTTP/readyz" >/dev/null || { echo "ccswitch is not ready after 10 s" >&2; exit 1; }

# The SIP phones: one SIPp process answers for 1001-1006.
phone_pid=$(bg_sipp "$tmp/phones.out" -sf "$scen/agent-hangs-up.xml" -i 127.0.0.1 -p "$PHONE_PORT" -mp "$((BASE_PORT + 20))" "${WATCHDOG[@]}" \
	-trace_stat -stf "$tmp/phones.csv" -fd 1 -trace_err "127.0.0.1:$SIP_PORT")
pids+=("$phone_pid")
{
	echo SEQUENTIAL
	for u in 1001 1002 1003 1004 1005 1006; do
		printf '%d;[authentication username=%d password=secret];127.0.0.1:%d;\n' "$u" "$u" "$PHONE_PORT"
	done
} >"$tmp/phones-reg.csv"
(cd "$tmp" && sipp -sf "$scen/register-inf.xml" -inf "$tmp/phones-reg.csv" -i 127.0.0.1 -p "$REG_PORT" -mp "$((BASE_PORT + 30))" \
	-m 6 -r 10 -key expires 3600 -timeout 20s -timeout_error -trace_err -trace_stat -stf "$tmp/register.csv" -nostdin \
	"127.0.0.1:$SIP_PORT") >"$tmp/register.out" 2>&1 || {
	echo "registering the SIP phones failed: $(stat_last 16 "$tmp/register.csv") of 6 registered" >&2
	tail -n 5 "$tmp/register.out" >&2
	exit 1
}
for _ in $(seq 50); do
	(($(queue_field phones logged_in) >= 6)) && break
	sleep 0.2
done
(($(queue_field phones logged_in) >= 6)) || { echo "the SIP phones are not logged in" >&2; exit 1; }
read -r idle_rss idle_g < <(sample 3)
echo "ccswitch: pid $cc_pid, sip 127.0.0.1:$SIP_PORT, http $HTTP; before the load: rss_mb=$(mb "$idle_rss") goroutines=$idle_g"
echo "load: $DUR s of SIPp callers at $RATE calls/s, $CUSTOMERS web chat customers, simulated traffic; warm-up ${WARMUP}s"

# The load.
calls_total=$((RATE * DUR))
(cd "$tmp" && exec sipp -sf "$scen/caller-waits.xml" -s 5000 -i 127.0.0.1 -p "$CALLER_PORT" -mp "$((BASE_PORT + 40))" \
	-r "$RATE" -rp 1000 -m "$calls_total" -l "$((RATE * 60 + 10))" -recv_timeout 30000 "${WATCHDOG[@]}" \
	-trace_err -trace_stat -stf "$tmp/callers.csv" -fd 1 -nostdin \
	"127.0.0.1:$SIP_PORT") >"$tmp/callers.out" 2>&1 &
callers_pid=$!
pids+=("$callers_pid")
"$tmp/soak" -http "$HTTP" -customers "$CUSTOMERS" -agents 6 -duration "${DUR}s" >"$tmp/chats.out" 2>"$tmp/chats.err" &
load_pid=$!
pids+=("$load_pid")
t0=$SECONDS

errors=0 early=''
status_line() {
	printf 't=%4ds rss_mb=%-6s goroutines=%-5s calls_ok=%-6d calls_failed=%-3d sim_handled=%-5d chats_handled=%-5d\n' \
		"$((SECONDS - t0))" "$(mb "$(rss_kb "$cc_pid")")" "$(goroutines)" "$(stat_last 16 "$tmp/callers.csv")" \
		"$(stat_last 18 "$tmp/callers.csv")" "$(queue_field desks handled)" "$(queue_field chat handled)"
}
# wait_until T: wait until T s into the load, printing progress; fails when
# the switch is gone.
next_progress=$PROGRESS
wait_until() {
	while ((SECONDS - t0 < $1)); do
		kill -0 "$cc_pid" 2>/dev/null || return 1
		if ((SECONDS - t0 >= next_progress)); then
			status_line
			next_progress=$((next_progress + PROGRESS))
		fi
		sleep 1
	done
}
rss_start=0 g_start=0 rss_end=0 g_end=0
if wait_until "$WARMUP"; then
	read -r rss_start g_start < <(sample)
	echo "start (after ${WARMUP}s): rss_mb=$(mb "$rss_start") ($(rss_parts "$cc_pid")) goroutines=$g_start"
	if wait_until "$((DUR - SAMPLES - 1))"; then
		read -r rss_end g_end < <(sample)
		echo "end (t=$((SECONDS - t0))s): rss_mb=$(mb "$rss_end") ($(rss_parts "$cc_pid")) goroutines=$g_end"
	else
		early=1
	fi
else
	early=1
fi

# The load ends: the callers after their last call, the load program once
# its last chats are over.
for _ in $(seq 120); do
	kill -0 "$callers_pid" 2>/dev/null || kill -0 "$load_pid" 2>/dev/null || break
	sleep 1
done
if kill -0 "$callers_pid" 2>/dev/null || kill -0 "$load_pid" 2>/dev/null; then
	echo "the load did not end within 120 s of DURATION" >&2
	errors=$((errors + 1))
fi
stop "$callers_pid" "$load_pid"
phones_failed=$(stat_last 18 "$tmp/phones.csv")
if kill -0 "$cc_pid" 2>/dev/null; then
	sleep 2
	read -r after_rss after_g < <(sample 3)
	echo "after the load: rss_mb=$(mb "$after_rss") goroutines=$after_g (before it: $idle_g)"
else
	early=1
fi
sim=$(queue_field desks handled)
((sim >= 0)) || sim=0

# SIGTERM: the switch drains (DRAIN s) and exits 0.
cc_rc=''
if [[ -z $early ]]; then
	kill -TERM "$cc_pid"
	for _ in $(seq $(((DRAIN + 15) * 5))); do
		kill -0 "$cc_pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$cc_pid" 2>/dev/null; then
		echo "ccswitch did not exit within $((DRAIN + 15)) s of SIGTERM" >&2
		errors=$((errors + 1))
	else
		cc_rc=0
		wait "$cc_pid" || cc_rc=$?
		((cc_rc == 0)) || { echo "ccswitch exited with status $cc_rc after SIGTERM" >&2; errors=$((errors + 1)); }
	fi
else
	cc_rc=0
	wait "$cc_pid" || cc_rc=$?
	echo "ccswitch exited early (status $cc_rc), $((SECONDS - t0)) s into the load" >&2
	errors=$((errors + 1))
fi

ok=$(stat_last 16 "$tmp/callers.csv")
failed=$(stat_last 18 "$tmp/callers.csv")
chats=$(sed -n 's/^chats=\([0-9]*\) errors=\([0-9]*\)$/\1/p' "$tmp/chats.out" | tail -n1)
chat_errors=$(sed -n 's/^chats=\([0-9]*\) errors=\([0-9]*\)$/\2/p' "$tmp/chats.out" | tail -n1)
if [[ -z $chats ]]; then
	echo "the load program printed no result" >&2
	chats=0 chat_errors=1
fi
echo "calls: SIPp ok=$ok failed=$failed of $calls_total, at the phones failed=$phones_failed; simulated handled=$sim; chats=$chats chat_errors=$chat_errors"
stalls=$(cat "$tmp"/*_errors.log 2>/dev/null | grep -o 'watchdog timer [0-9]*ms has been tripped' | wc -l || true)
((stalls == 0)) || echo "SIPp watchdog: $stalls stalls of a SIPp process (the host is busy)"
if [[ -s $tmp/chats.err ]]; then sed 's/^/  /' "$tmp/chats.err" | head -n 20; fi
errors=$((errors + failed + phones_failed + chat_errors))
if ((failed + phones_failed > 0)); then
	cat "$tmp"/*_errors.log 2>/dev/null | grep -o -e 'received .SIP/2.0 [0-9]* [A-Za-z ]*' -e 'receive timeout on message[^:]*' \
		-e 'Aborting call on unexpected message[^.]*' -e 'Max Retrans[^(]*' -e 'Dead call' | sort | uniq -c | sort -rn | head -n 5 |
		sed 's/^/  sipp errors: /' || true
fi
if ((errors > 0)); then
	grep -o -e '"message":"[^"]*"' -e '"error":"[^"]*"' -e '^panic:.*' -e '^fatal error:.*' "$tmp/ccswitch.log" |
		sort | uniq -c | sort -rn | head -n 6 | sed 's/^/  ccswitch log: /' || true
fi
awk -v a="$rss_start" -v b="$rss_end" -v g0="$g_start" -v g1="$g_end" -v e="$errors" 'BEGIN {
	r = (a > 0 ? 100 * (b - a) / a : 0); g = (g0 > 0 ? 100 * (g1 - g0) / g0 : 0)
	printf "goals: rss %+.1f%% (< 10%%: %s), goroutines %+.1f%% (within 5%%: %s), errors %d (0: %s)\n",
		r, (a > 0 && b > 0 && r < 10 ? "met" : "NOT met"), g, (g0 > 0 && g1 > 0 && g <= 5 && g >= -5 ? "met" : "NOT met"), e, (e == 0 ? "met" : "NOT met")
}'
awk -v s="$DUR" -v n="$((ok + sim))" -v k="$chats" -v a="$rss_start" -v b="$rss_end" -v g0="$g_start" -v g1="$g_end" -v e="$errors" 'BEGIN {
	m = s / 60; ms = (m == int(m) ? sprintf("%d", m) : sprintf("%.1f", m))
	printf "minutes=%s calls=%d chats=%d rss_start_mb=%.1f rss_end_mb=%.1f goroutines_start=%d goroutines_end=%d errors=%d\n",
		ms, n, k, a / 1024, b / 1024, g0, g1, e
}'
((errors == 0))
