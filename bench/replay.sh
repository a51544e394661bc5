#!/usr/bin/env bash
# replay.sh — `ccswitch replay` on a generated script of INTERACTIONS
# interactions (default 10,000: calls and chats, one every 1.8 s) offered to
# AGENTS agents (default 100) who answer after 2 s and release after 3 min,
# with an expectation on every tenth interaction, a never and the queues'
# counts at the end: how long the replay takes in virtual time.
#
# Goal: wall_s <= 1 (the whole process: reading the script, playing it,
# checking and printing), on 2 shared cores.
#
# Environment: INTERACTIONS (10000), AGENTS (100), ROUNDS (3: the fastest
# run is kept).
#
# Last line of output, always: interactions=N expectations=M wall_s=X
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

INTERACTIONS=${INTERACTIONS:-10000}
AGENTS=${AGENTS:-100}
ROUNDS=${ROUNDS:-3}
export LC_ALL=C

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
posint INTERACTIONS "$INTERACTIONS"
posint AGENTS "$AGENTS"
posint ROUNDS "$ROUNDS"
command -v python3 >/dev/null || { echo "replay.sh needs python3 to read the result" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building ccswitch into $tmp ..." >&2
go build -o "$tmp/ccswitch" ./cmd/ccswitch

cat >"$tmp/center.yaml" <<YAML
center: {name: Replay Bench}
queues:
  - {name: calls, media: voice, number: "7000", sl_target: 20s}
  - {name: chats, media: im, sl_target: 60s}
agents:
  - {group: agent, count: $AGENTS, first_number: 3001, skills: {calls: 5, chats: 5},
     capacity: {voice: 1, im: 2}, clients: {"*": "*"}}
im:
  position_every: 30s
  callback_offer_after: 5m
  bot:
    greeting: "Welcome to {center}!"
    reason: {prompt: "How can we help?", options: [{key: "1", label: billing, queue: chats}], default_queue: chats}
    handoff: "Connecting you to an agent."
YAML

# Every fourth interaction is a chat; every tenth has an expectation.
awk -v n="$INTERACTIONS" -v agents="$AGENTS" 'BEGIN {
	print "center: center.yaml"
	print "script:"
	for (a = 0; a < agents; a++) {
		printf "  - {at: 0s, agent: %d, do: login_ready}\n", 3001 + a
		printf "  - {at: 0s, agent: %d, do: auto_answer, answer_after: 2s, release_after: 3m}\n", 3001 + a
	}
	calls = 0
	for (i = 1; i <= n; i++) {
		at = (i - 1) * 1.8
		if (i % 4 == 0) {
			printf "  - {at: %.1f, chat: k%d, network: webchat, from: visitor-%d, client: \"Firefox 128\", say: [hi, \"1\"]}\n", at, i, i
		} else {
			printf "  - {at: %.1f, call: c%d, from: \"+1555%07d\", to: \"7000\"}\n", at, i, i
			calls++
		}
	}
	print "expect:"
	for (i = 10; i <= n; i += 10) {
		if (i % 4 == 0) {
			printf "  - {chat: k%d, hears: \"Welcome to Replay Bench\", within: 1s}\n", i
			printf "  - {chat: k%d, event: EventEstablished, queue: chats, within: 5m}\n", i
		} else {
			printf "  - {call: c%d, event: EventEstablished, queue: calls, within: 5m}\n", i
		}
	}
	printf "  - {never: {event: EventAbandoned}}\n"
	printf "  - {at_end: {queue: calls, offered: %d, abandoned: 0}}\n", calls
	printf "  - {at_end: {queue: chats, offered: %d, abandoned: 0}}\n", n - calls
}' >"$tmp/script.yaml"
echo "script: $(wc -l <"$tmp/script.yaml") lines, $(wc -c <"$tmp/script.yaml") bytes" >&2

best=""
for ((r = 1; r <= ROUNDS; r++)); do
	start=$EPOCHREALTIME
	status=0
	"$tmp/ccswitch" replay "$tmp/script.yaml" --json >"$tmp/result.json" || status=$?
	end=$EPOCHREALTIME
	wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
	read -r interactions expectations failed < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["scripts"][0]; print(s["interactions"], s["met"]+s["failed"], s["failed"])' "$tmp/result.json")
	echo "round $r: interactions=$interactions expectations=$expectations failed=$failed status=$status wall_s=$wall" >&2
	if ((status != 0)); then
		echo "the replay failed (status $status); its expectations:" >&2
		python3 -c 'import json,sys; [print(o["expect"], "-", o["detail"], file=sys.stderr) for o in json.load(open(sys.argv[1]))["scripts"][0]["expectations"] if not o["met"]]' "$tmp/result.json" | head -20
		exit 1
	fi
	if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
done
printf 'interactions=%s expectations=%s wall_s=%s\n' "$interactions" "$expectations" "$best"
