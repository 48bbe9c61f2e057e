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
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import PASSWORD, Client, Daemon, measure  # noqa: E402
from quality import MANAGER_PASSWORD, call  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--machines", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--brews", type=int, default=300)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cc = os.path.join(build, "coffeecloud")
    root = tempfile.mkdtemp(prefix="cc-bench-usage-")
    data = os.path.join(root, "data")
    subprocess.run([cc, "init", "--data", data, "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(build, "coffeecloud-bench-gendata-quality"), "--data", data, "--machines",
                        str(args.machines), "--days", str(args.days), "--brews", str(args.brews), "--counters"],
                       text=True, capture_output=True)
    if p.returncode != 0:
        raise SystemExit("gendata-quality failed:\n" + p.stderr)
    info = json.loads(p.stdout)
    print("data: %d machines, %d days: %d events + %d telemetry, %d brews lost (generated in %.1f s)"
          % (info["machines"], info["days"], info["events"], info["telemetry"], info["lost"],
             time.monotonic() - t0))
    d = Daemon(build, data, root)
    results = {}
    try:
        c = Client(d.https, os.path.join(data, "ca.crt"))
        c.login()
        version = call(c, "POST", "/api/v1/policy/versions", {})["version"]
        subprocess.run([cc, "user", "add", "--data", data, "--org", "bench-cafe", "--login", "bench-mgr", "--role",
                        "customer_manager", "--password-stdin"], input=MANAGER_PASSWORD + "\n", text=True,
                       check=True, capture_output=True)
        subprocess.run([cc, "consent", "record", "--data", data, "--customer", "bench-cafe", "--version",
                        str(version), "--by", "bench-mgr"], text=True, check=True, capture_output=True)
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
