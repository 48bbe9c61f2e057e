"""log_format = json: every line the daemon writes is one JSON object
({"ts","level","module","msg"}), from start to stop, refused input never in
it; and in text form a line stays one line."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")

SECRET = "jane.doe.marker@example.com"


def test_json_logs_parse_line_by_line(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=["LG-000001"])
    m = fleet.machines["LG-000001"]
    port = ccdaemon.free_port()
    conf = tmp_path / "json.conf"
    conf.write_text(f"user = root\nlog_format = json\nmqtt_listen = 127.0.0.1:{port}\nhttps_listen =\n"
                    "fleet_poll_ms = 100\n")
    p = subprocess.Popen([str(ccdaemon.DAEMON), "--data", str(fleet.data), "--config", str(conf)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=ccdaemon.base_env())
    lines = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            raw = p.stderr.readline()
            assert raw, "the daemon ended before it was ready:\n" + "".join(lines)
            lines.append(raw.decode())
            if json.loads(raw).get("msg") == "ready":
                break
            assert time.monotonic() < deadline, "not ready in time"
        d = type("D", (), {"tls_port": port})()
        now = int(time.time() * 1000)
        ccdaemon.publish(d, m, "telemetry", [{"seq": 1, "ts": now, "m": {"boiler_temp_c": 93.1}}])
        # A refused message whose content must appear nowhere (its PUBACK says why; exit status not checked).
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--cafile", str(m.ca), "--cert",
                        str(m.cert), "--key", str(m.key), "-i", m.serial, "-V", "mqttv5", "-q", "1",
                        "-t", f"cc/v1/{m.serial}/telemetry",
                        "-m", json.dumps({"seq": 2, "ts": now, "m": {"boiler_temp_c": 90}, "note": SECRET})],
                       capture_output=True, timeout=60)
    finally:
        p.send_signal(signal.SIGTERM)
        _, rest = p.communicate(timeout=TIMEOUT + 10)
    lines += rest.decode().splitlines(keepends=True)
    assert p.returncode == 0, "".join(lines)
    docs = []
    for n, line in enumerate(lines, 1):
        assert line.endswith("\n"), f"line {n} is not a whole line"
        doc = json.loads(line)
        assert isinstance(doc, dict) and list(doc) == ["ts", "level", "module", "msg"], (n, line)
        assert doc["level"] in ("error", "warn", "info", "debug"), line
        assert len(doc["ts"]) == 24 and doc["ts"].endswith("Z"), doc["ts"]
        assert all(isinstance(v, str) and v for v in doc.values()), line
        docs.append(doc)
    text = "".join(lines)
    assert SECRET not in text and "jane" not in text
    msgs = [x["msg"] for x in docs]
    assert any("refused a message: refused by the privacy filter" in x for x in msgs), msgs
    assert any("LG-000001 connected" in x for x in msgs), msgs
    assert msgs[-1] == "stopped", msgs[-3:]


def test_log_format_is_checked(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=[])
    conf = tmp_path / "bad.conf"
    conf.write_text("user = root\nmqtt_listen = 127.0.0.1:1\nlog_format = xml\n")
    p = subprocess.run([str(ccdaemon.DAEMON), "--data", str(fleet.data), "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=60, env=ccdaemon.base_env())
    assert p.returncode == 2 and "log_format" in p.stderr, p.stderr
