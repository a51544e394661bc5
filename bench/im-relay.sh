#!/usr/bin/env bash
# im-relay.sh — chat messages per second and added latency of the IM
# gateway, against the XMPP server it sits behind, in the same run.
#
# One loopback Prosody (Debian package prosody) serves CUSTOMERS customer
# accounts and AGENTS agent accounts. bench/imrelay (Go XMPP clients,
# mellium) runs twice against it:
#   direct:  customer i writes to agent account agent<i mod AGENTS> through
#            Prosody; the agent's client echoes each message back.
#   gateway: customer i writes to the center (support@support.example.test,
#            ccswitch serve's IM gateway, an XEP-0114 component of the same
#            Prosody); the bot routes the chat at once to one of AGENTS CTI
#            agents (WebSocket desktops), which echo each line back into the
#            chat; the gateway relays it to the customer.
# Throughput: each customer keeps WINDOW messages in flight for DURATION
# seconds after a warm-up (a closed loop, as fast as the path goes); a
# round trip is two messages relayed. Latency: the customers together start
# RATE round trips a second at an even pace (an open loop at a load both
# paths carry) for DURATION seconds. The script runs the modes in turn,
# ROUNDS times, and keeps each mode's best rate and lowest paced p99.
#
# Then bench/imsessions holds SESSIONS chat sessions in the gateway in
# process and reports the memory.
#
# The last line is:
#   gateway_msgs_s=N direct_msgs_s=M ratio=R added_p99_ms=X
# with R = N/M and X = (gateway p99 round trip - direct p99 round trip)/2
# at the paced load, the latency the gateway adds to one message (a round
# trip crosses it twice). Goal: R >= 0.8, X <= 2.
#
# The center runs as it would beside its XMPP server on one machine: with
# CENTER_PROCS (1) Go processors (GOMAXPROCS). Prosody is one Lua thread;
# a center allowed both cores here spins the Go scheduler on the core
# Prosody and the load generator need, and costs about a fifth more CPU
# per message (measured: 25-27 against 21-22 µs). The direct path has no
# center, so this touches only the gateway's side.
#
# Environment: CUSTOMERS (50), AGENTS (10), WINDOW (4), RATE (1000),
# DURATION (10), ROUNDS (3), SESSIONS (100000; 0 skips), BASE_PORT (26000),
# CENTER_PROCS (1), PPROF (serve --pprof), KEEP_TMP.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CUSTOMERS=${CUSTOMERS:-50}
AGENTS=${AGENTS:-10}
WINDOW=${WINDOW:-4}
RATE=${RATE:-1000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CENTER_PROCS=${CENTER_PROCS:-1}
SESSIONS=${SESSIONS:-100000}
BASE_PORT=${BASE_PORT:-26000}
for v in CUSTOMERS AGENTS WINDOW RATE DURATION ROUNDS BASE_PORT CENTER_PROCS; do posint "$v" "${!v}"; done
case $SESSIONS in '' | *[!0-9]*) echo "SESSIONS must be a whole number" >&2; exit 2 ;; esac
for p in prosody prosodyctl; do
	command -v "$p" >/dev/null 2>&1 || { echo "$p not found (apt-get install prosody)" >&2; exit 2; }
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
C2S_PORT=$BASE_PORT
COMP_PORT=$((BASE_PORT + 1))
HTTP_PORT=$((BASE_PORT + 2))
SECRET=bench-secret
tmp=$(mktemp -d "${TMPDIR:-/tmp}/im-relay.XXXXXX")
pids=()

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n ${KEEP_TMP:-} ]]; then echo "logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port PORT waits (up to 30 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

echo "building into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch
go build -o "$tmp/imrelay" ./bench/imrelay
go build -o "$tmp/imsessions" ./bench/imsessions

