# Sourced by every script that starts processes, so that none outlives the script.
#
# stop_children ends every process the sourcing shell started that still runs, with all of
# their descendants: background servers (which bash starts with SIGINT ignored, so a Ctrl-C
# alone never reaches them), and the foreground command a SIGTERM or SIGHUP interrupted
# (bash runs the EXIT trap at once on those, while that command still runs). SIGTERM first,
# SIGKILL for whatever is left after STOP_GRACE_SECONDS. Processes are found by parent id in
# this shell's own tree, so nothing anyone else started is touched. A process started
# inside $(...) or <(...) leaves that tree when the substitution ends (it is reparented to
# init): start long-running processes in the script's own shell.
#
# Use: source this file, and call stop_children first in the script's EXIT trap:
#   cleanup() { stop_children; rm -rf "$WORK"; }
#   trap cleanup EXIT
STOP_GRACE_SECONDS="${STOP_GRACE_SECONDS:-5}"

# The live descendants of this shell, except the command substitution asking (and the ps
# and awk it runs).
_descendants() {
    local asking="$BASHPID"
    ps -e -o pid= -o ppid= -o stat= | awk -v root="$$" -v asking="$asking" '
        $3 !~ /^Z/ { parent[$1] = $2 }
        END {
            for (pid in parent) {
                up = pid
                while (up in parent && up != root && up != asking && up > 1) up = parent[up]
                if (up == root && pid != root) print pid
            }
        }'
}

_running() {
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null)" && [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

stop_children() {
    local pids pid alive
    pids="$(_descendants)"
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 $((STOP_GRACE_SECONDS * 10))); do
        alive=""
        for pid in $pids; do _running "$pid" && alive="$alive $pid"; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -n "$alive" ] && kill -KILL $alive 2>/dev/null
    wait 2>/dev/null
    return 0
}
