"""Medians over interleaved rounds of the lock-cycle benchmark, with the ratio the goal is
stated in: keycoord's cycles/s over those of the same SQL by pgbench, against each floor
(the statements prepared, as keycoord sends them, and unprepared).

usage: summarize.py ROWS_FILE
ROWS_FILE holds the Markdown rows ServiceBench and pgbench_stats.py print, one per round
and level: "| client | clients | cycles | cycles/s | p50 ms | p99 ms |".
"""
import statistics
import sys

CLIENTS = ("keycoord HTTP API", "pgbench prepared", "pgbench unprepared")
rows = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 6 or cells[0] not in CLIENTS:
        continue
    client, clients = cells[0], int(cells[1])
    rows.setdefault((client, clients), []).append([float(c) for c in cells[2:]])


def median_rate(client, clients):
    samples = rows.get((client, clients))
    return statistics.median(s[1] for s in samples) if samples else None


print("| client | clients | rounds | cycles/s | p50 ms | p99 ms | throughput vs prepared SQL | vs unprepared SQL |")
print("|---|---|---|---|---|---|---|---|")
levels = sorted({clients for _, clients in rows})
for client in CLIENTS:
    for clients in levels:
        samples = rows.get((client, clients))
        if not samples:
            continue
        rate, p50, p99 = (statistics.median(s[i] for s in samples) for i in (1, 2, 3))
        ratios = ["", ""]
        if client == CLIENTS[0]:
            for index, floor in enumerate(CLIENTS[1:]):
                floor_rate = median_rate(floor, clients)
                if floor_rate:
                    ratios[index] = f"{rate / floor_rate:.2f}x"
        print(f"| {client} | {clients} | {len(samples)} | {rate:.0f} | {p50:.2f} | {p99:.2f} | {ratios[0]} | {ratios[1]} |")
print()
print("Every round:")
print()
print("| client | clients | cycles | cycles/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    if any(line.startswith(f"| {client} ") for client in CLIENTS):
        print(line.rstrip())