mkdir -p "$tmp/prosody/data" "$tmp/prosody/certs"
cat >"$tmp/prosody/prosody.cfg.lua" <<LUA
run_as_root = true
pidfile = "$tmp/prosody/prosody.pid"
data_path = "$tmp/prosody/data"
certificates = "$tmp/prosody/certs"
use_ipv6 = false
interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = { $C2S_PORT }
component_ports = { $COMP_PORT }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "posix" }
modules_disabled = { "s2s"; "tls"; "offline" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
log = { { levels = { min = "warn" }, to = "file", filename = "$tmp/prosody/prosody.log" } }
-- Lua 5.4's generational collector: Prosody's documented setting for a
-- busy server. Its default (incremental) spends up to a fifth of its time
-- sweeping; both paths run against this same server.
gc = { mode = "generational" }
VirtualHost "example.test"
Component "support.example.test"
    component_secret = "$SECRET"
LUA
PCTL=(prosodyctl --config "$tmp/prosody/prosody.cfg.lua")
echo "registering $CUSTOMERS customers and $AGENTS agents ..." >&2
for i in $(seq 0 $((CUSTOMERS - 1))); do "${PCTL[@]}" register "customer$i" example.test pw >/dev/null 2>&1; done
for i in $(seq 0 $((AGENTS - 1))); do "${PCTL[@]}" register "agent$i" example.test pw >/dev/null 2>&1; done
prosody --config "$tmp/prosody/prosody.cfg.lua" -F >"$tmp/prosody/stdout" 2>&1 &
prosody_pid=$!
pids+=("$prosody_pid")
wait_port "$C2S_PORT"
wait_port "$COMP_PORT"

cat >"$tmp/bench.yaml" <<YAML
center: {name: Relay Bench}
queues:
  - {name: chat, media: im}
agents:
  - {group: bench-agent, count: $AGENTS, password: pw, ready: false, skills: {chat: 5},
     capacity: {im: $(((CUSTOMERS + AGENTS - 1) / AGENTS)), voice: 0, voip: 0, callback: 0}, clients: {"*": "*"}}
im:
  position_every: 0s
  callback_offer_after: 0s
  client_wait: 0s
  messages_per_minute: 1000000
  bot: {handoff: ""}
YAML
GOMAXPROCS=$CENTER_PROCS "$tmp/ccswitch" serve --config "$tmp/bench.yaml" --sip 127.0.0.1:0 --http "127.0.0.1:$HTTP_PORT" \
	--store "$tmp/cc.db" --log-level warn ${PPROF:+--pprof} \
	--xmpp-component "127.0.0.1:$COMP_PORT" --xmpp-domain support.example.test --xmpp-secret "$SECRET" \
	>"$tmp/ccswitch.log" 2>&1 &
cc_pid=$!
pids+=("$cc_pid")
wait_port "$HTTP_PORT"

# relay MODE RATE runs imrelay: closed loop when RATE is 0, else paced.
relay() {
	"$tmp/imrelay" -mode "$1" -rate "$2" -c2s "127.0.0.1:$C2S_PORT" -domain example.test \
		-center support@support.example.test -cti "ws://127.0.0.1:$HTTP_PORT/cti" \
		-customers "$CUSTOMERS" -agents "$AGENTS" -window "$WINDOW" -duration "${DURATION}s"
}
# ticks PID prints the CPU time (user+system, clock ticks) PID used so far.
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# cpu_per_msg T0 T1 MSGS prints the microseconds of CPU per message.
cpu_per_msg() { awk -v a="$1" -v b="$2" -v m="$3" -v hz="$HZ" 'BEGIN { printf "%.1f", (m > 0 ? (b - a) / hz * 1e6 / m : 0) }'; }
# field NAME JSON prints a number field of a one-line JSON object.
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "center: GOMAXPROCS=$CENTER_PROCS"
best_gw=0 best_dir=0 gw_p99='' dir_p99=''
# better A B: is A > B (numbers)?
better() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
for r in $(seq "$ROUNDS"); do
	for mode in direct gateway; do
		p0=$(ticks "$prosody_pid") c0=$(ticks "$cc_pid")
		out=$(relay "$mode" 0) || { echo "imrelay $mode failed; ccswitch log:" >&2; tail -20 "$tmp/ccswitch.log" >&2; exit 1; }
		p1=$(ticks "$prosody_pid") c1=$(ticks "$cc_pid")
		# CPU per message over the whole run: logins and warm-up
		# included, the same for both modes.
		msgs=$(field all_messages "$out")
		load=$(awk -v s="$(field load_cpu_s "$out")" -v m="$msgs" 'BEGIN { printf "%.1f", (m > 0 ? s * 1e6 / m : 0) }')
		echo "round $r, closed loop: $out cpu_us_per_msg: prosody=$(cpu_per_msg "$p0" "$p1" "$msgs") ccswitch=$(cpu_per_msg "$c0" "$c1" "$msgs") load=$load"
		rate=$(field msgs_s "$out")
		if [[ $mode == direct ]]; then
			better "$rate" "$best_dir" && best_dir=$rate
		else
			better "$rate" "$best_gw" && best_gw=$rate
		fi
	done
	for mode in direct gateway; do
		out=$(relay "$mode" "$RATE") || { echo "imrelay $mode -rate $RATE failed; ccswitch log:" >&2; tail -20 "$tmp/ccswitch.log" >&2; exit 1; }
		echo "round $r, $RATE round trips/s: $out"
		p99=$(field p99_ms "$out")
		if [[ $mode == direct ]]; then
			[[ -z $dir_p99 ]] || better "$dir_p99" "$p99" && dir_p99=$p99
		else
			[[ -z $gw_p99 ]] || better "$gw_p99" "$p99" && gw_p99=$p99
		fi
	done
done
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$cc_pid/status")
echo "ccswitch rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }') after the relay runs"

if ((SESSIONS > 0)); then
	echo "holding $SESSIONS chat sessions in process ..." >&2
	"$tmp/imsessions" -n "$SESSIONS" | tail -n1
fi

awk -v g="$best_gw" -v d="$best_dir" -v gp="$gw_p99" -v dp="$dir_p99" 'BEGIN {
	printf "gateway_msgs_s=%d direct_msgs_s=%d ratio=%.2f added_p99_ms=%.2f\n", g, d, (d > 0 ? g / d : 0), (gp - dp) / 2
}'
