#!/usr/bin/env python3
"""SQL results against their floor: task-runner binaries beside the database's
own CLI, on the same stored table, interleaved (A B C, A B C, ... with the
order rotated every round), reporting medians and the median of per-round
ratios to the floor.

The table has ROWS rows x 5 columns (int, md5 text, numeric(12,2), timestamp,
bool), built once per database (tr_bench_<rows>). The floors:
  PostgreSQL: psql -XAtq -o FILE -c "COPY (SELECT ...) TO STDOUT (FORMAT csv)"
  MariaDB:    mariadb -B -N -e "SELECT ..." > FILE
Each runner binary runs an `operator: sql` task whose rows stream into its
XCom file. Wall time, user+system CPU and peak RSS come from wait4(). The
runners' outputs are checked to be byte-identical across binaries.

  source target/test-env.sh
  python3 bench/sql_floor.py --db pg --rows 1000000 --rounds 7 base=/tmp/tr-base new=target/x86_64-unknown-linux-musl/release/task-runner
"""

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse


def wait_run(argv, stdout=None, env=None):
    """Runs argv under GNU time (so the peak RSS is the command's own, not
    this script's memory at fork); returns (wall s, user+system CPU s, peak RSS MB)."""
    with tempfile.NamedTemporaryFile("r") as t:
        timed = ["/usr/bin/time", "-o", t.name, "-f", "%U %S %M", *argv]
        t0 = time.perf_counter()
        p = subprocess.run(timed, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(argv)}\n{p.stderr.decode(errors='replace')[-2000:]}")
        user, system, rss = t.read().split()[-3:]
    return wall, float(user) + float(system), int(rss) / 1024


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pg_setup(url, table, rows):
    subprocess.run(
        ["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
         f"CREATE TABLE IF NOT EXISTS {table} AS SELECT g AS id, md5(g::text) AS name, "
         f"(g * 1.25)::numeric(12,2) AS amount, timestamp '2024-01-01' + g * interval '1 second' AS created_at, "
         f"g % 3 = 0 AS flag FROM generate_series(1, {rows}) g", "-c", f"VACUUM ANALYZE {table}"],
        check=True)


def my_args(url):
    u = urllib.parse.urlparse(url)
    return ["-h", u.hostname, "-P", str(u.port or 3306), "-u", urllib.parse.unquote(u.username),
            f"-p{urllib.parse.unquote(u.password)}", u.path.lstrip("/")]


def my_setup(url, table, rows):
    subprocess.run(
        ["mariadb", *my_args(url), "-e",
         f"CREATE TABLE IF NOT EXISTS {table} ENGINE=InnoDB AS SELECT seq AS id, md5(seq) AS name, "
         f"CAST(seq * 1.25 AS DECIMAL(12,2)) AS amount, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND AS created_at, "
         f"seq % 3 = 0 AS flag FROM seq_1_to_{rows}"],
        check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["pg", "my"], required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("binaries", nargs="+", help="name=path of a task-runner binary")
    a = ap.parse_args()
    table = f"tr_bench_{a.rows}"
    # No ORDER BY: a sort would be most of the server's work; a table that is
    # never written is scanned in the same order every time.
    select = f"SELECT id, name, amount, created_at, flag FROM {table}"
    work = tempfile.mkdtemp(prefix="sql-floor-")
    if a.db == "pg":
        url = os.environ["TR_PG_URL"]
        pg_setup(url, table, a.rows)
        floor_name = "psql COPY csv"
        floor = ["psql", url, "-XAtq", "-o", f"{work}/floor.out", "-c", f"COPY ({select}) TO STDOUT (FORMAT csv)"]
        floor_out = None
    else:
        url = os.environ["TR_MYSQL_URL"]
        my_setup(url, table, a.rows)
        floor_name = "mariadb -B -N -e"
        floor = ["mariadb", *my_args(url), "-B", "-N", "-e", select]
        floor_out = f"{work}/floor.out"
    with open(f"{work}/spec.yaml", "w") as f:
        f.write(f"operator: sql\nconn_id: bench\nsql: \"{select}\"\nmax_xcom_bytes: 4000000000\n")
    env = dict(os.environ, AIRFLOW_CONN_BENCH=url)
    clients = [(floor_name, floor, floor_out, None)]
    for spec in a.binaries:
        name, path = spec.split("=", 1)
        out = f"{work}/{name}.json"
        clients.append((name, [os.path.abspath(path), "run", "--config", f"{work}/spec.yaml",
                               "--xcom-path", out, "--logical-date", "2024-06-01"], None, env))

    def once(client):
        name, argv, out, env_ = client
        if out:
            with open(out, "wb") as f:
                return wait_run(argv, stdout=f, env=env_)
        return wait_run(argv, env=env_)

    for c in clients:  # warm-up, and a failure shows at once
        once(c)
    outs = [digest(f"{work}/{c[0]}.json") for c in clients[1:]]
    for (name, *_), o in zip(clients[2:], outs[1:]):
        if o != outs[0]:
            sys.exit(f"output of {name} differs from {clients[1][0]}")
    results = {c[0]: [] for c in clients}
    for r in range(a.rounds):
        order = clients[r % len(clients):] + clients[: r % len(clients)]
        for c in order:
            results[c[0]].append(once(c))
    load = os.getloadavg()[0]
    print(f"{a.db}, {a.rows} rows x 5 columns, {a.rounds} rounds interleaved, load {load:.1f}; outputs identical: yes")
    print("| client | wall median s | CPU median s | peak RSS MB | ratio (median of per-round) |")
    print("|---|---:|---:|---:|---:|")
    base = results[floor_name]
    for name, rs in results.items():
        ratio = statistics.median(x[0] / b[0] for x, b in zip(rs, base))
        print(f"| {name} | {statistics.median(x[0] for x in rs):.3f} | {statistics.median(x[1] for x in rs):.3f} "
              f"| {max(x[2] for x in rs):.1f} | {ratio:.2f} |")
    names = [c[0] for c in clients[1:]]
    if len(names) >= 2:
        first = results[names[0]]
        for n in names[1:]:
            ratio = statistics.median(x[0] / b[0] for x, b in zip(results[n], first))
            print(f"{n} / {names[0]} wall: {ratio:.2f} (median of per-round ratios)")


if __name__ == "__main__":
    main()
