#!/usr/bin/env bash
# sip-cps.sh — the highest call rate ccswitch routes with 0 failed calls,
# next to Kamailio as a transaction-stateful proxy, in the same run, between
# the same SIPp caller and callee scenarios, all on loopback.
#
#   ccswitch: SIPp callers -> route point 5000 -> queue support -> agent
#             (examples/sip-center.yaml; agents 1001.. register their SIPp
#             phones with cmd/ccswitch/testdata/sipp/register.xml)
#   kamailio: SIPp callers -> bench/kamailio/kamailio-cps.cfg -> SIPp callee
#
# Callers run bench/sipp/caller-waits.xml: INVITE, ACK the 200, wait for the
# far end's BYE. Callees (agents' phones) run bench/sipp/agent-hangs-up.xml:
# 180, 200 with SDP, and BYE as soon as the ACK arrives. ccswitch answers the
# caller itself, rings a ready agent, bridges on answer and, when the agent
# hangs up, hangs up the caller: a call succeeds only when it went all the
# way through route point, queue and agent and back.
#
# The rate steps up (STEPS): each step is a burst of SECONDS_PER_STEP seconds
# (rate x seconds calls), with PAUSE seconds between steps. A step is clean
# when failed = 0, successful = rate x seconds and the achieved rate (SIPp's
# own count of calls created per second, summed over the caller processes) is
# at least 95% of the target. Each system steps up until its first unclean
# step; its result is the highest clean rate. Steps alternate between the two
# systems (ccswitch at R, kamailio at R, ccswitch at the next R, ...), so both
# see the same machine.
#
# ccswitch limits INVITEs per source IP (--invite-rate, default 200/s, burst
# 400), so one flooding address cannot starve others; the benchmark leaves
# that protection on. The callers therefore come from several
# loopback addresses (127.0.1.1, 127.0.1.2, ...), at most PER_SOURCE calls/s
# each, as calls from several trunks would; Kamailio gets exactly the same
# callers.
#
# One line per step and system: rate (target calls/s), calls, ok and failed
# (SIPp's successful and failed calls), achieved (calls/s), retrans (the
# callers' retransmissions), drops (datagrams the kernel dropped at the
# server's SIP socket because its receive buffer was full), rcvbuf_errors (the
# same, machine-wide from /proc/net/snmp: it also counts the switch's
# announcement RTP that SIPp callers receive on a media socket they never
# read, about one packet per call, which is harmless), cpu (the server's CPU
# over the step, 100% = one core; Kamailio with its children), callers (SIPp
# caller processes), clean or unclean.
#
# Overload: once ccswitch's highest clean rate R is known, a fresh ccswitch
# gets one more step at 2R (OVERLOAD=0 skips it). Past its capacity the
# switch should keep completing calls near R and refuse the excess at once
# with 503 and Retry-After rather than collapse into a retransmission storm:
# overload_goodput = calls completed per second at 2R (SIPp's successful
# calls / SECONDS_PER_STEP) / R; refused_503 = the share of the failed calls
# that were answered 503 (SIPp's aborts on "received 'SIP/2.0 503") rather than
# timed out or lost (1.00 when no call failed).
#
# Environment:
#   STEPS             target rates, ascending (default "100 200 400 600 800
#                     1000 1200 1400 1600 1800 2000 2200 2400 2600 2800 3000")
#   SECONDS_PER_STEP  burst length (default 8)
#   PAUSE             seconds between steps (default 5)
#   AGENTS            agents' phones registered to ccswitch, one SIPp process
#                     each (default 10, the agents of examples/sip-center.yaml;
#                     any other number runs a copy of that center with AGENTS
#                     agents 1001..)
#   PER_SOURCE        highest rate per caller process and source IP (default 150)
#   KAMAILIO_CHILDREN Kamailio UDP worker processes (default 2, best on 2 cores)
#   BUFF_SIZE         SIPp -buff_size, socket send/receive buffer (default
#                     4194304, net.core.rmem_max here)
#   SYSTEMS           which systems to measure (default "ccswitch kamailio")
#   BASE_PORT         first of the loopback ports used (default 12000; uses
#                     BASE_PORT+60..+65, +80, +100.., +300.., +500)
#   OVERLOAD          1 (default) runs the 2R overload step for ccswitch
#   CCSWITCH_FLAGS    more flags for ccswitch serve (e.g. "--max-setups 100")
# Quick smoke run: STEPS="50 100" SECONDS_PER_STEP=3 PAUSE=2 bench/sip-cps.sh
#
# Needs sipp (Debian sip-tester) and kamailio (Debian kamailio).
# Last line of output of a finished run:
#   ccswitch_cps=N kamailio_cps=M ratio=R overload_goodput=G refused_503=S
# (N and M are the highest clean rates, 0 when no step was clean; R = N/M;
# G and S as above, both "na" when the overload step did not run.)
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

