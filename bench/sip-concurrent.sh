#!/usr/bin/env bash
# sip-concurrent.sh — hold CALLS established calls through ccswitch at once
# (each one a customer leg answered by the switch and an agent leg bridged
# to it, the B2BUA in the middle) and report the switch's memory then.
#
#   SIPp callers (bench/sipp/caller-holds.xml: stay HOLD seconds, hang up)
#     -> ccswitch route point 5000 -> queue support -> one of AGENTS agents
#     -> SIPp agents' phones (bench/sipp/agent-holds.xml: answer at once,
#        stay until the switch's BYE)
#
# The center is examples/sip-center.yaml with AGENTS agents (default CALLS),
# numbered from 100001 so they cannot collide with route point 5000 or queue
# 6000. Their phones are AGENT_PROCS SIPp processes; one SIPp process
# registers all of them with bench/sipp/register-inf.xml from a CSV file.
# Callers come from several loopback addresses (127.0.1.1, ...), at most
# PER_SOURCE calls/s each, because ccswitch limits INVITEs per source IP
# (--invite-rate, default 200/s, burst 400), a protection the benchmark
# leaves on. They start CALLS calls at RATE calls/s and each stays
# on the line HOLD seconds (default: the ramp-up time plus 30 s), so all
# CALLS calls are up together for about 30 s.
#
# Progress lines every 5 s: open calls at the callers and at the agents'
# phones, the switch's busy/waiting/ready counts, its RSS and CPU (100% = one
# core) and retrans=C/A, the callers' and the agents' SIP retransmissions so
# far (the switch answering or ACKing late).
#
# Every second the script reads the switch's /api/status (agents busy, calls
# waiting), the SIPp callers' and agents' open call counts (-trace_stat) and
# the switch's VmRSS (/proc/PID/status). "established" is the smallest of
# open calls at the agents' phones, open calls at the callers and (when the
# status answers) busy agents: a call is a caller+agent pair once the
# agent's phone has it. When it reaches CALLS it waits SETTLE seconds
# and takes RSS; otherwise RSS is the most seen while the highest count
# reached was up, and the script says what stopped it (the switch's log,
# SIPp's errors).
#
# RTP ports: ccswitch opens 2 RTP sockets per call (one per leg), on even
# ports only; its default range 20000-29999 has 5000 even ports, so 2500
# calls. When `ccswitch serve` has a --rtp-ports flag, the script passes
# RTP_PORTS (default 16384-65534: 24576 even ports, 12288 calls;
# ListenRTP probes random even ports, so a range much larger than needed
# keeps it from probing thousands of ports in use per call); otherwise
# it says so. The switch's open-file limit (ulimit -n) caps calls too: 2 RTP
# sockets per call plus a few more.
#
# Environment:
#   CALLS        calls to hold at once (default 10000)
#   AGENTS       agents in the center (default CALLS)
#   AGENT_PROCS  SIPp processes that are the agents' phones (default 4)
#   RATE         calls/s while ramping up (default 500)
#   PER_SOURCE   highest rate per caller process and source IP (default 150)
#   HOLD         seconds each caller stays on the line (default CALLS/RATE + 30)
#   SETTLE       seconds to wait once all calls are up before reading RSS (default 5)
#   RTP_PORTS    RTP port range when the switch has --rtp-ports (default 16384-65534)
#   GOGC         the switch's GOGC (default: Go's, 100)
#   BUFF_SIZE    SIPp -buff_size (default 4194304)
#   BASE_PORT    first loopback port used (default 13000; uses BASE_PORT+60,
#                +61, +100.., +300, +500)
# Quick smoke run: CALLS=200 RATE=100 HOLD=10 bench/sip-concurrent.sh
#
# Needs sipp (Debian sip-tester) and curl.
# Last line of output of a finished run: concurrent_calls=N rss_mb=X
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

CALLS=${CALLS:-10000}
AGENTS=${AGENTS:-$CALLS}
AGENT_PROCS=${AGENT_PROCS:-4}
RATE=${RATE:-500}
PER_SOURCE=${PER_SOURCE:-150}
SETTLE=${SETTLE:-5}
RTP_PORTS=${RTP_PORTS:-16384-65534}
BUFF_SIZE=${BUFF_SIZE:-4194304}
BASE_PORT=${BASE_PORT:-13000}

