#!/usr/bin/python3
"""Query benchmark: the HTTPS API over a fleet of 10,000 machines and one
machine-day of 1 Hz telemetry.

bench/gendata.c (coffeecloud-bench-gendata) fills a fresh data directory
through the product's own code (inventory, the vault's store, records_put),
so the data is sealed exactly as the daemon seals it. Then coffeecloudd
serves it and one client, signed in as the installation's admin, times over
ONE kept-alive TLS 1.3 connection (Python's http.client and ssl):

  anchor  GET /api/v1/me: the cheapest authenticated request
  (a) the day, every point, all pages (limit 10000)
  (b) the day as 1-minute means of one metric (step=60000&metric=...)
  (c) the day as 1-minute means of every metric
  (d) every machine: all pages of GET /api/v1/machines (limit 1000); d1 the
      same in one page (limit 10000): one audit record (one commit) instead of ten
  (e) one filtered page: 100 machines of one site (site=, customer=, limit=100)

Each figure: min and median wall time of N runs (request written -> last
byte of the response read; one request, or all the pages of a listing), the
server's CPU time per run (utime + stime of /proc/PID/stat, all threads), the
response bytes, and the median as a multiple of the anchor's. Nothing here
is a pass/fail test; the figures go into docs/PERFORMANCE.md ("Queries").

usage: bench/api.py BUILD_DIR [--machines 10000] [--points 86400] [--runs 15] [--json FILE]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchutil import cpu_s, free_port

PASSWORD = "Correct-Horse-Battery-Staple-42"
#: Issue 18's goals, against the median: the raw day, the day's 1-minute
#: means of every metric, the whole fleet list, a filtered page of 100.
GOALS_MS = {"a": 250, "a2": 250, "c": 20, "d": 50, "d1": 50, "e": 5, "f": 200}


class Daemon:
    """coffeecloudd on the data directory; ready when it logs so."""

    def __init__(self, build, data, root):
        self.https = free_port()
        conf = os.path.join(root, "coffeecloudd.conf")
        with open(conf, "w") as f:
            f.write("user = root\nlog_level = info\nmqtt_listen = 127.0.0.1:%d\n"
                    "https_listen = 127.0.0.1:%d\n" % (free_port(), self.https))
        self.log = open(os.path.join(root, "coffeecloudd.log"), "w")
        self.proc = subprocess.Popen([os.path.join(build, "coffeecloudd"), "--data", data, "--config", conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.write(line)
                if "daemon: info: ready" in line:
                    ready.set()
            ready.set()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120) or self.proc.poll() is not None:
            raise SystemExit("coffeecloudd did not start; see coffeecloudd.log")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Client:
    """One kept-alive HTTPS connection, verified against the fleet CA."""

    def __init__(self, port, ca):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=120)
        self.token = None

    def get(self, path):
        h = {"Authorization": "Bearer " + self.token} if self.token else {}
        self.conn.request("GET", path, headers=h)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit("GET %s: %d %s" % (path, resp.status, body[:300]))
        return body

    def login(self):
        self.conn.request("POST", "/api/v1/auth/login", body=json.dumps({"login": "admin", "password": PASSWORD}),
                          headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit("sign-in: %d %s" % (resp.status, body[:300]))
        self.token = json.loads(body)["token"]


CURSOR = re.compile(rb'"next_cursor":"([0-9a-f]+)"')


def pages(client, path):
    """The bodies of GET path and of every next page. The cursor is read
    from the end of each body, not by parsing it: the timing is the
    server's and the transfer's, not Python's JSON parser."""
    bodies, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        body = client.get(path + (sep + "cursor=" + cursor if cursor else ""))
        bodies.append(body)
        m = CURSOR.search(body[-300:])
        if not m:
            return bodies
        cursor = m.group(1).decode()