STEPS=${STEPS:-"100 200 400 600 800 1000 1200 1400 1600 1800 2000 2200 2400 2600 2800 3000"}
SECONDS_PER_STEP=${SECONDS_PER_STEP:-8}
PAUSE=${PAUSE:-5}
AGENTS=${AGENTS:-10}
PER_SOURCE=${PER_SOURCE:-150}
KAMAILIO_CHILDREN=${KAMAILIO_CHILDREN:-2}
BUFF_SIZE=${BUFF_SIZE:-4194304}
SYSTEMS=${SYSTEMS:-"ccswitch kamailio"}
BASE_PORT=${BASE_PORT:-12000}
OVERLOAD=${OVERLOAD:-1}

export LC_ALL=C # decimal points, not commas, in awk/printf

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for r in $STEPS; do posint "a rate in STEPS" "$r"; done
[[ -n ${STEPS// /} ]] || { echo "STEPS is empty" >&2; exit 2; }
posint SECONDS_PER_STEP "$SECONDS_PER_STEP"
posint AGENTS "$AGENTS"
posint PER_SOURCE "$PER_SOURCE"
posint KAMAILIO_CHILDREN "$KAMAILIO_CHILDREN"
posint BUFF_SIZE "$BUFF_SIZE"
posint BASE_PORT "$BASE_PORT"
case $PAUSE in '' | *[!0-9]*) echo "PAUSE must be a whole number of seconds" >&2; exit 2 ;; esac
case $OVERLOAD in 0 | 1) ;; *) echo "OVERLOAD must be 0 or 1" >&2; exit 2 ;; esac
((AGENTS <= 190)) || { echo "AGENTS must be at most 190 (one SIPp process and port each)" >&2; exit 2; }
((BASE_PORT + 600 < 20000 || BASE_PORT > 30000)) || {
	echo "BASE_PORT must keep clear of ccswitch's RTP ports 20000-29999" >&2; exit 2; }
for s in $SYSTEMS; do
	case $s in ccswitch | kamailio) ;; *) echo "SYSTEMS: unknown system '$s'" >&2; exit 2 ;; esac
done
for tool in sipp go ss; do
	command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found (sipp: apt-get install sip-tester)" >&2; exit 2; }
done
if [[ " $SYSTEMS " == *" kamailio "* ]] && ! command -v kamailio >/dev/null 2>&1; then
	echo "kamailio not found (apt-get install kamailio)" >&2
	exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
scen=$root/bench/sipp

SIP_PORT=$((BASE_PORT + 60))     # ccswitch
KAM_PORT=$((BASE_PORT + 65))     # kamailio
CALLEE_PORT=$((BASE_PORT + 80))  # kamailio's callee
AGENT_PORT0=$((BASE_PORT + 100)) # agent i's phone: AGENT_PORT0 + i
REG_PORT0=$((BASE_PORT + 300))   # agent i's registration: REG_PORT0 + i
CALLER_PORT=$((BASE_PORT + 500)) # every caller process, each on its own IP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sip-cps.XXXXXX")
pids=()      # long-running processes this script started and has not stopped
callers=()   # the SIPp callers of the step under way
cc_pid='' kam_pid='' cc_side=() kam_side=()

# stop PID... ends processes this script started, by PID, and reaps them.
stop() {
	local p
	for p in "$@"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		[[ -n $p ]] || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop "${callers[@]}" "${pids[@]}"
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "logs kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# port_free PORT fails when something on this machine holds udp PORT.
port_free() { [[ -z $(ss -Huan "sport = :$1" 2>/dev/null) ]]; }
for p in "$SIP_PORT" "$KAM_PORT" "$CALLEE_PORT" "$CALLER_PORT"; do
	port_free "$p" || { echo "udp port $p is in use (ss -uanp); set BASE_PORT" >&2; exit 1; }
done

# forget PID... takes stopped processes off the list the exit trap stops, so
# it never signals a PID the system has since given to another process.
forget() {
	local p q keep=()
	for p in "${pids[@]}"; do
		for q in "$@"; do [[ $p == "$q" ]] && continue 2; done
		keep+=("$p")
	done
	pids=("${keep[@]}")
}

# udp_errors prints the kernel's UDP RcvbufErrors counter (dropped datagrams
# because a socket's receive buffer was full).
udp_errors() {
	awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["RcvbufErrors"] }' /proc/net/snmp
}

