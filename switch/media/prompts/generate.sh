#!/bin/sh
# generate.sh builds the embedded announcement prompts of package media:
# G.711 µ-law, 8 kHz, mono, raw (no header), each padded with µ-law silence
# (0xFF) to a whole number of 20 ms frames (160 bytes).
#
# It is run once by hand and its outputs (*.ulaw) are committed; the build
# never runs it. Requires espeak-ng and sox (Debian: apt-get install espeak-ng sox).
# Regenerate with:  sh switch/media/prompts/generate.sh [NAME...]
# With names, only those prompts are made (the others stay byte for byte).
# Output depends on the espeak-ng voice data, so a regenerated prompt may
# differ byte for byte from the committed one (last run: espeak-ng 1.51, SoX 14.4.2).
set -eu

cd "$(dirname "$0")"
command -v espeak-ng >/dev/null || { echo "generate.sh: espeak-ng not found" >&2; exit 1; }
command -v sox >/dev/null || { echo "generate.sh: sox not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say NAME TEXT: speak TEXT with the US English voice into NAME.ulaw
# (when NAME was asked for, or no names were).
only=" $* "
say() {
	name=$1
	text=$2
	case "$only" in "  " | *" $name "*) ;; *) return 0 ;; esac
	espeak-ng -v en-us -s 160 -w "$tmp/$name.wav" "$text"
	# Trim the leading and trailing silence espeak adds, leave a short
	# natural gap on each side, normalise to -3 dBFS, resample to 8 kHz and
	# encode as raw µ-law.
	sox -D "$tmp/$name.wav" -r 8000 -c 1 -e u-law -t raw "$tmp/$name.raw" \
		silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
		pad 0.04 0.12 norm -3
	# Pad to a multiple of 160 bytes with µ-law silence (0xFF).
	size=$(wc -c <"$tmp/$name.raw")
	rem=$((size % 160))
	if [ "$rem" -ne 0 ]; then
		head -c $((160 - rem)) /dev/zero | tr '\000' '\377' >>"$tmp/$name.raw"
	fi
	mv "$tmp/$name.raw" "$name.ulaw"
}

say greeting "Thank you for calling. All our agents are busy. Please hold and you will be connected to the next available agent."
say you-are-number "You are number"
say in-the-queue "in the queue."
say your-estimated-wait-is "Your estimated wait is"
say less-than-one-minute "less than one minute."
say minute "minute."
say minutes "minutes."
say please-continue-to-hold "Please continue to hold."
say hundred "hundred"
say press "Press"
say to-be-called-back "to be called back, keeping your place."

for n in zero one two three four five six seven eight nine ten \
	eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen \
	twenty thirty forty fifty sixty seventy eighty ninety; do
	say "$n" "$n"
done

ls -l ./*.ulaw | awk '{ total += $5 } END { printf "%d prompts, %d bytes\n", NR, total }'
