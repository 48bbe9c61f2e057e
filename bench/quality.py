#!/usr/bin/python3
"""Compliance benchmark (docs/QUALITY.md): GET /api/v1/compliance of one
site, 20 machines over 30 days of ~300 brews a day each, a telemetry
message a minute (the milk fridge), cleanings.

bench/gendata_quality.c (coffeecloud-bench-gendata-quality) fills a fresh
data directory through the product's own code (sealed records, the
settler's roll-ups). coffeecloudd serves it; the installation's admin
publishes the policy with the quality purpose and the customer's manager
consents; then one client times over one kept-alive TLS 1.3 connection:

  anchor  GET /api/v1/me: the cheapest authenticated request
  q       the site's compliance over the 30 days (issue 11: < 300 ms)
  q1      one machine of it over the 30 days
  q7      the site over the last 7 of the days
  h       the site's signed HACCP cleaning report over the 30 days (JSON:
          every cleaning, the missed ones, the schedule; each row signed)

Figures: min and median wall time, the server's CPU time per run, bytes,
the median as a multiple of the anchor's. Not a pass/fail test; the figures
go into docs/PERFORMANCE.md ("Quality compliance").

usage: bench/quality.py BUILD_DIR [--machines 20] [--days 30] [--brews 300] [--runs 9]
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

GOAL_MS = 300
MANAGER_PASSWORD = "Quiet-Espresso-Morning-Tram-77"


def call(client, method, path, body):
    h = {"Authorization": "Bearer " + client.token, "Content-Type": "application/json"}
    client.conn.request(method, path, body=json.dumps(body), headers=h)
    resp = client.conn.getresponse()
    doc = json.loads(resp.read() or b"{}")
    if resp.status >= 300:
        raise SystemExit("%s %s: %d %s" % (method, path, resp.status, doc))
    return doc


def site_args(runs):
    """The site benchmarks' options (this one and bench/usage.py)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--machines", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--brews", type=int, default=300)
    ap.add_argument("--runs", type=int, default=runs)
    return ap.parse_args()


def consenting_site(args, prefix, counters=False):
    """The generator's site in a fresh data directory, a daemon serving it,
    the admin signed in, and the customer's consent to the policy in force:
    (info, daemon, client, root). The caller stops the daemon and removes root."""
    build = os.path.abspath(args.build)
    cc = os.path.join(build, "coffeecloud")
    root = tempfile.mkdtemp(prefix=prefix)
    data = os.path.join(root, "data")
    subprocess.run([cc, "init", "--data", data, "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(build, "coffeecloud-bench-gendata-quality"), "--data", data, "--machines",
                        str(args.machines), "--days", str(args.days), "--brews", str(args.brews)]
                       + (["--counters"] if counters else []), text=True, capture_output=True)
    if p.returncode != 0:
        raise SystemExit("gendata-quality failed:\n" + p.stderr)
    info = json.loads(p.stdout)
    print("data: %d machines, %d days: %d events + %d telemetry%s (generated in %.1f s)"
          % (info["machines"], info["days"], info["events"], info["telemetry"],
             ", %d brews lost" % info["lost"] if counters else "", time.monotonic() - t0))
    # The settler's background digest of finished days (records/event_days.h),
    # timed in the generator on one thread; issue 11 asks for 10,000 machines'
    # day in < 60 s, projected here from the rate measured.
    if info["digested_days"] > 0:
        per_day_ms = info["digest_ms"] / info["digested_days"]
        print("days of events digested: %d machine-days (%d brews a day each) in %.0f ms: %.2f ms a machine-day; "
              "10,000 machines' day at that rate: %.0f s (issue 11: < 60 s)"
              % (info["digested_days"], args.brews, info["digest_ms"], per_day_ms, per_day_ms * 10000 / 1000))
    d = Daemon(build, data, root)
    try:
        c = Client(d.https, os.path.join(data, "ca.crt"))
        c.login()
        version = call(c, "POST", "/api/v1/policy/versions", {})["version"]
        subprocess.run([cc, "user", "add", "--data", data, "--org", "bench-cafe", "--login", "bench-mgr", "--role",
                        "customer_manager", "--password-stdin"], input=MANAGER_PASSWORD + "\n", text=True,
                       check=True, capture_output=True)
        subprocess.run([cc, "consent", "record", "--data", data, "--customer", "bench-cafe", "--version",
                        str(version), "--by", "bench-mgr"], text=True, check=True, capture_output=True)
    except BaseException:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return info, d, c, root


def main():
    args = site_args(9)
    info, d, c, root = consenting_site(args, "cc-bench-quality-")
    results = {}
    try:
        pid = d.proc.pid
        span = "from=%d&to=%d" % (info["from_ms"], info["to_ms"])
        week = "from=%d&to=%d" % (info["to_ms"] - 7 * 86400000, info["to_ms"])
        site = "/api/v1/compliance?org=bench-cafe&site=bench-site&"
        first = json.loads(c.get(site + span))
        total = first["total"]
        print("the site: %d machines, %d brews (%.2f %% in spec), %d brew breaches, %d fridge breaches, "
              "milk system cleaned %d of %d due"
              % (total["machines"], total["brews"], total["in_spec_pct"], total["brew_breaches"],
                 total["telemetry_breaches"], total["cleanings"]["milk_system"]["done"],
                 total["cleanings"]["milk_system"]["due"]))

        def one(path):
            return lambda: [c.get(path)]

        cases = [
            ("anchor", "GET /api/v1/me", one("/api/v1/me"), args.runs * 2),
            ("q", "the site (%d machines) over %d days (issue 11: < %d ms)" % (info["machines"], info["days"],
                                                                             GOAL_MS), one(site + span), args.runs),
            ("q1", "one machine over %d days" % info["days"], one("/api/v1/compliance?machine=QB-000&" + span),
             args.runs),
            ("q7", "the site over 7 days", one(site + week), args.runs),
            ("h", "the site's signed HACCP cleaning report (JSON, with its CSV) over %d days" % info["days"],
             one("/api/v1/haccp/cleaning-report?org=bench-cafe&site=bench-site&" + span), args.runs),
        ]
        for key, what, fn, runs in cases:
            results[key] = dict(measure(c, pid, fn, runs), what=what, runs=runs)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    anchor = results["anchor"]["median_ms"]
    print("\n| | query | runs | min ms | median ms | x anchor | server CPU ms | bytes | goal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for key, r in results.items():
        verdict = "<= %d ms: %s" % (GOAL_MS, "met" if r["median_ms"] <= GOAL_MS else "NOT met") if key == "q" else ""
        print("| %s | %s | %d | %.2f | %.2f | %.1fx | %.2f | %d | %s |"
              % (key, r["what"], r["runs"], r["min_ms"], r["median_ms"], r["median_ms"] / anchor, r["cpu_ms"],
                 r["bytes"], verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
