"""Issue #11's table from the results of bench/table.sh: one markdown row per
line of ROWS.tsv, each read from an interleave.py --json file (or, for an
instruction count, from a small {"runner": N, "peer": M} file).

    python3 table.py ROWS.tsv FOOTER...

ROWS.tsv, tab-separated: label, kind, json file, runner command name, goal.
  kind   ratio   wall-time ratio to the command's peer (median of per-round ratios)
         delta   wall time over the peer, ms (median of per-round differences)
         rss     the runner's peak RSS, MB, beside the peer's
         icount  instructions, beside the peer's
  goal   "<= 2.0" (a number the figure must not exceed), or "-" for none
Each FOOTER argument is printed as a line under the table.

Python 3 standard library only.
"""

import json
import sys


def ms(x):
    if x >= 1000:
        return "%.2f s" % (x / 1000)
    return "%.1f ms" % x if x >= 10 else "%.2f ms" % x


def row(label, kind, path, name, goal):
    with open(path) as f:
        data = json.load(f)
    if kind == "icount":
        runner, peer = data["runner"], data["peer"]
        shown = ("{:,}".format(runner), "{:,}".format(peer) if peer else "", "{:,}".format(runner))
        value = runner
    else:
        by_name = {s["name"]: s for s in data["summary"]}
        if name not in by_name:
            sys.exit("table.py: %s has no command %r" % (path, name))
        s = by_name[name]
        p = by_name[s["peer"]] if s["peer"] else None
        if kind == "ratio":
            value = s["ratio"]
            shown = (ms(s["wall_ms"]), ms(p["wall_ms"]), "%.2f\u00d7" % value)
        elif kind == "delta":
            value = s["delta_ms"]
            shown = (ms(s["wall_ms"]), ms(p["wall_ms"]), "%+.1f ms" % value)
        elif kind == "rss":
            value = s["rss_mb"]
            shown = ("%.1f MB" % value, "%.1f MB" % p["rss_mb"] if p else "", "%.1f MB" % value)
        else:
            sys.exit("table.py: unknown kind %r" % kind)
    if goal == "-":
        goal_shown, met = "", ""
    else:
        op, limit = goal.split()
        if op != "<=":
            sys.exit("table.py: a goal is '<= N' or '-', not %r" % goal)
        limit = float(limit)
        unit = {"ratio": "\u00d7", "delta": " ms", "rss": " MB", "icount": ""}[kind]
        number = "{:,}".format(int(limit)) if kind == "icount" else "%g" % limit
        goal_shown = "\u2264 %s%s%s" % ("+" if kind == "delta" else "", number, unit)
        met = "yes" if value <= limit else "**no**"
    # A | would end the cell, even inside backticks.
    return "| %s | %s | %s | %s | %s | %s |" % ((label.replace("|", "\\|"),) + shown + (goal_shown, met))


def main(argv):
    if len(argv) < 1:
        sys.exit(__doc__)
    print("| row | runner | peer | ratio or delta | goal | met? |")
    print("|---|---:|---:|---:|---|---|")
    with open(argv[0]) as f:
        for line in f:
            if line.strip():
                print(row(*line.rstrip("\n").split("\t")))
    print()
    for footer in argv[1:]:
        print(footer)


if __name__ == "__main__":
    main(sys.argv[1:])