export LC_ALL=C

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
posint CALLS "$CALLS"
posint AGENTS "$AGENTS"
posint AGENT_PROCS "$AGENT_PROCS"
posint RATE "$RATE"
posint PER_SOURCE "$PER_SOURCE"
posint SETTLE "$SETTLE"
posint BUFF_SIZE "$BUFF_SIZE"
posint BASE_PORT "$BASE_PORT"
RAMP=$(((CALLS + RATE - 1) / RATE))
HOLD=${HOLD:-$((RAMP + 30))}
posint HOLD "$HOLD"
[[ $RTP_PORTS =~ ^[0-9]+-[0-9]+$ ]] || { echo "RTP_PORTS must look like 20000-59999" >&2; exit 2; }
((AGENT_PROCS <= 190)) || { echo "AGENT_PROCS must be at most 190" >&2; exit 2; }
((BASE_PORT + 600 < ${RTP_PORTS%-*} || BASE_PORT > ${RTP_PORTS#*-})) || {
	echo "BASE_PORT must keep clear of the RTP ports $RTP_PORTS" >&2; exit 2; }
((AGENTS <= 800000)) || { echo "AGENTS must be at most 800000" >&2; exit 2; }
for tool in sipp go ss curl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found (sipp: apt-get install sip-tester)" >&2; exit 2; }
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
scen=$root/bench/sipp

SIP_PORT=$((BASE_PORT + 60))
HTTP_PORT=$((BASE_PORT + 61))
AGENT_PORT0=$((BASE_PORT + 100)) # agents' phone j: AGENT_PORT0 + j
REG_PORT=$((BASE_PORT + 300))
CALLER_PORT=$((BASE_PORT + 500)) # every caller process, each on its own IP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sip-concurrent.XXXXXX")
pids=() # processes this script started
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

port_free() { [[ -z $(ss -Huan "sport = :$1" 2>/dev/null) && -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
for p in "$SIP_PORT" "$HTTP_PORT" "$REG_PORT" "$CALLER_PORT"; do
	port_free "$p" || { echo "port $p is in use (ss -uanp); set BASE_PORT" >&2; exit 1; }
done

# stat_sum FIELD FILE... sums a field of the last line of SIPp -trace_stat
# CSV files (';'-separated; 14 CurrentCall, 13 TotalCallCreated,
# 16 SuccessfulCall(C), 18 FailedCall(C), 58 Retransmissions(C)).
stat_sum() {
	local f=$1 file n=0 v
	shift
	for file in "$@"; do
		[[ -s $file ]] || continue
		v=$(tail -n 1 "$file" | awk -F';' -v f="$f" '$1 !~ /^StartTime/ { print $f + 0 }')
		n=$((n + ${v:-0}))
	done
	echo "$n"
}

# cpu_ticks PID prints the process's user+system clock ticks.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# status prints "logged_in ready busy waiting" for queue support, or
# "-1 -1 -1 -1" when the switch does not answer (at its open-file limit it
# cannot accept the HTTP connection).
status() {
	curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null |
		sed -n 's/.*"name":"support"[^}]*"logged_in":\([0-9]*\),"ready":\([0-9]*\),"busy":\([0-9]*\),"waiting":\([0-9]*\).*/\1 \2 \3 \4/p' |
		grep . || echo "-1 -1 -1 -1"
}

echo "building ccswitch into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch

center=$tmp/center.yaml
sed -e "s/count: 10,/count: ${AGENTS},/" -e "s/first_number: 1001,/first_number: 100001,/" \
	"$root/examples/sip-center.yaml" >"$center"
grep -q "count: ${AGENTS}, first_number: 100001," "$center" || {
	echo "could not set the agents in $center (examples/sip-center.yaml changed?)" >&2; exit 1; }

serve_args=(serve --config "$center" --sip "127.0.0.1:$SIP_PORT" --http "127.0.0.1:$HTTP_PORT" --log-level warn)
if "$tmp/ccswitch" serve --help 2>&1 | grep -q -- '-rtp-ports'; then
	serve_args+=(--rtp-ports "$RTP_PORTS")
	echo "RTP ports: $RTP_PORTS (--rtp-ports)"
else
	echo "RTP ports: ccswitch's default 20000-29999 (this ccswitch has no --rtp-ports flag): at most 2500 calls"
fi
echo "open files: ulimit -n $(ulimit -n) (the switch needs 2 per call)"

env ${GOGC:+GOGC=$GOGC} "$tmp/ccswitch" "${serve_args[@]}" >"$tmp/ccswitch.log" 2>&1 &
cc_pid=$!
pids+=("$cc_pid")
for _ in $(seq 100); do
	curl -fsS --max-time 1 "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
	kill -0 "$cc_pid" 2>/dev/null || { echo "ccswitch exited:" >&2; cat "$tmp/ccswitch.log" >&2; exit 1; }
	sleep 0.1
done
echo "ccswitch: pid $cc_pid, sip 127.0.0.1:$SIP_PORT, http 127.0.0.1:$HTTP_PORT, $AGENTS agents, GOGC=${GOGC:-100}," \
	"RSS $(($(rss_kb "$cc_pid") / 1024)) MB at start"

# The agents' phones.
agent_stats=()
for ((j = 1; j <= AGENT_PROCS; j++)); do
	pid=$(bg_sipp "$tmp/agent-$j.out" -sf "$scen/agent-holds.xml" -i 127.0.0.1 -p "$((AGENT_PORT0 + j))" \
		-buff_size "$BUFF_SIZE" -trace_stat -stf "$tmp/agent-$j.csv" -fd 1 -trace_err \
		"127.0.0.1:$SIP_PORT")
	pids+=("$pid")
	agent_stats+=("$tmp/agent-$j.csv")
done

# Register every agent, round-robin over the phones.
{
	echo SEQUENTIAL
	for ((i = 0; i < AGENTS; i++)); do
		u=$((100001 + i))
		printf '%d;[authentication username=%d password=secret];127.0.0.1:%d;\n' "$u" "$u" "$((AGENT_PORT0 + 1 + i % AGENT_PROCS))"
	done
} >"$tmp/agents.csv"
echo "registering $AGENTS agents ..."
t0=$SECONDS
(cd "$tmp" && sipp -sf "$scen/register-inf.xml" -inf "$tmp/agents.csv" -i 127.0.0.1 -p "$REG_PORT" \
	-r 500 -rp 1000 -m "$AGENTS" -l 2000 -key expires 3600 -buff_size "$BUFF_SIZE" \
	-timeout "$((AGENTS / 100 + 60))s" -trace_err -trace_stat -stf "$tmp/register.csv" -fd 1 -nostdin \
	"127.0.0.1:$SIP_PORT") >"$tmp/register.out" 2>&1 || {
	echo "registration: $(stat_sum 16 "$tmp/register.csv") of $AGENTS succeeded" >&2
	tail -n 5 "$tmp/register.out" >&2
	exit 1
}
logged_in=0
for _ in $(seq 120); do
	read -r logged_in _ _ _ < <(status)
	((logged_in >= AGENTS)) && break
	sleep 0.5
done
echo "registered in $((SECONDS - t0)) s; $logged_in agents logged in; RSS $(($(rss_kb "$cc_pid") / 1024)) MB"
((logged_in >= AGENTS)) || { echo "only $logged_in of $AGENTS agents logged in" >&2; exit 1; }

# The callers.
procs=$(((RATE + PER_SOURCE - 1) / PER_SOURCE))
echo "calling: $CALLS calls at $RATE calls/s from $procs source addresses, each held ${HOLD}s"
caller_pids=() caller_stats=()
for ((k = 1; k <= procs; k++)); do
	m=$((CALLS * k / procs - CALLS * (k - 1) / procs))
	((m > 0)) || continue
	rate_k=$(awk -v r="$RATE" -v p="$procs" 'BEGIN { printf "%.3f", r / p }')
	(cd "$tmp" && exec sipp -sf "$scen/caller-holds.xml" -s 5000 -i "127.0.1.$k" -p "$CALLER_PORT" \
		-r "$rate_k" -rp 1000 -m "$m" -l "$m" -d "$((HOLD * 1000))" -buff_size "$BUFF_SIZE" \
		-timeout "$((RAMP + HOLD + 60))s" -recv_timeout 30000 \
		-trace_err -trace_stat -stf "$tmp/caller-$k.csv" -fd 1 -nostdin \
		"127.0.0.1:$SIP_PORT") >"$tmp/caller-$k.out" 2>&1 &
	caller_pids+=("$!")
	caller_stats+=("$tmp/caller-$k.csv")
done
pids+=("${caller_pids[@]}")

# Watch until every caller is done.
best=0 best_rss=0 best_at=0 reached_at='' rss_all='' printed=-5 status_down=0
last_ticks=$(cpu_ticks "$cc_pid") last_time=$(date +%s.%N)
t0=$SECONDS
while :; do
	running=0
	for p in "${caller_pids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
	((running)) || break
	if ! kill -0 "$cc_pid" 2>/dev/null; then
		echo "ccswitch exited" >&2
		break
	fi
	read -r _ ready busy waiting < <(status)
	open_callers=$(stat_sum 14 "${caller_stats[@]}")
	open_agents=$(stat_sum 14 "${agent_stats[@]}")
	rss=$(rss_kb "$cc_pid")
	# a call is a pair once the agent's phone has it; the switch's own
	# count bounds it too when the status answers
	est=$open_agents
	((open_callers < est)) && est=$open_callers
	((busy >= 0 && busy < est)) && est=$busy
	if ((busy < 0)); then status_down=$((status_down + 1)); fi
	if ((est > best)); then
		best=$est best_rss=$rss best_at=$((SECONDS - t0))
	elif ((est == best && rss > best_rss)); then
		best_rss=$rss # the most memory seen while that many calls were up
	fi
	t=$((SECONDS - t0))
	if ((t >= printed + 5)); then
		printed=$t
		ticks=$(cpu_ticks "$cc_pid") now=$(date +%s.%N)
		cpu=$(awk -v a="$last_ticks" -v b="$ticks" -v hz="$HZ" -v t0="$last_time" -v t1="$now" \
			'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
		last_ticks=$ticks last_time=$now
		printf 't=%3ds callers_open=%-6d agents_open=%-6d busy=%-6d waiting=%-5d ready=%-6d rss_mb=%-5d cpu=%3d%% retrans=%d/%d\n' \
			"$t" "$open_callers" "$open_agents" "$busy" "$waiting" "$ready" "$((rss / 1024))" "$cpu" \
			"$(stat_sum 58 "${caller_stats[@]}")" "$(stat_sum 58 "${agent_stats[@]}")"
	fi
	if [[ -z $reached_at ]] && ((est >= CALLS)); then
		reached_at=$t
		echo "all $CALLS calls established at t=${t}s; waiting ${SETTLE}s"
	fi
	if [[ -n $reached_at && -z $rss_all ]] && ((t >= reached_at + SETTLE)); then
		read -r _ _ busy waiting < <(status)
		rss_all=$(rss_kb "$cc_pid")
		best_rss=$rss_all
		awk -v b="$busy" -v w="$waiting" -v r="$rss_all" -v h="$(hwm_kb "$cc_pid")" -v s="$SETTLE" \
			'BEGIN { printf "after %ds: busy=%d waiting=%d rss_mb=%.1f (VmHWM %.1f MB)\n", s, b, w, r / 1024, h / 1024 }'
	fi
	((t < RAMP + HOLD + 120)) || { echo "time is up" >&2; break; }
	sleep 1
done
for p in "${caller_pids[@]}"; do wait "$p" 2>/dev/null || true; done

ok=$(stat_sum 16 "${caller_stats[@]}")
failed=$(stat_sum 18 "${caller_stats[@]}")
created=$(stat_sum 13 "${caller_stats[@]}")
echo "callers: created=$created successful=$ok failed=$failed; switch VmHWM $(($(hwm_kb "$cc_pid") / 1024)) MB"
((status_down == 0)) || echo "the switch's /api/status did not answer $status_down times (shown as -1)"
if ((best < CALLS)); then
	echo "highest established: $best (at t=${best_at}s), short of $CALLS"
	errs=$(cat "$tmp"/*_errors.log 2>/dev/null | grep -v -e 'Maximum number of open sockets' -e '^The following events' |
		grep -o -e 'received .SIP/2.0 [0-9]* [A-Za-z ]*' -e 'receive timeout on message[^:]*' -e 'Aborting call on unexpected message' \
			-e 'Max Retrans[^(]*' -e 'Dead call' | sort | uniq -c | sort -rn | head -n 5 || true)
	[[ -n $errs ]] && sed 's/^/  sipp errors: /' <<<"$errs"
	log=$(grep -o -e '"message":"[^"]*"' -e '"error":"[^"]*"' -e '^panic:.*' -e '^fatal error:.*' "$tmp/ccswitch.log" |
		sort | uniq -c | sort -rn | head -n 6 || true)
	[[ -n $log ]] && sed 's/^/  ccswitch log: /' <<<"$log"
fi
awk -v n="$best" -v r="$best_rss" 'BEGIN { printf "concurrent_calls=%d rss_mb=%.1f\n", n, r / 1024 }'
