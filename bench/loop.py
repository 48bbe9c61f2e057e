#!/usr/bin/python3
"""Machines' acknowledgements while people use the API (issue 15, "Nothing
slow on the event loop").

One coffeecloudd, 1,000 machines at 1 msg/s each under coffeecloud-loadgen
(paced, MQTT 5, QoS 1, mutual TLS 1.3), twice in the same run: (a) alone,
the anchor; (b) while 50 people use the HTTPS API at once: 45 readers on
kept-alive connections going round the fleet list, a machine's page, its
day of telemetry as 1-minute means and the open alerts (every one of them
an audited read), and 5 signing in again and again (Argon2id). Printed:
ack p50/p99/max of both runs and their ratio (the issue's goal: p99 under
API load within 2x of p99 without), the API's requests per second and
latency, the server's CPU. Nothing here is a pass/fail test.

usage: bench/loop.py BUILD_DIR [--machines 1000] [--seconds 30] [--readers 45] [--signins 5]
                     [--renice THREAD=N,...]  (experiments: those threads' nice value)
"""
import argparse
import http.client
import json
import os
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from benchutil import cpu_s, free_port, threads_usage
from api import Daemon  # noqa: E402  (coffeecloudd, ready when it logs so)
from ingest import run_loadgen, run_sim

PASSWORD = "Correct-Horse-Battery-Staple-42"


