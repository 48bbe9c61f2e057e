#!/usr/bin/python3
"""Ingest benchmark: coffeecloudd against Mosquitto on the same load.

First with coffeecloud-loadgen (bench/loadgen.c: one epoll loop, a client
certificate per machine, MQTT 5, QoS 1, ~217-byte telemetry, a window of 20
per machine), which costs a few µs of CPU per message and so is not the
limit: (a) 1,000 machines x 60 messages as fast as acks allow, three runs,
median; (b) 1,000 machines x 10 msg/s paced for 20 s. For each server:
msg/s, ack latency p50/p99, the server's CPU per message (utime + stime from
/proc/PID/stat, read by the generator at the start and end of its timed
phase), and the generator's own share of a core; then the ratios.
Mosquitto here stores nothing and has no subscriber: the cheapest a broker
can acknowledge a QoS 1 message.

Then the older figures with coffeecloud-sim (each machine a libcoffeecloud-agent,
one thread; the idle connections with its raw libmosquitto clients, which need
one descriptor a machine where an agent's client needs three): N machines,
QoS 1 over mutual TLS 1.3, ~200-byte telemetry, as fast as acknowledgements
allow. (a) coffeecloudd acknowledges each message only after it is sealed
(AES-256-GCM) and committed to SQLite with fsync; (b) Debian's Mosquitto
merely forwards the same messages to one subscriber. Printed as ratios; the
figures go into docs/PERFORMANCE.md. Nothing here is a pass/fail test.

Alert rules (docs/OPERATIONS.md "Alerts"): coffeecloudd with the default
rules against the same daemon with `alerts = false`, in the same run, runs
interleaved (on, off, on, off, ...), each 1,000 machines x 60 messages under
coffeecloud-loadgen; the rules run in the settler's rounds, whose CPU is in
"server us/msg" (the deferred part). Printed as a ratio; the budget is 10 %.

usage: bench/ingest.py BUILD_DIR [--machines 1,100,1000] [--messages 20000] [--idle 10000]
                        [--idle-servers coffeecloudd,mosquitto] [--loadgen-runs 3]
                        [--loadgen-servers coffeecloudd,mosquitto] [--paced-seconds 20] [--no-sim] [--json FILE]
                        [--alerts-runs 3]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchutil import cpu_s, free_port


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("server did not open port %d" % port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, argv, port, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        wait_port(port, self.proc)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def run_sim(build, data, port, machines, count, extra=()):
    argv = [os.path.join(build, "coffeecloud-sim"), "--data", data, "--machines", str(machines),
            "--port", str(port), "--qos", "1", "--count", str(count), "--rate", "0", "--quiet",
            "--timeout", "600"] + list(extra)
    out = subprocess.run(argv, capture_output=True, text=True)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit("simulator failed: " + out.stdout + out.stderr)


def run_loadgen(build, data, port, pid, args):
    argv = [os.path.join(build, "coffeecloud-loadgen"), "--certs", data + ".sim-certs", "--port", str(port),
            "--server-pid", str(pid), "--timeout", "300"] + [str(a) for a in args]
    out = subprocess.run(argv, capture_output=True, text=True)
    try:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit("loadgen failed: " + out.stdout + out.stderr)
    if out.returncode != 0:
        print("loadgen: not every message acknowledged: " + out.stderr.strip()[:500], file=sys.stderr)
    # Work the server deferred past the timed phase (coffeecloudd moves its
    # inbox into its tables a round later) is work for these messages too.
    deferred = deferred_cpu_s(pid)
    res["deferred_cpu_s"] = deferred
    res["server_cpu_s"] = res.get("server_cpu_s", 0) + deferred
    if res.get("acked"):
        res["server_cpu_us_per_msg"] = res["server_cpu_s"] / res["acked"] * 1e6
    return res


def deferred_cpu_s(pid, limit_s=60):
    """CPU seconds the server spends after the load generator is done, until
    it has been idle (at most one clock tick) for half a second."""
    start = last = cpu_s(pid)
    quiet_since = time.monotonic()
    deadline = quiet_since + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_s(pid)
        if now - last > 1.0 / os.sysconf("SC_CLK_TCK"):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 0.5:
            return last - start
        last = now
    return last - start


def median_run(runs):
    return sorted(runs, key=lambda r: r["msgs_per_s"])[len(runs) // 2]


def loadgen_section(build, data, servers, runs, paced_s):
    """servers: [(name, argv, port)]. Returns {name: {"a": [...], "b": {...}}}."""
    results = {}
    for name, argv, port, log in servers:
        srv = Server(argv, port, log)
        try:
            a = [run_loadgen(build, data, port, srv.proc.pid, ["--machines", 1000, "--count", 60])
                 for _ in range(runs)]
            b = run_loadgen(build, data, port, srv.proc.pid,
                            ["--machines", 1000, "--rate", 10, "--duration", paced_s])
        finally:
            srv.stop()
        results[name] = {"a": a, "b": b}

    cc, mq = results.get("coffeecloudd"), results.get("mosquitto")
    for name, res in results.items():
        print("%s: server loop write calls per message: %s (a); %.3f (b)" % (
            name, " ".join("%.3f" % r.get("server_loop_writes_per_msg", 0) for r in res["a"]),
            res["b"].get("server_loop_writes_per_msg", 0)))
    if cc is None or mq is None:
        for name, res in results.items():
            for r in res["a"] + [res["b"]]:
                print("%s %s: %.0f msg/s, ack p50/p99 %.2f/%.2f ms, server %.1f us/msg (loop thread %.1f), "
                      "%.2f cores" % (name, r["mode"], r["msgs_per_s"], r["ack_p50_ms"], r["ack_p99_ms"],
                                      r["server_cpu_us_per_msg"], r.get("server_loop_cpu_us_per_msg", 0),
                                      r["server_cpu_share"]))
        return results
    print("ingest with coffeecloud-loadgen: QoS 1 over mutual TLS 1.3, MQTT 5, %d-byte telemetry, "
          "window %d per machine" % (cc["b"]["payload_bytes"], cc["b"]["window"]))
    print("server us/msg: the server's CPU from the first message until it is idle again after the last "
          "(coffeecloudd: +%.0f ms deferred in (a), +%.0f ms in (b))"
          % (1000 * median_run(cc["a"])["deferred_cpu_s"], 1000 * cc["b"]["deferred_cpu_s"]))
    head = "%-13s %9s %17s %12s %12s %14s %15s" % ("server", "msg/s", "ack p50/p99 ms", "server us/msg",
                                                    "server cores", "loadgen cores", "loadgen us/msg")
    row = "%-13s %9.0f %8.2f/%-8.2f %12.1f %12.2f %14.2f %15.1f"
    print("(a) 1,000 machines x 60 messages, as fast as acks allow: median of %d runs (by msg/s)" % runs)
    print(head)
    for name in ("coffeecloudd", "mosquitto"):
        for i, r in enumerate(results[name]["a"]):
            print(row % ("  run %d" % (i + 1), r["msgs_per_s"], r["ack_p50_ms"], r["ack_p99_ms"],
                         r["server_cpu_us_per_msg"], r["server_cpu_share"], r["cpu_share"], r["cpu_us_per_msg"]))
        m = median_run(results[name]["a"])
        print(row % (name, m["msgs_per_s"], m["ack_p50_ms"], m["ack_p99_ms"], m["server_cpu_us_per_msg"],
                     m["server_cpu_share"], m["cpu_share"], m["cpu_us_per_msg"]))
    ma, mb = median_run(cc["a"]), median_run(mq["a"])
    print("    cc / mosquitto: %.2fx the msg/s, %.1fx the server CPU per message "
          "(goal: >= 0.8x, <= 12 us)" % (ma["msgs_per_s"] / max(mb["msgs_per_s"], 1),
                                          ma["server_cpu_us_per_msg"] / max(mb["server_cpu_us_per_msg"], 0.01)))
    print("(b) 1,000 machines x 10 msg/s paced for %s s" % paced_s)
    print(head + " %6s" % "late")
    for name in ("coffeecloudd", "mosquitto"):
        r = results[name]["b"]
        print(row % (name, r["msgs_per_s"], r["ack_p50_ms"], r["ack_p99_ms"], r["server_cpu_us_per_msg"],
                     r["server_cpu_share"], r["cpu_share"], r["cpu_us_per_msg"]) + " %6d" % r["late"])
    ra, rb = cc["b"], mq["b"]
    print("    cc / mosquitto: ack p50 %.1fx, p99 %.1fx, server CPU per message %.1fx; coffeecloudd ack max "
          "%.1f ms (goal: p50 <= 1 ms, p99 <= 3 ms, <= 0.35 cores)" % (
              ra["ack_p50_ms"] / max(rb["ack_p50_ms"], 0.001), ra["ack_p99_ms"] / max(rb["ack_p99_ms"], 0.001),
              ra["server_cpu_us_per_msg"] / max(rb["server_cpu_us_per_msg"], 0.01), ra["ack_max_ms"]))
    print()
    sys.stdout.flush()
    return results


def alerts_section(build, data, work, port, runs):
    """coffeecloudd with the default alert rules vs `alerts = false`."""
    base = open(os.path.join(work, "cc.conf")).read()
    confs = {}
    for name, value in (("rules on", "true"), ("rules off", "false")):
        confs[name] = os.path.join(work, "cc.alerts-%s.conf" % value)
        with open(confs[name], "w") as f:
            f.write(base + "alerts = %s\n" % value)
    results = {name: [] for name in confs}
    for i in range(runs):
        for name, conf in confs.items():
            srv = Server([os.path.join(build, "coffeecloudd"), "--data", data, "--config", conf], port,
                         os.path.join(work, "cc.alerts.log"))
            try:
                results[name].append(run_loadgen(build, data, port, srv.proc.pid, ["--machines", 1000, "--count", 60]))
            finally:
                srv.stop()
    print("alert rules: coffeecloudd with the default rules vs alerts = false, 1,000 machines x 60 messages, "
          "%d interleaved runs each, median (by msg/s)" % runs)
    print("%-10s %9s %17s %14s" % ("", "msg/s", "ack p50/p99 ms", "server us/msg"))
    med = {}
    for name, rs in results.items():
        for r in rs:
            print("%-10s %9.0f %8.2f/%-8.2f %14.1f" % ("  run", r["msgs_per_s"], r["ack_p50_ms"], r["ack_p99_ms"],
                                                    r["server_cpu_us_per_msg"]))
        m = med[name] = median_run(rs)
        print("%-10s %9.0f %8.2f/%-8.2f %14.1f" % (name, m["msgs_per_s"], m["ack_p50_ms"], m["ack_p99_ms"],
                                                m["server_cpu_us_per_msg"]))
    on, off = med["rules on"], med["rules off"]
    cpu_on = sorted(r["server_cpu_us_per_msg"] for r in results["rules on"])[runs // 2]
    cpu_off = sorted(r["server_cpu_us_per_msg"] for r in results["rules off"])[runs // 2]
    print("    on / off: %.3fx the msg/s, %.3fx the server CPU per message (medians; budget: >= 0.9x, <= 1.1x)" % (
        on["msgs_per_s"] / max(off["msgs_per_s"], 1), cpu_on / max(cpu_off, 0.01)))
    print()
    sys.stdout.flush()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--machines", default="1,100,1000")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--idle", type=int, default=0, help="also hold this many idle TLS machines")
    ap.add_argument("--idle-servers", default="coffeecloudd,mosquitto",
                    help="which servers the idle part measures (comma-separated)")
    ap.add_argument("--loadgen-runs", type=int, default=3, help="runs of (a); 0: no coffeecloud-loadgen part")
    ap.add_argument("--loadgen-servers", default="coffeecloudd,mosquitto",
                    help="which servers the coffeecloud-loadgen part measures (comma-separated)")
    ap.add_argument("--paced-seconds", type=int, default=20)
    ap.add_argument("--no-sim", action="store_true", help="skip the coffeecloud-sim figures")
    ap.add_argument("--json", help="write every loadgen result to this file")
    ap.add_argument("--alerts-runs", type=int, default=3, help="runs of the alert rules on/off part; 0: none")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cli = os.path.join(build, "coffeecloud")
    work = tempfile.mkdtemp(prefix="cc-bench-")
    data = os.path.join(work, "data")
    try:
        subprocess.run([cli, "init", "--data", data, "--password-stdin"], input=b"bench password 0123\n",
                       check=True, capture_output=True)
        subprocess.run([cli, "ca", "server-cert", "--data", data, "--san", "127.0.0.1,localhost",
                        "--out", os.path.join(work, "broker")], check=True, capture_output=True)
        cc_port, mq_port = free_port(), free_port()
        with open(os.path.join(work, "cc.conf"), "w") as f:
            f.write("user = root\nmqtt_listen = 127.0.0.1:%d\nmqtt_max_per_address = 100000\n"
                    "log_level = warn\nhttps_listen =\n" % cc_port)
        broker = os.path.join(work, "broker")
        with open(os.path.join(work, "mosquitto.conf"), "w") as f:
            f.write("listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                    "require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3\n"
                    "allow_anonymous false\nmax_inflight_messages 64\nmax_queued_messages 100000\n"
                    "persistence false\nlog_type error\nmax_connections -1\nuser root\n" % (mq_port, broker, broker, broker))

        largest = max([int(n) for n in args.machines.split(",")] + [1000 if args.loadgen_runs else 1])
        # Provision once (not timed): the simulator creates the machines and bundles.
        run_sim(build, data, free_port(), largest, 1, ["--timeout", "1"])

        if args.loadgen_runs:
            res = loadgen_section(build, data, [s for s in [
                ("coffeecloudd", [os.path.join(build, "coffeecloudd"), "--data", data, "--config",
                                  os.path.join(work, "cc.conf")], cc_port, os.path.join(work, "cc.lg.log")),
                ("mosquitto", ["mosquitto", "-c", os.path.join(work, "mosquitto.conf")], mq_port,
                 os.path.join(work, "mq.lg.log"))] if s[0] in args.loadgen_servers.split(",")],
                args.loadgen_runs, args.paced_seconds)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(res, f, indent=1)

        if args.alerts_runs:
            alerts_section(build, data, work, cc_port, args.alerts_runs)

        rows = []
        for n in ([] if args.no_sim else (int(x) for x in args.machines.split(","))):
            count = max(1, args.messages // n)
            cc = Server([os.path.join(build, "coffeecloudd"), "--data", data, "--config",
                         os.path.join(work, "cc.conf")], cc_port, os.path.join(work, "cc.log"))
            a = run_sim(build, data, cc_port, n, count)
            cc.stop()
            mq = Server(["mosquitto", "-c", os.path.join(work, "mosquitto.conf")], mq_port,
                        os.path.join(work, "mq.log"))
            sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mq_port), "-q", "1",
                                    "-t", "cc/#", "--cafile", broker + "/ca.crt",
                                    "--cert", os.path.join(data + ".sim-certs", "SIM-0001", "machine.crt"),
                                    "--key", os.path.join(data + ".sim-certs", "SIM-0001", "machine.key"),
                                    "-i", "bench-subscriber"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            b = run_sim(build, data, mq_port, n, count)
            sub.terminate()
            try:
                sub.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sub.kill()  # mosquitto_sub 2.0.11 now and then misses SIGTERM in a futex wait
                sub.wait()
            mq.stop()
            rows.append((n, a, b))

        if rows:
            print("ingest with coffeecloud-sim (the generator is the limit here; see above), "
                  "QoS 1 over mutual TLS 1.3, %d messages per run" % args.messages)
            print("%9s %15s %13s %7s   %21s %21s" % ("machines", "coffeecloudd/s", "mosquitto/s", "ratio",
                                                      "p50/p99 ms cc", "p50/p99 ms mosquitto"))
        for n, a, b in rows:
            print("%9d %15.0f %13.0f %6.2fx   %10.2f/%-10.2f %10.2f/%-10.2f (acked %d/%d vs %d/%d)" % (
                n, a["msgs_per_s"], b["msgs_per_s"], a["msgs_per_s"] / max(b["msgs_per_s"], 1),
                a.get("ack_p50_ms", 0), a.get("ack_p99_ms", 0), b.get("ack_p50_ms", 0), b.get("ack_p99_ms", 0),
                a["acked"], a["sent"], b["acked"], b["sent"]))

        if args.idle:
            print("\nidle TLS machine connections: %d" % args.idle)
            run_sim(build, data, free_port(), args.idle, 1, ["--timeout", "1", "--raw"])
            for name, argv, port in (
                    ("coffeecloudd", [os.path.join(build, "coffeecloudd"), "--data", data, "--config",
                                      os.path.join(work, "cc.conf")], cc_port),
                    ("mosquitto", ["mosquitto", "-c", os.path.join(work, "mosquitto.conf")], mq_port)):
                if name not in args.idle_servers.split(","):
                    continue
                # BENCH_IDLE_WRAP, e.g. "valgrind --tool=massif --massif-out-file=/tmp/m.out": a heap profile.
                wrap = os.environ.get("BENCH_IDLE_WRAP", "").split()
                srv = Server(wrap + argv, port, os.path.join(work, name + ".idle.log"))
                base = rss_kib(srv.proc.pid)
                hold = subprocess.Popen([os.path.join(build, "coffeecloud-sim"), "--data", data, "--machines",
                                         str(args.idle), "--port", str(port), "--rate", "0.001",
                                         "--duration", "3600", "--quiet", "--raw"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                deadline = time.monotonic() + 300
                count = 0
                while time.monotonic() < deadline:
                    count = len([1 for l in open("/proc/net/tcp").readlines()[1:]
                                 if l.split()[1].endswith(":%04X" % port) and l.split()[3] == "01"])
                    if count >= args.idle:
                        break
                    time.sleep(0.5)
                # Established TCP connections may still be in their handshakes: wait until
                # the server's memory stops growing.
                last, steady = -1, 0
                while steady < 3 and time.monotonic() < deadline:
                    now = rss_kib(srv.proc.pid)
                    steady = steady + 1 if now == last else 0
                    last = now
                    time.sleep(0.5)
                used = rss_kib(srv.proc.pid) - base
                print("%14s: %d connections, %.1f MiB, %.1f KiB per connection, %.0f connections per GiB" % (
                    name, count, used / 1024, used / max(count, 1), count * 1048576 / max(used, 1)))
                hold.send_signal(signal.SIGINT)
                hold.wait()
                srv.stop()
    finally:
        if os.environ.get("BENCH_KEEP"):
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(data + ".sim-certs", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
