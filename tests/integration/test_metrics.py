"""The operator's listener (config metrics_listen): GET /metrics in the
Prometheus text exposition format, /healthz and /readyz.

A real daemon, real MQTT clients (mosquitto_pub for accepted messages, paho
for refused ones, whose PUBACK says so), a real HTTP client. The exposition
is parsed strictly by a parser written here from the format's specification
(not by the daemon's code), and the counters must move by exactly what was
sent. No label value may be a serial or a login.
"""
import http.client
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text):
    """Text format 0.0.4, strictly: every line a HELP, a TYPE or a sample;
    every sample of a family declared by TYPE before it; label sets unique;
    histogram buckets cumulative and ending at +Inf equal to _count.
    Returns {family: {"type", "help", "samples": {(name, labels): value}}}."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families, current = {}, None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        assert line, f"line {n}: empty line"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and help_, f"line {n}: bad HELP: {line!r}"
            assert name not in families, f"line {n}: family {name} declared twice"
            families[name] = {"help": help_, "type": None, "samples": {}}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert name == current and families[name]["type"] is None, f"line {n}: TYPE without its HELP"
            assert type_ in ("counter", "gauge", "histogram", "summary", "untyped"), f"line {n}: {type_}"
            families[name]["type"] = type_
            continue
        assert not line.startswith("#"), f"line {n}: unexpected comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, raw_labels, value = m.groups()
        fam = families.get(current)
        assert fam is not None and fam["type"] is not None, f"line {n}: sample before TYPE"
        suffixes = ("_bucket", "_sum", "_count") if fam["type"] == "histogram" else ("",)
        assert any(name == current + s for s in suffixes), f"line {n}: {name} outside family {current}"
        labels = ()
        if raw_labels is not None:
            pairs = LABEL_PAIR.findall(raw_labels)
            rebuilt = ",".join(f'{k}="{v}"' for k, v in pairs)
            assert rebuilt == raw_labels, f"line {n}: malformed labels {raw_labels!r}"
            labels = tuple(sorted(pairs))
            assert len({k for k, _ in pairs}) == len(pairs), f"line {n}: a label twice"
        key = (name, labels)
        assert key not in fam["samples"], f"line {n}: duplicate series {key}"
        v = float(value)  # "+Inf", "NaN" parse too
        if fam["type"] == "counter" or name.endswith(("_bucket", "_count")):
            assert v >= 0 and v == int(v), f"line {n}: a counter is a whole number >= 0: {value}"
        fam["samples"][key] = v
    for name, fam in families.items():
        assert fam["type"] is not None, f"{name}: HELP without TYPE"
        if fam["type"] == "counter":
            assert name.endswith("_total"), f"{name}: a counter's name ends in _total"
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    buckets = [(dict(k[1])["le"], v) for k, v in samples.items() if k[0] == name + "_bucket"]
    assert buckets and buckets[-1][0] == "+Inf", f"{name}: buckets end at +Inf"
    bounds = [float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{name}: bounds ascend"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"{name}: buckets are cumulative"
    assert samples[(name + "_count", ())] == counts[-1], f"{name}: _count is the +Inf bucket"
    assert (name + "_sum", ()) in samples


def value(families, family, name=None, **labels):
    return families[family]["samples"].get((name or family, tuple(sorted(labels.items()))), 0.0)


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def scrape(d):
    status, ctype, body = get(d.metrics_port, "/metrics")
    assert status == 200, (status, body)
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(body), body


class Paho:
    """A machine on MQTT 5 over TLS with its own certificate; publish()
    returns once the PUBACK came (a refused message is acknowledged with a
    reason; it is not stored)."""

    def __init__(self, d, m):
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.connected = threading.Event()
        self.c.on_connect = lambda c, u, fl, rc, p: rc == 0 and self.connected.set()
        self.c.connect("127.0.0.1", d.tls_port)
        self.c.loop_start()
        assert self.connected.wait(TIMEOUT), "CONNACK"
        self.serial = m.serial

    def publish(self, topic, payload):
        info = self.c.publish(f"cc/v1/{self.serial}/{topic}", payload, qos=1)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), "no PUBACK"

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def now_ms():
    import time
    return int(time.time() * 1000)


@pytest.fixture
def fleet(tmp_path):
    return ccdaemon.Fleet.create(tmp_path / "f", machines=["MX-100001", "MX-100002"])


def daemon(fleet, **extra):
    port, api = ccdaemon.free_port(), ccdaemon.free_port()
    d = ccdaemon.Daemon(fleet, settings={"metrics_listen": f"127.0.0.1:{port}",
                                         "https_plain_listen": f"127.0.0.1:{api}", **extra})
    d.metrics_port, d.api_port = port, api
    return d


def test_metrics_move_by_exactly_what_was_sent(fleet):
    m1, m2 = fleet.machines["MX-100001"], fleet.machines["MX-100002"]
    with daemon(fleet) as d:
        before, _ = scrape(d)
        assert value(before, "coffeecloud_build_info", version=ccdaemon.run_cli("--version").stdout.split()[-1]) == 1
        for fam in ("coffeecloud_messages_accepted_total", "coffeecloud_messages_refused_total",
                    "coffeecloud_commit_batch_messages", "coffeecloud_commit_duration_seconds",
                    "coffeecloud_mqtt_connections", "coffeecloud_writer_queue_items",
                    "coffeecloud_signin_failures_total", "coffeecloud_alerts_open",
                    "coffeecloud_webhook_backlog_notifications", "coffeecloud_store_size_bytes"):
            assert fam in before, f"{fam} missing"
        assert value(before, "coffeecloud_store_size_bytes") > 0
        assert value(before, "coffeecloud_mqtt_connections") == 0

        # 5 telemetry messages, acknowledged once stored (mosquitto_pub, QoS 1).
        t0 = now_ms()
        ccdaemon.publish(d, m1, "telemetry", [{"seq": i, "ts": t0 + i, "m": {"boiler_temp_c": 93.0 + i}}
                                              for i in range(1, 6)])
        d.wait_for(r"MX-100001 went away")
        # Refused: not JSON, an e-mail address (privacy), an unknown metric, a bad seq;
        # and a publish outside the machine's topics. The machine stays connected.
        p = Paho(d, m2)
        try:
            mid = value(scrape(d)[0], "coffeecloud_mqtt_connections")
            assert mid == 1, mid
            p.publish("telemetry", b"{not json")
            p.publish("telemetry", json.dumps({"seq": 1, "ts": t0, "m": {"boiler_temp_c": 90},
                                               "x": "write to jane.doe@example.com"}))
            p.publish("telemetry", json.dumps({"seq": 2, "ts": t0, "m": {"no_such_metric": 1}}))
            p.publish("telemetry", json.dumps({"seq": -4, "ts": t0, "m": {"boiler_temp_c": 90}}))
            p.publish("telemetry", json.dumps({"seq": 3, "ts": t0, "m": {"boiler_temp_c": 91}}))
        finally:
            p.close()
        d.wait_for(r"MX-100002 went away")
        # A failed sign-in and two API requests.
        c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=30)
        c.request("POST", "/api/v1/auth/login", body=json.dumps({"login": "admin", "password": "wrong-password-1"}),
                  headers={"Content-Type": "application/json"})
        assert c.getresponse().read() is not None
        c.request("GET", "/api/v1/machines/MX-100001")
        r = c.getresponse()
        r.read()
        assert r.status == 401
        c.close()
        d.wait_for(r"failed sign-in")

        after, text = scrape(d)

    def moved(family, **labels):
        return value(after, family, **labels) - value(before, family, **labels)

    assert moved("coffeecloud_messages_accepted_total", kind="telemetry") == 6
    assert moved("coffeecloud_messages_accepted_total", kind="event") == 0
    assert moved("coffeecloud_messages_refused_total", reason="decoding") == 1
    assert moved("coffeecloud_messages_refused_total", reason="privacy") == 1
    assert moved("coffeecloud_messages_refused_total", reason="telemetry") == 1
    assert moved("coffeecloud_messages_refused_total", reason="seq_ts") == 1
    assert sum(v for (n, _), v in after["coffeecloud_messages_refused_total"]["samples"].items()) - \
        sum(v for (n, _), v in before["coffeecloud_messages_refused_total"]["samples"].items()) == 4
    # Every refusal reason of docs/METRICS.md has its series, zero or not: a bounded set.
    reasons = {dict(k[1])["reason"] for k in after["coffeecloud_messages_refused_total"]["samples"]}
    assert reasons == {"size", "decoding", "privacy", "seq_ts", "telemetry", "event", "info", "result", "config",
                       "topic", "internal"}
    assert value(after, "coffeecloud_mqtt_connections") == 0
    # Commits: at least one batch, the 6 accepted messages among the items committed.
    assert moved("coffeecloud_commit_batch_messages", name="coffeecloud_commit_batch_messages_count") >= 1
    assert moved("coffeecloud_commit_batch_messages", name="coffeecloud_commit_batch_messages_sum") >= 6
    assert moved("coffeecloud_commit_duration_seconds", name="coffeecloud_commit_duration_seconds_count") >= 1
    assert moved("coffeecloud_signin_failures_total") == 1
    assert moved("coffeecloud_http_requests_total", method="POST", route="/api/v1/auth/login", code="4xx") == 1
    assert moved("coffeecloud_http_requests_total", method="GET", route="/api/v1/machines/{serial}", code="4xx") == 1
    assert value(after, "coffeecloud_alerts_open", severity="critical") >= 0
    # Nothing names a machine or an account: no serial, no login, no concrete path.
    for fam in after.values():
        for (_, labels) in fam["samples"]:
            for k, v in labels:
                assert not re.search(r"MX-\d+|admin|jane", v), (k, v)
    assert "MX-1000" not in text and "jane" not in text


def test_health_and_readiness_say_only_their_status(fleet):
    with daemon(fleet) as d:
        assert get(d.metrics_port, "/healthz")[::2] == (200, "ok\n")
        assert get(d.metrics_port, "/readyz")[::2] == (200, "ready\n")
        assert get(d.metrics_port, "/nothing")[::2] == (404, "not found\n")
        assert get(d.metrics_port, "/metrics", method="POST")[0] == 405
        # The API listener serves none of it: the operator's port alone does.
        assert get(d.api_port, "/metrics")[0] == 404


def test_a_detached_daemon_runs_all_its_threads(fleet):
    """--daemon forks before any thread starts and before the database opens
    (a child keeps only the forking thread and none of the parent's file
    locks): the detached daemon gets ready, acknowledges a machine's message
    (the writer), answers the API (the people's loop), and stops on SIGTERM."""
    import os
    import signal

    d = daemon(fleet)
    p = subprocess.run([str(ccdaemon.DAEMON), "--data", str(fleet.data), "--config", str(d.config), "--daemon"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=ccdaemon.base_env())
    assert p.returncode == 0, p.stderr

    def ours():  # the detached process: the one whose command line names this test's configuration
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if str(d.config).encode() in args and b"--daemon" in args:
                return int(pid)
        return None
    pid = ccdaemon.poll_until(ours, "the detached daemon")
    try:
        def ready():
            try:
                return get(d.metrics_port, "/readyz")[0] == 200
            except OSError:
                return False
        ccdaemon.poll_until(ready, "/readyz")
        m = Paho(d, fleet.machines["MX-100001"])
        try:
            m.publish("telemetry", json.dumps({"seq": 1, "ts": now_ms(), "m": {"boiler_temp_c": 93.0}}))
        finally:
            m.close()
        assert get(d.api_port, "/api/v1/signing-key")[0] == 200  # read through the people's vault
    finally:
        os.kill(pid, signal.SIGTERM)

        def gone():  # exited (a zombie until whoever adopted it reaps it)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True
        try:
            ccdaemon.poll_until(gone, "the detached daemon to stop")
        except AssertionError:
            os.kill(pid, signal.SIGKILL)  # not left behind for the next test
            raise
    assert [t["seq"] for t in fleet.telemetry("MX-100001")] == [1]


def test_metrics_listener_only_on_loopback(fleet):
    conf = Path(fleet.root) / "wide.conf"
    conf.write_text("user = root\nmqtt_listen = 127.0.0.1:1\nmetrics_listen = 0.0.0.0:9464\n")
    p = subprocess.run([str(ccdaemon.DAEMON), "--data", str(fleet.data), "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=60, env=ccdaemon.base_env())
    assert p.returncode == 2 and "metrics_listen" in p.stderr and "loopback" in p.stderr, p.stderr


def test_grafana_dashboard_uses_only_served_metrics(fleet):
    """share/grafana/coffeecloud.json: valid JSON, and every metric its
    queries name is one the daemon serves."""
    dash = json.loads((ccdaemon.REPO / "share" / "grafana" / "coffeecloud.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    named = {re.sub(r"_(bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"coffeecloud_[a-z_]+", e)}
    assert len(named) >= 12, named
    with daemon(fleet) as d:
        c = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=30)
        c.request("GET", "/api/v1/me")
        c.getresponse().read()
        c.close()
        families, _ = scrape(d)
    assert named <= set(families), named - set(families)
