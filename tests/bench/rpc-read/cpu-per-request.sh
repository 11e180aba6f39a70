#!/usr/bin/env bash
# CPU cost per request of one running node, server and load tool apart.
#
# The read benchmark (run.sh) gives requests/s with the node and wrk sharing the machine's
# cores, so a rate mixes the node's cost with the client's (wrk decrypting stele's TLS,
# which it does not do for anvil's plain HTTP). This script runs wrk for DURATION against
# an already running node and prints, per request: the node's user and kernel CPU time
# (from /proc/PID/stat) and wrk's own CPU time (from /usr/bin/time).
#
# Usage: cpu-per-request.sh PID URL BODY [DURATION]
#   PID   the node process (stele up, stele serve or anvil)
#   URL   its RPC endpoint (https://… for stele: wrk does not verify the certificate)
#   BODY  the JSON-RPC request (e.g. `python3 cases.py body WORK/stele-target.json eth_getBalance`)
# Env: THREADS (2), CONNECTIONS (32), as in run.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 3 ] || { sed -n '2,/^set /p' "$0" | sed '$d' >&2; exit 2; }
pid="$1" url="$2" body="$3" duration="${4:-8s}"
[ -r "/proc/$pid/stat" ] || { echo "cpu-per-request.sh: no process $pid" >&2; exit 2; }
command -v wrk >/dev/null || { echo "cpu-per-request.sh: wrk missing (apt-get install -y wrk)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "cpu-per-request.sh: /usr/bin/time missing (apt-get install -y time)" >&2; exit 2; }

# utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks. The command name
# (field 2) may hold spaces, so count from the closing parenthesis.
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12, $13}'; }
tick_hz="$(getconf CLK_TCK)"

read -r user0 sys0 < <(cpu_ticks)
out="$(BODY="$body" /usr/bin/time -f 'wrk-cpu %U %S' \
  wrk -t"${THREADS:-2}" -c"${CONNECTIONS:-32}" -d"$duration" -s "$here/wrk-post.lua" "$url" 2>&1)"
read -r user1 sys1 < <(cpu_ticks)

requests="$(awk '/requests in/ {print $1}' <<<"$out")"
[ -n "$requests" ] && [ "$requests" -gt 0 ] || { echo "cpu-per-request.sh: wrk made no requests:" >&2; echo "$out" >&2; exit 1; }
python3 - "$requests" "$tick_hz" "$user0" "$user1" "$sys0" "$sys1" "$(awk '/wrk-cpu/ {print $2 + $3}' <<<"$out")" "$url" <<'EOF'
import sys
n, hz, u0, u1, s0, s1, wrk_s, url = sys.argv[1:]
n, hz = int(n), int(hz)
per = lambda seconds: seconds * 1e6 / n
user, system = per((int(u1) - int(u0)) / hz), per((int(s1) - int(s0)) / hz)
print(f"{url}: {n} requests; node user {user:.1f} us + kernel {system:.1f} us per request; "
      f"wrk {per(float(wrk_s)):.1f} us per request")
EOF
