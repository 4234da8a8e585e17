"""Medians over interleaved rounds of the hot-lock benchmark: keycoord's hand-off rate of
one contended lock against the same hand-off in raw SQL (prepared and unprepared), and the
lowest waiter's share.

usage: summarize_hot.py ROWS_FILE
ROWS_FILE holds ServiceBench hot-lock rows "| keycoord HTTP API, one lock | clients |
cycles | cycles/s | p50 ms | p99 ms | lowest share |" and pgbench_stats.py rows labelled
"pgbench prepared, one lock" and "pgbench unprepared, one lock".
"""
import statistics
import sys

FLOORS = ("pgbench prepared, one lock", "pgbench unprepared, one lock")
keycoord, floors = [], {floor: [] for floor in FLOORS}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if cells[0] == "keycoord HTTP API, one lock" and len(cells) == 7:
        keycoord.append([float(c) for c in cells[2:]])
    elif cells[0] in floors and len(cells) == 6:
        floors[cells[0]].append([float(c) for c in cells[2:]])

print("| hot lock (16 clients, one name) | rounds | hand-offs/s | p50 ms | p99 ms "
      "| lowest waiter's share of the mean | vs prepared SQL | vs unprepared SQL |")
print("|---|---|---|---|---|---|---|---|")
floor_rates = {floor: statistics.median(s[1] for s in samples) for floor, samples in floors.items() if samples}
if keycoord:
    rate = statistics.median(s[1] for s in keycoord)
    ratios = [f"{rate / floor_rates[floor]:.2f}x" if floor in floor_rates else "" for floor in FLOORS]
    print(f"| keycoord HTTP API | {len(keycoord)} | {rate:.0f} | {statistics.median(s[2] for s in keycoord):.2f} | "
          f"{statistics.median(s[3] for s in keycoord):.2f} | {min(s[4] for s in keycoord):.2f} | {ratios[0]} | {ratios[1]} |")
for floor, samples in floors.items():
    if samples:
        print(f"| {floor.removesuffix(', one lock')} | {len(samples)} | {floor_rates[floor]:.0f} | "
              f"{statistics.median(s[2] for s in samples):.2f} | {statistics.median(s[3] for s in samples):.2f} | | | |")
print()
print("Every round:")
print()
for line in open(sys.argv[1]):
    print(line.rstrip())
