"""Retention as the policy states it: records older than the configured
days are deleted by the daemon, kind by kind; a kind kept "until erasure"
is left alone."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
import storeview  # noqa: E402

DAY_MS = 86400 * 1000


publish = ccdaemon.publish


def test_records_past_their_retention_are_deleted(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("R1", "R2"), customer="cafe-r")
    port = ccdaemon.free_port()
    # One record per transaction: every deletion below takes several batches.
    d = ccdaemon.Daemon(f, settings={"retention_telemetry_days": "2", "retention_rollups_days": "4",
                                     "retention_events_days": "0", "retention_sweep_s": "1",
                                     "retention_batch_rows": "1", "https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        now = int(time.time() * 1000)
        old = now - 3 * DAY_MS  # past the telemetry's retention, within the summaries'
        for serial in ("R1", "R2"):
            publish(d, f.machines[serial], "telemetry",
                    [{"seq": 1, "ts": now - 5 * DAY_MS, "m": {"boiler_temp_c": 91.0}},
                     {"seq": 2, "ts": old, "m": {"boiler_temp_c": 92.0}},
                     {"seq": 3, "ts": now - DAY_MS, "m": {"boiler_temp_c": 93.0}}])
            publish(d, f.machines[serial], "event",
                    [{"seq": 4, "ts": now - 5 * DAY_MS, "type": "error", "code": "E042", "severity": "critical"}])
        # Both machines' two old messages go, in one sweep or several; the row count is the event.
        def old_rows_gone():
            return all([r["seq"] for r in f.telemetry(serial)] == [3] for serial in ("R1", "R2"))
        ccdaemon.poll_until(old_rows_gone, "telemetry older than 2 days to be deleted")
        line = d.wait_for(r"retention: info: deleted \d+ telemetry records past their retention "
                          r"\(the installation's: 2 days\)")
        assert int(line.split("deleted ")[1].split()[0]) in (1, 2, 3, 4)
        # The chart of the deleted period lives on in its summaries.
        api = Api(port, f.data / "ca.crt")
        admin = api.login("admin", ccdaemon.PASSWORD)
        minute = old - old % 60000
        status, doc, _ = api.call("GET", f"/api/v1/machines/R1/telemetry?step=60000&from={minute}"
                                  f"&to={minute + 60000}", token=admin)
        assert status == 200 and [b["n"] for b in doc["telemetry"]] == [1], doc
        assert doc["telemetry"][0]["m"]["boiler_temp_c"] == 92.0, doc
        status, doc, _ = api.call("GET", f"/api/v1/machines/R1/telemetry?from={minute}&to={minute + 60000}",
                                  token=admin)
        assert status == 200 and doc["telemetry"] == [], doc
    finally:
        d.stop()
    for serial in ("R1", "R2"):
        assert [r["seq"] for r in f.telemetry(serial)] == [3], serial
    with storeview.open_store(f.data) as c:
        # Summaries older than 4 days went; the 3-day-old and the fresh ones stay.
        starts = sorted(s for (s,) in c.rows("SELECT start_ms + width_ms FROM rollups WHERE width_ms > 0"))
        audit = c.rows("SELECT actor, action, machines, purpose, outcome, source, customer_id FROM audit "
                       "WHERE actor = 'daemon:retention' ORDER BY seq")
        customer = c.scalar("SELECT id FROM orgs WHERE name = 'cafe-r'")
    assert len(starts) == 8 and min(starts) > now - 4 * DAY_MS, starts
    # Each kind's deletions are in the audit log, with their count, under the customer.
    deleted = {}
    for actor, action, machines, purpose, outcome, source, customer_id in audit:
        assert (machines, purpose, outcome, customer_id) == ("*", "administration", "ok", customer), audit
        m = re.fullmatch(r"deleted (\d+) older than \d{4}-\d\d-\d\dT\d\d:\d\dZ", source)
        assert m, source
        deleted[action] = deleted.get(action, 0) + int(m.group(1))
    assert deleted == {"retention.telemetry.delete": 4, "retention.rollups.delete": 4}, audit
    for serial in ("R1", "R2"):
        # Events are kept until erasure (0): untouched.
        assert [r["seq"] for r in f.events(serial)] == [4], serial
    assert "events records" not in d.log


def test_a_customers_shorter_term_deletes_only_its_records(tmp_path):
    """The installation keeps telemetry until erasure; cafe-r agreed 2 days.
    Only cafe-r's old records go, its manager sees its own term and no one
    else's, and the platform's admins alone set terms."""
    f = ccdaemon.Fleet.create(tmp_path, machines=("R1",), customer="cafe-r")
    f.add_customer("cafe-s")
    f.add_machine("S1", customer="cafe-s")
    for login, org, role in (("mgr-r", "cafe-r", "customer_manager"), ("mgr-s", "cafe-s", "customer_manager"),
                             ("admin-r", "cafe-r", "admin")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=ccdaemon.password_of(login) + "\n")
    f.cc("retention", "set", "--customer", "cafe-r", "--kind", "telemetry", "--days", "2")
    f.cc("retention", "set", "--customer", "cafe-r", "--kind", "events", "--days", "400")
    f.cc("retention", "set", "--customer", "cafe-r", "--kind", "events", "--days", "0")  # removed again
    bad = f.cc("retention", "set", "--customer", "cafe-r", "--kind", "prices", "--days", "2", rc=2)
    assert "--kind" in bad.stderr
    f.cc("retention", "set", "--customer", "nobody", "--kind", "telemetry", "--days", "2", rc=3)
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"retention_sweep_s": "1", "retention_events_days": "365",
                                     "https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        now = int(time.time() * 1000)
        for serial in ("R1", "S1"):
            publish(d, f.machines[serial], "telemetry",
                    [{"seq": 1, "ts": now - 5 * DAY_MS, "m": {"boiler_temp_c": 91.0}},
                     {"seq": 2, "ts": now - DAY_MS, "m": {"boiler_temp_c": 93.0}}])
        ccdaemon.poll_until(lambda: [r["seq"] for r in f.telemetry("R1")] == [2],
                            "cafe-r's telemetry older than its 2 days to be deleted")
        api = checked(Api(port, f.data / "ca.crt"))
        tokens = {who: api.login(who, ccdaemon.password_of(who)) for who in ("mgr-r", "mgr-s", "admin-r")}
        status, doc, _ = api.call("GET", "/api/v1/retention?customer=cafe-r", token=tokens["mgr-r"])
        assert status == 200, doc
        assert doc["installation"] == {"telemetry": 0, "rollups": 0, "events": 365, "reports": 0, "tickets": 0}, doc
        assert doc["customers"] == [{"customer": "cafe-r", "agreed": {"telemetry": 2},
                                     "effective": {"telemetry": 2, "rollups": 0, "events": 365, "reports": 0,
                                                   "tickets": 0}}]
        status, doc, _ = api.call("GET", "/api/v1/retention", token=tokens["mgr-s"])
        assert status == 200 and doc["customers"] == [], doc  # cafe-r's term is not cafe-s's business
        status, doc, _ = api.call("GET", "/api/v1/retention?customer=cafe-r", token=tokens["mgr-s"])
        assert status == 404, doc
        # A customer's own admin cannot agree terms: the platform's admins do.
        status, doc, _ = api.call("POST", "/api/v1/retention", token=tokens["admin-r"],
                                  body={"customer": "cafe-r", "kind": "telemetry", "days": 1})
        assert status == 403, doc
        admin = api.login("admin", ccdaemon.PASSWORD)
        status, doc, _ = api.call("POST", "/api/v1/retention", token=admin,
                                  body={"customer": "cafe-s", "kind": "rollups", "days": 30})
        assert status == 200 and doc == {"customer": "cafe-s", "kind": "rollups", "days": 30}, doc
        status, doc, _ = api.call("POST", "/api/v1/retention", token=admin,
                                  body={"customer": "cafe-s", "kind": "rollups", "days": 36501})
        assert status == 400, doc
        status, doc, _ = api.call("GET", "/api/v1/retention", token=admin)
        assert [c["customer"] for c in doc["customers"]] == ["cafe-r", "cafe-s"], doc
    finally:
        d.stop()
    # cafe-s keeps everything: the installation keeps telemetry until erasure.
    assert [r["seq"] for r in f.telemetry("S1")] == [1, 2]
    shown = f.ccj("retention", "show", "--customer", "cafe-s")
    assert shown["customers"] == [{"customer": "cafe-s", "agreed": {"rollups": 30},
                                   "effective": {"telemetry": 0, "rollups": 30, "events": 365, "reports": 0,
                                                 "tickets": 0}}]
    with storeview.open_store(f.data) as c:
        audit = c.rows("SELECT action, source, customer_id FROM audit WHERE actor = 'daemon:retention' ORDER BY seq")
        customer = c.scalar("SELECT id FROM orgs WHERE name = 'cafe-r'")
    assert [(a, cid) for a, _, cid in audit] == [("retention.telemetry.delete", customer)], audit
    assert audit[0][1].startswith("deleted 1 older than "), audit
