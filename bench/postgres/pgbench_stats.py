"""Summarises a pgbench -l run as one Markdown table row.

usage: pgbench_stats.py CLIENTS SECONDS LOG_DIR [LABEL]
pgbench -l writes lines "client_id transaction_no latency_us script_no epoch epoch_us".
"""
import glob
import math
import os
import sys

clients, duration, folder = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
label = sys.argv[4] if len(sys.argv) > 4 else "pgbench raw SQL"
latencies = sorted(int(line.split()[2]) / 1000.0
                   for path in glob.glob(os.path.join(folder, "pgbench_log.*"))
                   for line in open(path) if line.strip())


def pct(p):
    return latencies[min(len(latencies) - 1, max(0, math.ceil(len(latencies) * p) - 1))] if latencies else 0


print(f"| {label} | {clients} | {len(latencies)} | {len(latencies) / duration:.0f} | {pct(0.5):.2f} | {pct(0.99):.2f} |")
