"""Downtime and availability end to end (docs/OPERATIONS.md): a machine's
scripted day of connections, a clean DISCONNECT, a TCP reset and a critical
error raised and cleared, through the real daemon and a real MQTT client
(paho); the figures `coffeecloud report availability` gives must agree with
the scenario's own timeline, to the second. kill -9 of the daemon ends in
the right state too."""
import json
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402

SECOND = 1000


def now_ms():
    return int(time.time() * 1000)


def iso_ms(text):
    """Epoch ms of the CLI's ISO 8601 UTC times (YYYY-MM-DDTHH:MM:SS.mmmZ)."""
    import calendar
    main, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac)


class Paho:
    """A machine over MQTT 5/TLS with its certificate; connect() returns when
    the daemon's CONNACK is in, publish() when its PUBACK is."""

    def __init__(self, d, m):
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.d, self.m = d, m

    def connect(self):
        self.c.connect("127.0.0.1", self.d.tls_port, keepalive=30)
        self.c.loop_start()
        ccdaemon.poll_until(self.c.is_connected, "CONNACK")

    def publish(self, topic, doc):
        info = self.c.publish(f"cc/v1/{self.m.serial}/{topic}", json.dumps(doc), qos=1)
        info.wait_for_publish(timeout=ccdaemon.TIMEOUT)
        assert info.is_published()

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def reset(self):
        """The TCP connection dies under the machine: no DISCONNECT."""
        self.c.loop_stop()
        sock = self.c.socket()
        # Linger 0: close sends a TCP RST, not a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()


def offline(f, serial):
    return lambda: not f.status(serial)["online"]


def report(f, *args):
    return f.ccj("report", "availability", *args)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("downtime")
    f = ccdaemon.Fleet.create(root, machines=("D1", "D2", "D3"), customer="cafe-d")
    f.add_customer("cafe-e")
    f.add_machine("E1", customer="cafe-e")
    return f