class Person(threading.Thread):
    """One person at the API until stop is set: a kept-alive connection, the
    latency of every request kept."""

    def __init__(self, port, ca, login, password, serials, signs_in, stop):
        super().__init__(daemon=True)
        ctx = ssl.create_default_context(cafile=ca)
        self.conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=120)
        self.login, self.password, self.serials, self.signs_in, self.stop = login, password, serials, signs_in, stop
        self.latencies, self.errors, self.token, self.statuses = [], 0, None, {}

    def call(self, method, path, body=None):
        h = {"Authorization": "Bearer " + self.token} if self.token else {}
        if body is not None:
            h["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.errors += 1
            key = (type(e).__name__, path.split("?")[0].replace(self.serials[0], "{serial}")[:40])
            self.statuses[key] = self.statuses.get(key, 0) + 1
            return None
        self.latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            self.errors += 1
            key = (resp.status, path.split("?")[0].replace(self.serials[0], "{serial}")[:40])
            self.statuses[key] = self.statuses.get(key, 0) + 1
            return None
        return data

    def sign_in(self):
        data = self.call("POST", "/api/v1/auth/login", {"login": self.login, "password": self.password})
        self.token = json.loads(data)["token"] if data else None

    def run(self):
        self.sign_in()
        now = int(time.time() * 1000)
        i = 0
        while not self.stop.is_set():
            if self.signs_in:
                self.sign_in()
                continue
            serial = self.serials[i % len(self.serials)]
            path = ("/api/v1/machines?limit=100", f"/api/v1/machines/{serial}",
                    f"/api/v1/machines/{serial}/telemetry?from={now - 86400000}&step=60000",
                    "/api/v1/alerts?state=open&limit=100")[i % 4]
            self.call("GET", path)
            i += 1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--machines", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--readers", type=int, default=45)
    ap.add_argument("--signins", type=int, default=5)
    ap.add_argument("--renice", default="", help="experiments: THREAD=N,... sets those threads' nice value")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cli = os.path.join(build, "coffeecloud")
    work = tempfile.mkdtemp(prefix="cc-bench-loop-")
    data = os.path.join(work, "data")
    try:
        subprocess.run([cli, "init", "--data", data, "--password-stdin"], input=(PASSWORD + "\n").encode(),
                       check=True, capture_output=True)
        run_sim(build, data, free_port(), args.machines, 1, ["--timeout", "1"])  # machines and bundles
        people = ["bench-%02d" % i for i in range(args.readers + args.signins)]
        for login in people:
            subprocess.run([cli, "user", "add", "--data", data, "--org", "manufacturer", "--login", login,
                            "--role", "engineer", "--password-stdin"], input=(PASSWORD + "\n").encode(),
                           check=True, capture_output=True)
        d = Daemon(build, data, work, "mqtt_max_per_address = 100000\n")
        mqtt_port = d.mqtt
        try:
            pid = d.proc.pid
            for spec in filter(None, args.renice.split(",")):
                name, nice = spec.split("=")
                for tid in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                        if f.read().strip() == name:
                            os.setpriority(os.PRIO_PROCESS, int(tid), int(nice))
            load = ["--machines", args.machines, "--rate", 1, "--duration", args.seconds]
            u0, w0 = threads_usage(pid), time.monotonic()
            alone = run_loadgen(build, data, mqtt_port, pid, load)
            u1, wall_a = threads_usage(pid), time.monotonic() - w0
            stop = threading.Event()
            serials = ["SIM-%04d" % (i + 1) for i in range(min(args.machines, 200))]
            crowd = [Person(d.https, os.path.join(data, "ca.crt"), login, PASSWORD, serials,
                            n >= args.readers, stop) for n, login in enumerate(people)]
            for p in crowd:
                p.start()
            c0, t0 = cpu_s(pid), time.monotonic()
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            u2, w2 = threads_usage(pid), time.monotonic()
            busy = run_loadgen(build, data, mqtt_port, pid, load)
            u3, wall_b = threads_usage(pid), time.monotonic() - w2
            stop.set()
            for p in crowd:
                p.join(timeout=120)
            wall = time.monotonic() - t0
            server = (cpu_s(pid) - c0) / wall
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            readers = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / wall
        finally:
            d.stop()
        reads = [x for p in crowd if not p.signs_in for x in p.latencies]
        signins = [x for p in crowd if p.signs_in for x in p.latencies]
        errors = sum(p.errors for p in crowd)
        print("machines' acknowledgements under API load: %d machines x 1 msg/s for %d s, coffeecloud-loadgen"
              % (args.machines, args.seconds))
        print("%-34s %9s %9s %9s %10s %11s %14s" % ("", "ack p50", "ack p99", "ack max", "msgs", "server us",
                                                    "loadgen cores"))
        for name, r in (("(a) alone", alone), ("(b) %d readers, %d signing in" % (args.readers, args.signins), busy)):
            print("%-34s %7.2fms %7.2fms %7.1fms %10d %11.1f %14.2f" % (name, r["ack_p50_ms"], r["ack_p99_ms"],
                                                                  r["ack_max_ms"], r["acked"],
                                                                  r["server_cpu_us_per_msg"], r["cpu_share"]))
        print("    (b) / (a): ack p50 %.1fx, p99 %.1fx (goal: p99 within 2x)"
              % (busy["ack_p50_ms"] / max(alone["ack_p50_ms"], 0.001),
                 busy["ack_p99_ms"] / max(alone["ack_p99_ms"], 0.001)))
        print("    the API meanwhile: %d reads (%.0f/s, p50 %.1f ms, p99 %.1f ms), %d sign-ins (%.1f/s, p50 %.0f ms), "
              "%d errors; the server at %.2f cores, the people (this process) at %.2f"
              % (len(reads), len(reads) / wall, 1000 * pct(reads, 0.5), 1000 * pct(reads, 0.99), len(signins),
                 len(signins) / wall, 1000 * pct(signins, 0.5), errors, server, readers))
        # Where the server's time and reads go, thread by thread: a thread's
        # bytes read are mostly its SQLite page cache refilled (docs/PERFORMANCE.md).
        print("    per thread, cores (a) / (b), MB read by system calls (a) / (b):")
        for name in sorted(set(u1) | set(u3), key=lambda n: -(u3.get(n, (0, 0))[0] - u2.get(n, (0, 0))[0])):
            da = [u1.get(name, (0, 0))[k] - u0.get(name, (0, 0))[k] for k in (0, 1)]
            db = [u3.get(name, (0, 0))[k] - u2.get(name, (0, 0))[k] for k in (0, 1)]
            if max(da[0] / wall_a, db[0] / wall_b) >= 0.01:
                print("      %-14s %5.2f / %5.2f   %8.1f / %8.1f" % (name, da[0] / wall_a, db[0] / wall_b,
                                                                    da[1] / 1e6, db[1] / 1e6))
        refused = {}
        for p in crowd:
            for k, v in p.statuses.items():
                refused[k] = refused.get(k, 0) + v
        if refused:
            print("    refused or failed:", ", ".join("%d x %s %s" % (v, k[0], k[1])
                                                  for k, v in sorted(refused.items(), key=lambda kv: str(kv[0]))))
        sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