def measure(client, pid, fn, runs):
    walls, cpus, bodies = [], [], None
    fn()  # warm-up: page cache, statements
    for _ in range(runs):
        c0 = cpu_s(pid)
        t0 = time.perf_counter()
        bodies = fn()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((cpu_s(pid) - c0) * 1000)
    items = 0
    for body in bodies:  # untimed
        doc = json.loads(body)
        items += sum(len(v) for v in doc.values() if isinstance(v, list)) + len(doc.get("columns", {}).get("ts", []))
    return {"min_ms": min(walls), "median_ms": statistics.median(walls), "cpu_ms": statistics.mean(cpus),
            "bytes": sum(len(b) for b in bodies), "pages": len(bodies), "items": items}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--machines", type=int, default=10000)
    ap.add_argument("--points", type=int, default=86400)
    ap.add_argument("--history-days", type=int, default=30, help="state history per machine (availability)")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the data directory (printed)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    root = tempfile.mkdtemp(prefix="cc-bench-api-")
    data = os.path.join(root, "data")
    subprocess.run([os.path.join(build, "coffeecloud"), "init", "--data", data, "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(build, "coffeecloud-bench-gendata"), "--data", data,
                        "--machines", str(args.machines), "--points", str(args.points),
                        "--history-days", str(args.history_days)],
                       text=True, capture_output=True)
    if p.returncode != 0:
        raise SystemExit("gendata failed:\n" + p.stderr)
    info = json.loads(p.stdout)
    print("data: %d machines, %d customers, %d sites; %s: %d telemetry + %d events (generated in %.1f s)"
          % (info["machines"], info["customers"], info["sites"], info["day_serial"], info["telemetry"],
             info["events"], time.monotonic() - t0))
    d = Daemon(build, data, root)
    results = {}
    try:
        c = Client(d.https, os.path.join(data, "ca.crt"))
        c.login()
        pid = d.proc.pid
        serial, span = info["day_serial"], "from=%d&to=%d" % (info["from_ms"], info["to_ms"])
        tele = "/api/v1/machines/%s/telemetry?%s" % (serial, span)

        def one(path):
            return lambda: [c.get(path)]

        def listing(path):
            return lambda: pages(c, path)

        cases = [
            ("anchor", "GET /api/v1/me", one("/api/v1/me"), args.runs * 2),
            ("a", "the day, every point, all pages (limit 10000)", listing(tele + "&limit=10000"), 3),
            ("a2", "the day, every point, as columns (format=columns, limit 10000)",
             listing(tele + "&limit=10000&format=columns"), 3),
            ("b", "the day as 1-minute means, one metric", one(tele + "&step=60000&metric=boiler_temp_c"),
             args.runs),
            ("c", "the day as 1-minute means, all metrics", one(tele + "&step=60000"), args.runs),
            ("c2", "the day as 1-minute mean, min and max, all metrics, as columns",
             one(tele + "&step=60000&stats=mean,min,max&format=columns"), args.runs),
            ("d", "all %d machines, all pages (limit 1000)" % info["machines"],
             listing("/api/v1/machines?limit=1000"), args.runs),
            ("d1", "all %d machines in one page (limit 10000)" % info["machines"],
             listing("/api/v1/machines?limit=10000"), args.runs),
            ("e", "one filtered page: 100 machines of a site",
             one("/api/v1/machines?customer=bench-cafe-03&site=c03-site-04&limit=100"), args.runs * 2),
            ("f", "availability of all %d machines over %d days (issue 10: < 200 ms)"
             % (info["machines"], args.history_days), one("/api/v1/availability"), args.runs),
            ("f1", "the same, a row per site", one("/api/v1/availability?by=site"), args.runs),
            ("g", "health scores of a site's 100 machines, worst first",
             one("/api/v1/health-scores?customer=bench-cafe-03&site=c03-site-04"), args.runs),
            ("g1", "health scores of all %d machines, the 50 worst" % info["machines"],
             one("/api/v1/health-scores"), 3),
        ]
        for key, what, fn, runs in cases:
            results[key] = dict(measure(c, pid, fn, runs), what=what, runs=runs)
    finally:
        d.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept:", root)
    anchor = results["anchor"]["median_ms"]
    print("\n| | query | runs | min ms | median ms | x anchor | server CPU ms | pages | items | bytes | goal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, r in results.items():
        goal = GOALS_MS.get(key)
        verdict = "" if goal is None else "<= %g ms: %s" % (goal, "met" if r["median_ms"] <= goal else "NOT met")
        print("| %s | %s | %d | %.2f | %.2f | %.1fx | %.2f | %d | %d | %d | %s |"
              % (key, r["what"], r["runs"], r["min_ms"], r["median_ms"], r["median_ms"] / anchor, r["cpu_ms"],
                 r["pages"], r["items"], r["bytes"], verdict))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
