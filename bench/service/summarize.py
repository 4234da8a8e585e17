"""Medians over interleaved rounds of the lock-cycle benchmark, with the ratio the goal is
stated in (keycoord HTTP cycle time over the pgbench raw SQL cycle time).

usage: summarize.py ROWS_FILE
ROWS_FILE holds the Markdown rows ServiceBench and pgbench_stats.py print, one per round
and level: "| client | clients | cycles | cycles/s | p50 ms | p99 ms |".
"""
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 6:
        continue
    client, clients = cells[0], int(cells[1])
    rows.setdefault((client, clients), []).append([float(c) for c in cells[2:]])

print("| client | clients | rounds | cycles/s | p50 ms | p99 ms | cycle time vs pgbench |")
print("|---|---|---|---|---|---|---|")
levels = sorted({clients for _, clients in rows})
for client in ("keycoord HTTP API", "pgbench raw SQL"):
    for clients in levels:
        samples = rows.get((client, clients))
        if not samples:
            continue
        rate, p50, p99 = (statistics.median(s[i] for s in samples) for i in (1, 2, 3))
        floor = rows.get(("pgbench raw SQL", clients))
        ratio = ""
        if client == "keycoord HTTP API" and floor:
            ratio = f"{statistics.median(s[1] for s in floor) / rate:.2f}x"
        print(f"| {client} | {clients} | {len(samples)} | {rate:.0f} | {p50:.2f} | {p99:.2f} | {ratio} |")
print()
print("Every round:")
print()
print("| client | clients | cycles | cycles/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    if line.startswith("| keycoord") or line.startswith("| pgbench"):
        print(line.rstrip())
