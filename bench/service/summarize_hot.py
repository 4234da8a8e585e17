"""Medians over interleaved rounds of the hot-lock benchmark: keycoord's hand-off rate of
one contended lock against the same hand-off in raw SQL, and the lowest waiter's share.

usage: summarize_hot.py ROWS_FILE
ROWS_FILE holds ServiceBench hot-lock rows "| keycoord HTTP API, one lock | clients |
cycles | cycles/s | p50 ms | p99 ms | lowest share |" and pgbench_stats.py rows labelled
"pgbench raw SQL, one lock".
"""
import statistics
import sys

keycoord, floor = [], []
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if cells[0] == "keycoord HTTP API, one lock" and len(cells) == 7:
        keycoord.append([float(c) for c in cells[2:]])
    elif cells[0] == "pgbench raw SQL, one lock" and len(cells) == 6:
        floor.append([float(c) for c in cells[2:]])

print("| hot lock (16 clients, one name) | rounds | hand-offs/s | p50 ms | p99 ms | lowest waiter's share of the mean | vs raw SQL |")
print("|---|---|---|---|---|---|---|")
floor_rate = statistics.median(s[1] for s in floor) if floor else 0
if keycoord:
    rate = statistics.median(s[1] for s in keycoord)
    ratio = f"{rate / floor_rate:.2f}x" if floor_rate else ""
    print(f"| keycoord HTTP API | {len(keycoord)} | {rate:.0f} | {statistics.median(s[2] for s in keycoord):.2f} | "
          f"{statistics.median(s[3] for s in keycoord):.2f} | {min(s[4] for s in keycoord):.2f} | {ratio} |")
if floor:
    print(f"| pgbench raw SQL | {len(floor)} | {floor_rate:.0f} | {statistics.median(s[2] for s in floor):.2f} | "
          f"{statistics.median(s[3] for s in floor):.2f} | | |")
print()
print("Every round:")
print()
for line in open(sys.argv[1]):
    print(line.rstrip())