def test_a_scripted_day_agrees_with_its_own_timeline(fleet):
    f = fleet
    with ccdaemon.Daemon(f) as d:
        start = now_ms()
        m = Paho(d, f.machines["D1"])
        a0 = now_ms()
        m.connect()
        a1 = now_ms()
        raised = now_ms()
        m.publish("event", {"seq": 1, "ts": raised, "type": "error", "code": "E042", "severity": "critical",
                            "state": "raised"})
        m.publish("event", {"seq": 2, "ts": raised + 300, "type": "error", "code": "W010", "severity": "warning",
                            "state": "raised"})
        time.sleep(1.5)  # the scenario's fault lasts 1.5 s
        cleared = now_ms()
        m.publish("event", {"seq": 3, "ts": cleared, "type": "error", "code": "E042", "severity": "critical",
                            "state": "cleared"})
        b0 = now_ms()
        m.disconnect()
        ccdaemon.poll_until(offline(f, "D1"), "D1 offline after DISCONNECT")
        b1 = now_ms()
        time.sleep(1.0)  # offline for a second
        m = Paho(d, f.machines["D1"])
        c0 = now_ms()
        m.connect()
        c1 = now_ms()
        time.sleep(1.0)  # online for a second
        e0 = now_ms()
        m.reset()
        ccdaemon.poll_until(offline(f, "D1"), "D1 offline after a TCP reset")
        e1 = now_ms()

        # The settler moves the events in within a round (1 s): until then
        # the fault is not part of the history.
        def settled():
            doc = report(f, "--serial", "D1", "--from", str(start))
            return doc if doc["total"]["ms"]["out_of_service"] > 0 else None
        doc = ccdaemon.poll_until(settled, "the fault in the report")
    to = iso_ms(doc["to"])
    t = doc["total"]
    ms = t["ms"]
    row = doc["rows"][0]
    assert doc["from"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start // 1000)))
    assert row["serial"] == "D1" and row["state"] == "offline" and row["reason"] != ""
    assert e0 <= iso_ms(row["since"]) <= e1
    # Exactly the events' own times: 1.5 s of the critical error.
    assert ms["out_of_service"] == cleared - raised
    # Unknown until the first connection; offline from the DISCONNECT to the
    # reconnection and from the reset to the end.
    assert a0 - start - 5 <= ms["unknown"] <= a1 - start + 5
    lo = (c0 - b1) + (to - e1)
    hi = (c1 - b0) + (to - e0)
    assert lo - 5 <= ms["offline"] <= hi + 5, (lo, ms["offline"], hi)
    assert sum(ms.values()) == to - start
    assert ms["maintenance"] == 0
    assert t["incidents"] == 3 and t["restorations"] == 2
    assert t["availability_pct"] == pytest.approx(100 * ms["up"] / (ms["up"] + ms["offline"] + ms["out_of_service"]),
                                                  abs=0.001)
    assert t["mttr_min"] == pytest.approx((ms["offline"] + ms["out_of_service"]) / 60000 / 3, abs=0.01)
    assert t["mtbf_min"] == pytest.approx(ms["up"] / 60000 / 3, abs=0.01)
    # Human form: a header and the machine's row.
    out = f.cc("report", "availability", "--serial", "D1", "--from", str(start)).stdout
    assert "MACHINES" in out and "AVAILABILITY_%" in out and "STATE" in out and "D1" in out


def test_maintenance_is_neither_up_nor_down(fleet):
    f = fleet
    with ccdaemon.Daemon(f) as d:
        m = Paho(d, f.machines["D2"])
        m.connect()
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        f.cc("maintenance", "start", "D2", "--reason", "repair", "--until", until)
        assert report(f, "--serial", "D2", "--from", str(now_ms() - SECOND))["rows"][0]["state"] == "maintenance"
        m.disconnect()
        ccdaemon.poll_until(offline(f, "D2"), "D2 offline")
        row = report(f, "--serial", "D2", "--from", str(now_ms() - SECOND))["rows"][0]
        assert row["state"] == "maintenance" and row["reason"] == "repair"
        f.cc("maintenance", "end", "D2")
        row = report(f, "--serial", "D2", "--from", str(now_ms() - SECOND))["rows"][0]
        assert row["state"] == "offline"
        # Ending none, a reason not on the list, an end in the past: refused.
        p = f.cc("maintenance", "end", "D2", rc=1)
        assert "not in maintenance" in p.stderr
        f.cc("maintenance", "start", "D2", "--reason", "lunch", "--until", until, rc=2)
        f.cc("maintenance", "start", "D2", "--reason", "repair", "--until", "2020-01-01T00:00:00Z", rc=2)
    doc = report(f, "--serial", "D2", "--from", str(now_ms() - 60 * SECOND))
    ms = doc["total"]["ms"]
    assert ms["maintenance"] > 0 and doc["total"]["incidents"] == 0


def test_kill_9_ends_offline_and_reports_group(fleet):
    f = fleet
    d = ccdaemon.Daemon(f)
    d.start()
    m = Paho(d, f.machines["D3"])
    m.connect()
    # The live state is committed by the writer after the CONNACK went out.
    ccdaemon.poll_until(lambda: f.status("D3")["online"], "D3 to be online")
    d._kill()
    m.c.loop_stop()
    with ccdaemon.Daemon(f):
        status = ccdaemon.poll_until(lambda: (lambda s: s if not s["online"] else None)(f.status("D3")),
                                     "D3 offline")
        assert "restarted" in json.dumps(status)
    doc = report(f, "--by", "customer")
    rows = {r["customer"]: r for r in doc["rows"]}
    assert set(rows) == {"cafe-d", "cafe-e"}
    assert rows["cafe-d"]["machines"] == 3 and rows["cafe-e"]["machines"] == 1
    assert rows["cafe-e"]["ms"]["unknown"] == iso_ms(doc["to"]) - iso_ms(doc["from"])  # never seen
    assert doc["total"]["machines"] == 4
    assert report(f, "--customer", "cafe-e")["total"]["machines"] == 1
    f.cc("report", "availability", "--by", "shoe", rc=2)
    f.cc("report", "availability", "--customer", "nobody", rc=3)


def test_the_timeline_tells_the_machines_story_cut_to_each_role(fleet):
    """GET /machines/{serial}/timeline merges state changes, events (errors
    with their catalogue entry), commands and reports by time; each role
    sees only its classes (a customer manager no error codes, a technician
    no brews: brews are never in it)."""
    from ccapi import Api
    from oas import checked
    f = fleet
    for login, org, role in (("tl-eng", "manufacturer", "engineer"), ("tl-cm", "cafe-e", "customer_manager")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        m = Paho(d, f.machines["E1"])
        m.connect()
        t0 = now_ms()
        m.publish("event", {"seq": 1, "ts": t0, "type": "error", "code": "E201", "severity": "critical",
                            "state": "raised"})
        m.publish("event", {"seq": 2, "ts": t0 + 1, "type": "brew", "product": "espresso"})
        m.publish("event", {"seq": 3, "ts": t0 + 2, "type": "cleaning", "program": "rinse", "result": "ok"})
        m.publish("event", {"seq": 4, "ts": t0 + 3, "type": "error", "code": "E201", "severity": "critical",
                            "state": "cleared"})
        f.cc("machine", "command", "E1", "--name", "diagnostics")
        api = checked(Api(port, f.data / "ca.crt"))
        eng = api.login("tl-eng", ccdaemon.password_of("tl-eng"))
        cm = api.login("tl-cm", ccdaemon.password_of("tl-cm"))

        def kinds(token, query=""):
            status, doc, _ = api.call("GET", "/api/v1/machines/E1/timeline" + query, token=token)
            assert status == 200, doc
            return doc
        # The settler moves events in by rounds: wait for the last of them (the clearing) and its alert.
        doc = ccdaemon.poll_until(lambda: (lambda x: x if {"fault_cleared", "alert_resolved"} <= {
            i["kind"] for i in x["items"]} else None)(kinds(eng)), "the settled fault and its alert in the timeline")
        got = [i["kind"] for i in doc["items"]]
        assert got.index("online") < got.index("error") < got.index("cleaning") and "brew" not in got
        assert {"out_of_service", "fault_cleared", "command"} <= set(got)
        error = [i for i in doc["items"] if i["kind"] == "error"][0]
        assert error["code"] == "E201" and error["explained"]["severity"] == "critical"
        assert error["explained"]["text"].startswith("Boiler over-temperature") and error["data_class"] == "technical"
        hu = [i for i in kinds(eng, "?lang=hu")["items"] if i["kind"] == "error"][0]
        assert hu["explained"]["text"].startswith("A kazán")
        alerts = [i for i in doc["items"] if i["kind"] == "alert_opened"]
        assert any(a["rule"] == "critical_error" and "E201" in a["cause"] for a in alerts), alerts
        assert "alert_resolved" in got
        cm_items = kinds(cm)["items"]
        assert [a for a in cm_items if a["kind"] == "alert_opened"] and all(
            "cause" not in a for a in cm_items if a["kind"] == "alert_opened")  # no error code for a manager
        seen = {i["kind"] for i in cm_items}
        assert "online" in seen and "cleaning" in seen
        assert not seen & {"error", "out_of_service", "fault_cleared", "command"}, seen
        # A window before any of it: empty; a bad window: 400.
        assert kinds(eng, f"?from={t0 - 3600000}&to={t0 - 1800000}")["items"] == []
        status, doc, _ = api.call("GET", f"/api/v1/machines/E1/timeline?from={t0}&to={t0 - 1}", token=eng)
        assert status == 400
        m.disconnect()


def test_availability_through_the_api_is_scoped(fleet):
    """GET /api/v1/availability: the report of the CLI, for the machines the
    caller sees (a customer manager: its own customer's), as the OpenAPI
    document says; another customer's serial is 404 like none."""
    from ccapi import Api
    from oas import checked
    f = fleet
    for login, org, role in (("av-eng", "manufacturer", "engineer"), ("av-cm", "cafe-e", "customer_manager")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}):
        api = checked(Api(port, f.data / "ca.crt"))
        eng = api.login("av-eng", ccdaemon.password_of("av-eng"))
        cm = api.login("av-cm", ccdaemon.password_of("av-cm"))
        status, doc, _ = api.call("GET", "/api/v1/availability?by=customer", token=eng)
        assert status == 200 and doc["by"] == "customer", doc
        rows = {r["customer"]: r for r in doc["rows"]}
        assert set(rows) == {"cafe-d", "cafe-e"} and doc["total"]["machines"] == 4
        cli = report(f, "--by", "customer", "--from", str(iso_ms(doc["from"])), "--to", str(iso_ms(doc["to"])))
        assert {r["customer"]: r["ms"] for r in cli["rows"]} == {k: v["ms"] for k, v in rows.items()}
        status, doc, _ = api.call("GET", "/api/v1/availability?by=machine", token=cm)
        assert status == 200 and [r["serial"] for r in doc["rows"]] == ["E1"], doc
        status, doc, _ = api.call("GET", "/api/v1/availability?serial=D1", token=cm)
        assert status == 404, doc
        status, doc, _ = api.call("GET", "/api/v1/availability?serial=D1", token=eng)
        assert status == 200 and doc["rows"][0]["serial"] == "D1" and doc["rows"][0]["state"] == "offline"
        for bad in ("by=shoe", "from=x", f"from={now_ms() + 3600000}"):
            assert api.call("GET", "/api/v1/availability?" + bad, token=eng)[0] == 400, bad


def test_business_hours_count_only_the_open_time(fleet):
    """A site's business hours (docs/OPERATIONS.md "Business hours"): set in
    the CLI and the API, kept canonical, refused with the reason; the
    availability within them counts only open time in the site's zone. Closed
    on the days around now: nothing counts; open around the clock: the same
    figures as without hours, to the millisecond."""
    import datetime
    import zoneinfo
    from ccapi import Api
    from oas import checked
    f = fleet
    zone = "Pacific/Kiritimati"  # UTC+14: its day is not the test machine's
    local = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    near = {(local + datetime.timedelta(days=k)).weekday() for k in (-1, 0, 1)}
    far = [days[i] for i in range(7) if i not in near]
    p = f.cc("site", "add", "--customer", "cafe-d", "--name", "night-bar", "--timezone", zone,
             "--hours", "mon-fri 19:00-07:00", rc=2)
    assert "opens before it closes" in p.stderr and "19:00-07:00" not in p.stderr, p.stderr
    site = f.ccj("site", "add", "--customer", "cafe-d", "--name", "night-bar", "--timezone", zone,
                 "--hours", "; ".join(f"{d} 00:00-24:00" for d in reversed(far)))
    idx = [days.index(d) for d in far]
    runs = []
    for i in idx:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    canonical = ",".join(days[a] if a == b else f"{days[a]}-{days[b]}" for a, b in runs) + " 00:00-24:00"
    assert site["hours"] == canonical, (site, canonical)
    f.cc("machine", "move", "D3", "--site", "night-bar")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        start = now_ms()
        m = Paho(d, f.machines["D3"])
        m.connect()
        m.publish("telemetry", {"seq": 1, "ts": now_ms(), "m": {"boiler_temp_c": 93.1}})
        m.disconnect()
        ccdaemon.poll_until(offline(f, "D3"), "D3 offline after DISCONNECT")
        end = now_ms() + 1
        api = checked(Api(port, f.data / "ca.crt"))
        admin = api.login("admin", ccdaemon.PASSWORD)

        def availability(hours):
            q = f"/api/v1/availability?serial=D3&from={start}&to={end}&business_hours={hours}"
            status, doc, _ = api.call("GET", q, token=admin)
            assert status == 200, doc
            assert doc["business_hours"] is (hours == "true")
            return doc["total"]

        around = availability("false")
        assert around["ms"]["up"] > 0 and around["ms"]["offline"] > 0 and around["incidents"] == 1, around
        closed = availability("true")
        assert closed["ms"] == {"up": 0, "offline": 0, "out_of_service": 0, "maintenance": 0, "unknown": 0}
        assert closed["availability_pct"] is None and closed["incidents"] == 0, closed
        cli = report(f, "--serial", "D3", "--from", str(start), "--to", str(end), "--business-hours")
        assert cli["business_hours"] is True and cli["total"]["ms"] == closed["ms"]

        status, sites, _ = api.call("GET", "/api/v1/sites?customer=cafe-d", token=admin)
        sid = [s["id"] for s in sites["sites"] if s["name"] == "night-bar"][0]
        for bad, why in (("mon 09:00-12:00,11:00-13:00", "overlap"), ("daily 9-5", "e.g."),
                         ("mon 09:00-25:00", "e.g.")):
            status, doc, _ = api.call("POST", f"/api/v1/sites/{sid}", {"hours": bad}, token=admin)
            assert status == 400 and why in doc["error"]["message"] and bad not in doc["error"]["message"], doc
        status, doc, _ = api.call("POST", f"/api/v1/sites/{sid}", {"hours": "mon-sun 00:00-24:00"}, token=admin)
        assert status == 200 and doc["hours"] == "mon-sun 00:00-24:00", doc
        assert availability("true") == around
        assert api.call("GET", "/api/v1/availability?business_hours=maybe", token=admin)[0] == 400
