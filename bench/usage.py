#!/usr/bin/python3
"""Beverage statistics and maintenance forecasts benchmark
(docs/OPERATIONS.md): GET /api/v1/beverages and GET /api/v1/forecasts of
one site, 20 machines over 30 days of ~300 brews a day each.

The data is the compliance benchmark's (bench/gendata_quality.c) with
--counters: every telemetry message (one a minute) also carries the cup
counter, brew-unit cycles, water drawn, the filter's use and the water's
hardness, and one brew in 250 is lost (counted by the cup counter, its
event never stored), so the answer must show that gap. The installation's
admin publishes the policy and the customer's manager consents; then one
client times over one kept-alive TLS 1.3 connection:

  anchor  GET /api/v1/me: the cheapest authenticated request
  b       the site's beverages over the 30 days per product and local day
  bh      the same per machine and local hour of day
  b1      one machine over the 30 days per product and day
  f       the site's service forecasts (14 days of counters, 92 of events)

Figures: min and median wall time, the server's CPU time per run, bytes,
the median as a multiple of the anchor's. Not a pass/fail test; the figures
go into docs/PERFORMANCE.md ("Beverages and forecasts of a site").

usage: bench/usage.py BUILD_DIR [--machines 20] [--days 30] [--brews 300] [--runs 7]
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import measure  # noqa: E402
from quality import consenting_site, site_args  # noqa: E402


def main():
    args = site_args(7)
    info, d, c, root = consenting_site(args, "cc-bench-usage-", counters=True)
    results = {}
    try:
        pid = d.proc.pid
        span = "from=%d&to=%d" % (info["from_ms"], info["to_ms"])
        site = "/api/v1/beverages?customer=bench-cafe&site=bench-site&"
        first = json.loads(c.get(site + "group_by=product,day&" + span))
        total = first["total"]
        print("the site: %d beverages in %d rows; cup counters %d, gap %d (the generator lost %d)"
              % (total["beverages"], len(first["rows"]), total["counter_total"], total["gap"], info["lost"]))
        fc = json.loads(c.get("/api/v1/forecasts?customer=bench-cafe&site=bench-site"))
        print("forecasts: %d due soon, %d overdue" % (len(fc["due_soon"]), len(fc["overdue"])))

        def one(path):
            return lambda: [c.get(path)]

        cases = [
            ("anchor", "GET /api/v1/me", one("/api/v1/me"), args.runs * 2),
            ("b", "the site (%d machines), %d days, by product and day" % (info["machines"], info["days"]),
             one(site + "group_by=product,day&" + span), args.runs),
            ("bh", "the site, %d days, by machine and hour" % info["days"],
             one(site + "group_by=machine,hour&" + span), args.runs),
            ("b1", "one machine, %d days, by product and day" % info["days"],
             one("/api/v1/beverages?machine=QB-000&group_by=product,day&" + span), args.runs),
            ("f", "the site's forecasts", one("/api/v1/forecasts?customer=bench-cafe&site=bench-site"), args.runs),
        ]
        for key, what, fn, runs in cases:
            results[key] = dict(measure(c, pid, fn, runs), what=what, runs=runs)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    anchor = results["anchor"]["median_ms"]
    print("\n| | query | runs | min ms | median ms | x anchor | server CPU ms | bytes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key, r in results.items():
        print("| %s | %s | %d | %.2f | %.2f | %.1fx | %.2f | %d |"
              % (key, r["what"], r["runs"], r["min_ms"], r["median_ms"], r["median_ms"] / anchor, r["cpu_ms"],
                 r["bytes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
