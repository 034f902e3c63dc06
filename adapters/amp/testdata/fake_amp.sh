#!/bin/sh
# Stand-in for amp in the process tests (see README.md). It logs its
# arguments, directory and stdin to $FAKE_AMP_LOG and answers the n-th
# prompt (counted over every process of a test, so a continued thread goes
# on where the last process stopped) with the n-th turn of
# $FAKE_AMP_RECORDING: the lines up to and including its n-th result line.
#   FAKE_AMP_ONE_TURN=1  exit 0 after one turn, as a per-turn amp would
#   FAKE_AMP_CRASH=<how> after the first prompt, print the turn's first
#                        line, complain on stderr and end: exit <how>, or
#                        kill itself when <how> is "kill"
#   FAKE_AMP_CHILD=1     start a long-lived child (a tool) first
#   FAKE_AMP_HANG=1      leave the first turn unfinished: print it without
#                        its result line, and wait
echo "argv: $*" >>"$FAKE_AMP_LOG"
echo "cwd: $(pwd)" >>"$FAKE_AMP_LOG"
echo "key: ${AMP_API_KEY:-none}" >>"$FAKE_AMP_LOG"
if [ -n "$FAKE_AMP_CHILD" ]; then
	sleep 600 &
	echo "child: $!" >>"$FAKE_AMP_LOG"
fi
while IFS= read -r line; do
	echo "stdin: $line" >>"$FAKE_AMP_LOG"
	turn=$(grep -c '^stdin: ' "$FAKE_AMP_LOG")
	if [ -n "$FAKE_AMP_CRASH" ]; then
		head -n 1 "$FAKE_AMP_RECORDING"
		echo "Error: lost the connection to the Amp server" >&2
		echo "second line" >&2
		if [ "$FAKE_AMP_CRASH" = kill ]; then
			kill -KILL $$
		fi
		exit "$FAKE_AMP_CRASH"
	fi
	if [ -n "$FAKE_AMP_HANG" ] && [ "$turn" = 1 ]; then
		awk 'c == 0 && !/"type":"result"/ { print } /"type":"result"/ { c++ }' "$FAKE_AMP_RECORDING"
		continue
	fi
	awk -v n="$turn" 'c == n - 1 { print } /"type":"result"/ { c++ }' "$FAKE_AMP_RECORDING"
	if [ -n "$FAKE_AMP_ONE_TURN" ]; then
		exit 0
	fi
done