# sock_drops PORT prints how many datagrams the kernel dropped on the UDP
# sockets bound to 127.0.0.1:PORT because their receive buffer was full (the
# drops column of /proc/net/udp).
sock_drops() {
	local hex
	hex=$(printf '0100007F:%04X' "$1")
	awk -v a="$hex" '$2 == a { d += $NF } END { print d + 0 }' /proc/net/udp
}

# cpu_ticks PID... prints the user+system clock ticks of PIDs and their children.
cpu_ticks() {
	local p c t=0 all=()
	for p in "$@"; do
		[[ -n $p ]] || continue
		all+=("$p")
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do all+=("$c"); done
	done
	for p in "${all[@]}"; do
		# fields after the ")" of comm: utime is the 12th, stime the 13th
		t=$((t + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

echo "building ccswitch into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch

# ---- ccswitch ---------------------------------------------------------------

start_ccswitch() {
	local center=$root/examples/sip-center.yaml i
	if ((AGENTS != 10)); then
		center=$tmp/sip-center.yaml
		sed "s/count: 10,/count: ${AGENTS},/" "$root/examples/sip-center.yaml" >"$center"
		grep -q "count: ${AGENTS}," "$center" || { echo "could not set the agent count in $center" >&2; return 1; }
	fi
	GOGC=200 "$tmp/ccswitch" serve --config "$center" --sip "127.0.0.1:$SIP_PORT" --http 127.0.0.1:0 \
		--log-level warn ${CCSWITCH_FLAGS:-} >"$tmp/ccswitch.log" 2>&1 &
	cc_pid=$!
	pids+=("$cc_pid") cc_side+=("$cc_pid")
	for _ in $(seq 50); do
		[[ -n $(ss -Huln "sport = :$SIP_PORT") ]] && break
		kill -0 "$cc_pid" 2>/dev/null || { echo "ccswitch exited:" >&2; cat "$tmp/ccswitch.log" >&2; return 1; }
		sleep 0.1
	done
	for ((i = 1; i <= AGENTS; i++)); do
		local user=$((1000 + i)) port=$((AGENT_PORT0 + i)) pid
		pid=$(bg_sipp "$tmp/agent-$user.out" -sf "$scen/agent-hangs-up.xml" -i 127.0.0.1 -p "$port" \
			-buff_size "$BUFF_SIZE" "127.0.0.1:$SIP_PORT")
		pids+=("$pid") cc_side+=("$pid")
		(cd "$tmp" && sipp -sf "$root/cmd/ccswitch/testdata/sipp/register.xml" -i 127.0.0.1 -p "$((REG_PORT0 + i))" \
			-m 1 -au "$user" -ap secret -key user "$user" -key contact_hostport "127.0.0.1:$port" \
			-key expires 3600 -timeout 10s -nostdin "127.0.0.1:$SIP_PORT") >"$tmp/register-$user.out" 2>&1 || {
			echo "registering agent $user failed:" >&2
			tail -n 20 "$tmp/register-$user.out" >&2
			return 1
		}
	done
	echo "ccswitch: pid $cc_pid on udp 127.0.0.1:$SIP_PORT, $AGENTS agents registered" >&2
}

# ---- kamailio ---------------------------------------------------------------

start_kamailio() {
	local cfg=$root/bench/kamailio/kamailio-cps.cfg
	local defs=(-A "CHILDREN=$KAMAILIO_CHILDREN" -A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "CALLEE=\"sip:127.0.0.1:$CALLEE_PORT\"")
	mkdir -p "$tmp/kamailio"
	kamailio -c -f "$cfg" "${defs[@]}" -Y "$tmp/kamailio" >"$tmp/kamailio-check.log" 2>&1 || {
		echo "kamailio -c failed:" >&2; cat "$tmp/kamailio-check.log" >&2; return 1; }
	kamailio -f "$cfg" "${defs[@]}" -Y "$tmp/kamailio" -w "$tmp/kamailio" -DD -E -m 512 -M 16 \
		>"$tmp/kamailio.log" 2>&1 &
	kam_pid=$!
	pids+=("$kam_pid") kam_side+=("$kam_pid")
	for _ in $(seq 50); do
		[[ -n $(ss -Huln "sport = :$KAM_PORT") ]] && break
		kill -0 "$kam_pid" 2>/dev/null || { echo "kamailio exited:" >&2; cat "$tmp/kamailio.log" >&2; return 1; }
		sleep 0.1
	done
	local pid
	pid=$(bg_sipp "$tmp/callee.out" -sf "$scen/agent-hangs-up.xml" -i 127.0.0.1 -p "$CALLEE_PORT" \
		-buff_size "$BUFF_SIZE" "127.0.0.1:$KAM_PORT")
	pids+=("$pid") kam_side+=("$pid")
	echo "kamailio: pid $kam_pid on udp 127.0.0.1:$KAM_PORT, $KAMAILIO_CHILDREN children, callee on $CALLEE_PORT" >&2
}

# ---- one step ---------------------------------------------------------------

# step SYSTEM RATE SECONDS runs one burst at RATE calls/s for SECONDS against
# SYSTEM, prints the step's line and sets step_clean=1 when it was clean,
# step_ok and step_failed to SIPp's counts and step_503 to the calls SIPp
# aborted on a 503.
step_clean=0 step_ok=0 step_failed=0 step_503=0
step() {
	local sys=$1 rate=$2 secs=$3 target_port calls procs k m rate_k ok=0 failed=0 created=0 retrans=0
	local achieved=0 e0 e1 d0 d1 c0 c1 t0 t1 cpu pid_list=() dir=$tmp/$sys-$rate-$RANDOM server
	case $sys in
	ccswitch) target_port=$SIP_PORT server=$cc_pid ;;
	kamailio) target_port=$KAM_PORT server=$kam_pid ;;
	esac
	calls=$((rate * secs))
	procs=$(((rate + PER_SOURCE - 1) / PER_SOURCE))
	mkdir -p "$dir"
	e0=$(udp_errors) d0=$(sock_drops "$target_port") c0=$(cpu_ticks "$server")
	t0=$(date +%s.%N)
	for ((k = 1; k <= procs; k++)); do
		# split the calls evenly; each process runs at its share of the rate
		m=$((calls * k / procs - calls * (k - 1) / procs))
		rate_k=$(awk -v m="$m" -v s="$secs" 'BEGIN { printf "%.3f", m / s }')
		(cd "$dir" && exec sipp -sf "$scen/caller-waits.xml" -s 5000 -i "127.0.1.$k" -p "$CALLER_PORT" \
			-r "$rate_k" -rp 1000 -m "$m" -l "$m" -buff_size "$BUFF_SIZE" \
			-timeout "$((secs + 45))s" -recv_timeout 20000 \
			-trace_err -trace_stat -stf "$dir/stat-$k.csv" -fd 1 -nostdin \
			"127.0.0.1:$target_port") >"$dir/caller-$k.out" 2>&1 &
		pid_list+=("$!")
		callers=("${pid_list[@]}")
	done
	for p in "${pid_list[@]}"; do wait "$p" || true; done
	callers=()
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$server") d1=$(sock_drops "$target_port") e1=$(udp_errors)
	local alive=1
	kill -0 "$server" 2>/dev/null || alive=0
	# Last line of each -trace_stat CSV (';'-separated): 8 CallRate(C),
	# 13 TotalCallCreated, 16 SuccessfulCall(C), 18 FailedCall(C),
	# 58 Retransmissions(C).
	for ((k = 1; k <= procs; k++)); do
		local line
		line=$(tail -n 1 "$dir/stat-$k.csv" 2>/dev/null || true)
		if [[ -z $line || $line == StartTime* ]]; then
			echo "  $sys caller $k left no statistics: $(tail -n 3 "$dir/caller-$k.out" | tr '\n' ' ')" >&2
			failed=$((failed + calls * k / procs - calls * (k - 1) / procs))
			continue
		fi
		local a c o f r
		read -r a c o f r < <(awk -F';' '{ print $8, $13, $16, $18, $58 }' <<<"$line")
		achieved=$(awk -v x="$achieved" -v y="$a" 'BEGIN { print x + y }')
		created=$((created + c)) ok=$((ok + o)) failed=$((failed + f)) retrans=$((retrans + r))
	done
	if ((alive)); then
		cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (t1 - t0) }')
	else
		cpu=exited d1=$d0
	fi
	step_clean=0 step_ok=$ok step_failed=$failed
	step_503=$(cat "$dir"/*_errors.log 2>/dev/null | grep -c "Aborting call on unexpected message.*received 'SIP/2.0 503" || true)
	local verdict=unclean
	if ((failed == 0 && ok == calls)) && awk -v a="$achieved" -v r="$rate" 'BEGIN { exit !(a >= 0.95 * r) }'; then
		step_clean=1 verdict=clean
	fi
	printf '%-8s rate=%-5d calls=%-6d ok=%-6d failed=%-5d achieved=%-7.1f retrans=%-5d drops=%-5d rcvbuf_errors=%-5d cpu=%-4s callers=%d %s\n' \
		"$sys" "$rate" "$calls" "$ok" "$failed" "$achieved" "$retrans" "$((d1 - d0))" "$((e1 - e0))" "$cpu" "$procs" "$verdict"
	if ((step_clean == 0)); then
		# say why, from SIPp's own error logs
		local errs
		errs=$(cat "$dir"/*_errors.log 2>/dev/null | grep -v -e 'Maximum number of open sockets' -e '^The following events' |
			grep -o -e 'received .SIP/2.0 [0-9]* [A-Za-z ]*' -e 'receive timeout on message[^:]*' -e 'Aborting call on unexpected message' \
				-e 'Max Retrans[^(]*' -e 'Dead call' | sort | uniq -c | sort -rn | head -n 5 || true)
		[[ -n $errs ]] && sed 's/^/  sipp errors: /' <<<"$errs" >&2
		((alive)) || echo "  $sys exited during the step" >&2
		if [[ $sys == ccswitch ]]; then
			# a panic's message and its first frames in ccswitch's own code, or the last lines
			local log
			log=$(awk '/^(panic|fatal error):/ { p = 1; print; next } p && /^github.com\/ccswitch\/ccswitch/ && n < 2 { print; getline; print; n++ }' "$tmp/ccswitch.log")
			[[ -n $log ]] || log=$(grep -v '^$' "$tmp/ccswitch.log" | tail -n 3 || true)
			[[ -n $log ]] && sed 's/^/  ccswitch log: /' <<<"$log" >&2
		fi
		if [[ -n ${KEEP_TMP:-} ]]; then echo "  step logs: $dir" >&2; fi
	fi
	return 0
}

# ---- the run ----------------------------------------------------------------

declare -A best active
for s in $SYSTEMS; do
	best[$s]=0
	active[$s]=1
	case $s in
	ccswitch) start_ccswitch ;;
	kamailio) start_kamailio ;;
	esac
done
sleep 1

echo "steps: $STEPS calls/s, ${SECONDS_PER_STEP}s each, ${PAUSE}s apart; callers: at most $PER_SOURCE calls/s per source IP"
first=1
for rate in $STEPS; do
	any=0
	for s in $SYSTEMS; do
		((active[$s])) || continue
		any=1
		((first)) || sleep "$PAUSE"
		first=0
		step "$s" "$rate" "$SECONDS_PER_STEP"
		if ((step_clean)); then
			best[$s]=$rate
		else
			active[$s]=0
			# a collapsed step leaves retransmitting transactions behind
			if [[ $s == ccswitch ]]; then
				stop "${cc_side[@]}"
				forget "${cc_side[@]}"
			else
				stop "${kam_side[@]}"
				forget "${kam_side[@]}"
			fi
		fi
	done
	((any)) || break
done

# ---- overload: 2R for ccswitch ------------------------------------------------

goodput=na refused=na
if ((OVERLOAD)) && [[ " $SYSTEMS " == *" ccswitch "* ]] && ((best[ccswitch] > 0)); then
	r=${best[ccswitch]}
	if ((active[ccswitch])); then
		# clean up to the cap: start afresh all the same
		stop "${cc_side[@]}"
		forget "${cc_side[@]}"
	fi
	cc_side=()
	start_ccswitch
	sleep "$PAUSE"
	echo "overload: ccswitch at 2 x $r calls/s" >&2
	step ccswitch "$((2 * r))" "$SECONDS_PER_STEP"
	stop "${cc_side[@]}"
	forget "${cc_side[@]}"
	goodput=$(awk -v ok="$step_ok" -v s="$SECONDS_PER_STEP" -v r="$r" 'BEGIN { printf "%.2f", ok / s / r }')
	refused=$(awk -v f="$step_failed" -v n="$step_503" 'BEGIN { printf "%.2f", (f > 0) ? (n > f ? f : n) / f : 1 }')
	echo "overload: completed $step_ok of $((2 * r * SECONDS_PER_STEP)) calls ($goodput x $r calls/s); $step_503 of $step_failed failed calls refused with 503" >&2
fi

cc=${best[ccswitch]:-0} km=${best[kamailio]:-0}
for s in $SYSTEMS; do
	if ((active[$s])); then
		echo "$s: clean at every step up to the cap (${best[$s]} calls/s); add higher STEPS to find its limit" >&2
	fi
done
awk -v n="$cc" -v m="$km" -v g="$goodput" -v s="$refused" 'BEGIN {
	r = (m > 0) ? sprintf("%.2f", n / m) : "inf"
	printf "ccswitch_cps=%d kamailio_cps=%d ratio=%s overload_goodput=%s refused_503=%s\n", n, m, r, g, s
}'
