# -*- coding: utf-8 -*-
"""Weekly fitness summary: the team's library, shared by the DAG's tasks.

Valid on Python 2.7 and 3.x alike: the fitness DAG runs the same function on
both and compares the results, so nothing here may depend on the version
(true division and text literals are imported from the future; no f-strings,
no annotations, no dict-order or round() differences in the result).
"""
from __future__ import absolute_import, division, print_function, unicode_literals

import hashlib
import json

STEP_GOAL = 8000


def summarize_rows(rows, day, region):
    """Summarise the rows of include/sql/daily.sql for one region and day.

    A row is [day, region, steps, active_minutes, goal_met, is_yesterday].
    """
    if not rows:
        raise ValueError("no activity rows for %s on %s" % (region, day))
    days = [r[0] for r in rows]
    if day not in days:
        raise ValueError("the rows do not cover %s: %s" % (day, days))
    steps = [int(r[2]) for r in rows]
    minutes = [int(r[3]) for r in rows]
    total = sum(steps)
    best = max(rows, key=lambda r: (int(r[2]), r[0]))
    streak = 0
    for r in reversed(rows):
        if not r[4]:
            break
        streak += 1
    yesterday = [r for r in rows if r[5]]
    canonical = json.dumps([[r[0], int(r[2])] for r in rows], separators=(",", ":"))
    return {
        "day": day,
        "region": region,
        "label": "%s – %s · %s" % (days[0], days[-1], region.upper()),
        "days": len(rows),
        "total_steps": total,
        "mean_steps": total / len(rows),
        "active_minutes": sum(minutes),
        "best_day": {"day": best[0], "steps": int(best[2])},
        "goal_days": sum(1 for r in rows if r[4]),
        "goal_streak": streak,
        "yesterday_steps": int(yesterday[0][2]) if yesterday else None,
        "over_goal": [d for d, s in zip(days, steps) if s >= STEP_GOAL],
        "checksum": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16],
    }


def compare_summaries(left, right):
    """The keys whose values differ between two summaries (sorted)."""
    keys = sorted(set(left) | set(right))
    return [k for k in keys if left.get(k) != right.get(k)]
