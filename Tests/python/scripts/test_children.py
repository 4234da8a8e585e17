"""scripts/lib/children.sh: a script that sources it and calls stop_children in its EXIT
trap leaves no process behind — on success, on failure and on SIGTERM — whether the
process ran in the background, in the foreground, or below another one."""
import os
import signal
import subprocess
import textwrap
import time

import pytest

LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "lib", "children.sh")
SETTLE_TIMEOUT = 15


def descendants(root):
    """Every live process below `root`, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found = set()
    for pid in parents:
        up = pid
        while up in parents and up not in (root, 0, 1):
            up = parents[up]
        if up == root and pid != root:
            found.add(pid)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start(tmp_path, ending):
    """A script with a background server, a background subshell holding its own child,
    and a foreground command; `ending` is what it does once they all run."""
    ready = tmp_path / "ready"
    script = tmp_path / "script.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        set -euo pipefail
        source {LIBRARY}
        STOP_GRACE_SECONDS=2
        trap stop_children EXIT
        sleep 600 &
        ( sleep 600 & wait ) &
        touch {ready}
        {ending}
        """))
    process = subprocess.Popen(["bash", str(script)])
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the script did not start its children"
        time.sleep(0.02)
    return process


@pytest.mark.parametrize("ending,expected", [("sleep 0.5", 0), ("sleep 0.5; false", 1)])
def test_nothing_outlives_an_ending_script(tmp_path, ending, expected):
    process = start(tmp_path, ending)
    started = descendants(process.pid)
    try:
        assert len(started) >= 3, started  # sleep, subshell, its sleep (and the foreground sleep)
        assert process.wait(timeout=SETTLE_TIMEOUT) == expected
        assert [pid for pid in started if alive(pid)] == []
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_nothing_outlives_a_terminated_script(tmp_path):
    process = start(tmp_path, "sleep 600")
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while len(started := descendants(process.pid)) < 4:  # the foreground sleep too
        assert time.monotonic() < deadline, started
        time.sleep(0.02)
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=SETTLE_TIMEOUT)
        assert [pid for pid in started if alive(pid)] == []
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
