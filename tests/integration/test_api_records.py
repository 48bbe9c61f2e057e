"""Machine data through the API: pages that follow a cursor, fields cut to
the caller's data classes, downsampled telemetry, and the installation and
service reports people file."""
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402

ADMIN_PASSWORD = ccdaemon.PASSWORD
T0 = (int(time.time()) // 3600) * 3600 * 1000 - 3600 * 1000  # the start of the previous hour
N = 25


publish = ccdaemon.publish


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    f = ccdaemon.Fleet.create(root, machines=("A1",), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-a", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-x", parent="dist-a")
    f.add_machine("X1", customer="cafe-x")
    f.add_machine("X2", customer="cafe-x")
    f.add_machine("X3", customer="cafe-x")
    users = (("tech", "dist-a", "technician"), ("eng", "manufacturer", "engineer"), ("sales", "dist-a", "sales"),
             ("cm", "cafe-x", "customer_manager"))
    for login, org, role in users:
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    # 25 telemetry messages, one a minute: technical, service and usage metrics.
    publish(d, f.machines["X1"], "telemetry",
            [{"seq": i + 1, "ts": T0 + i * 60000,
              "m": {"boiler_temp_c": 90.0 + i, "filter_used_pct": 10 + i, "cup_counter": 1000 + i}}
             for i in range(N)])
    publish(d, f.machines["X1"], "event",
            [{"seq": 1, "ts": T0, "type": "brew", "product": "espresso", "brew_time_s": 25.0, "temp_c": 93.0},
             {"seq": 2, "ts": T0 + 1000, "type": "error", "code": "E042", "severity": "critical"},
             {"seq": 3, "ts": T0 + 2000, "type": "cleaning", "program": "rinse", "result": "ok"}])
    api = checked(Api(port, f.data / "ca.crt"))  # every answer as the OpenAPI document says
    tokens = {login: api.login(login, ccdaemon.password_of(login)) for login, _, _ in users}
    tokens["admin"] = api.login("admin", ADMIN_PASSWORD)
    yield {"fleet": f, "daemon": d, "api": api, "t": tokens}
    d.stop()


def test_telemetry_pages_follow_the_cursor(world):
    api, eng = world["api"], world["t"]["eng"]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/v1/machines/X1/telemetry?limit=10" + (f"&cursor={cursor}" if cursor else "")
        status, doc, _ = api.call("GET", path, token=eng)
        assert status == 200, doc
        pages += 1
        seen += [r["seq"] for r in doc["telemetry"]]
        cursor = doc.get("next_cursor")
        if cursor is None:
            break
        assert len(doc["telemetry"]) == 10
    assert pages == 3 and seen == list(range(1, N + 1))
    # A window and a page together.
    status, doc, _ = api.call("GET", f"/api/v1/machines/X1/telemetry?from={T0 + 5 * 60000}&to={T0 + 8 * 60000}",
                              token=eng)
    assert [r["seq"] for r in doc["telemetry"]] == [6, 7, 8] and "next_cursor" not in doc
    for bad in ("limit=0", "limit=10001", "limit=x", "cursor=zz", "cursor=", "cursor=00", "step=10"):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?" + bad, token=eng)
        assert status == 400 and doc["error"]["code"] == "invalid", bad


def test_fields_of_other_classes_are_absent(world):
    api, t = world["api"], world["t"]

    def metrics(who):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?limit=1", token=t[who])
        assert status == 200, (who, doc)
        return set(doc["telemetry"][0]["m"])
    assert metrics("eng") == {"boiler_temp_c", "filter_used_pct", "cup_counter"}
    assert metrics("tech") == {"boiler_temp_c", "filter_used_pct"}  # technician: no usage class

    def latest(who):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1", token=t[who])
        assert status == 200, (who, doc)
        return doc.get("latest", {})
    assert latest("eng")["technical"] == {"boiler_temp_c": 90.0 + N - 1}
    assert latest("eng")["service"] == {"filter_used_pct": 10 + N - 1}
    assert latest("eng")["usage"] == {"cup_counter": 1000 + N - 1}
    assert set(latest("tech")) == {"technical", "service", "time", "read_at"}
    assert set(latest("tech")["read_at"]) == {"boiler_temp_c", "filter_used_pct"}
    assert set(latest("cm")) == {"service", "usage", "time", "read_at"}
    assert set(latest("sales")) == {"usage", "time", "read_at"}

    def event_types(who, query=""):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/events" + query, token=t[who])
        assert status == 200, (who, doc)
        return [e["type"] for e in doc["events"]]
    assert event_types("eng") == ["brew", "error", "cleaning"]
    assert event_types("tech") == ["error", "cleaning"]  # a brew is usage data
    assert event_types("eng", "?type=error") == ["error"]
    # An error event comes with what the error-code catalogue says of its code.
    for lang, start in (("", "Brew unit not in position"), ("&lang=hu", "A főzőegység nincs a helyén")):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/events?type=error" + lang, token=t["tech"])
        assert status == 200 and doc["events"][0]["explained"]["text"] == start, doc
        assert doc["events"][0]["explained"]["severity"] == "warning"  # the catalogue's view; the machine said critical


def test_latest_value_of_every_metric(world):
    """GET /machines/{serial} shows the latest reading of every metric the
    caller may see, not only the last message's, as the machine wrote it,
    each with its time."""
    api, d, f, eng = world["api"], world["daemon"], world["fleet"], world["t"]["eng"]
    early, later = T0 - 3 * 3600000, T0 + 30 * 60000
    publish(d, f.machines["X3"], "telemetry",
            [{"seq": 1, "ts": early, "m": {"boiler_temp_c": 93.40, "filter_used_pct": 5}},
             {"seq": 2, "ts": later, "m": {"cup_counter": 7}},
             {"seq": 3, "ts": later - 60000, "m": {"filter_used_pct": 6}}])  # older than seq 2, sent after
    status, doc, _ = api.call("GET", "/api/v1/machines/X3", token=eng)
    assert status == 200, doc
    latest = doc["latest"]
    assert latest["technical"] == {"boiler_temp_c": 93.4}
    assert latest["service"] == {"filter_used_pct": 6} and latest["usage"] == {"cup_counter": 7}
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))  # noqa: E731
    assert latest["read_at"]["boiler_temp_c"].startswith(iso(early))
    assert latest["read_at"]["filter_used_pct"].startswith(iso(later - 60000))
    assert latest["time"].startswith(iso(later))
    status, doc, _ = api.call("GET", "/api/v1/machines/X3", token=world["t"]["sales"])
    assert status == 200 and set(doc["latest"]) == {"usage", "time", "read_at"}, doc
    assert doc["latest"]["read_at"] == {"cup_counter": doc["latest"]["time"]}


def test_telemetry_downsampled_by_step(world):
    api, eng = world["api"], world["t"]["eng"]
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?step=600000&metric=boiler_temp_c", token=eng)
    assert status == 200, doc
    buckets = doc["telemetry"]
    assert sum(b["n"] for b in buckets) == N
    assert [b["ts"] for b in buckets] == sorted(b["ts"] for b in buckets)
    assert all(set(b["m"]) == {"boiler_temp_c"} for b in buckets)
    first = buckets[0]
    assert first["ts"] == T0 and first["n"] == 10
    assert first["m"]["boiler_temp_c"] == pytest.approx(sum(90.0 + i for i in range(10)) / 10)


def test_telemetry_as_columns(world):
    api, t = world["api"], world["t"]
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?format=columns", token=t["eng"])
    assert status == 200, doc
    cols = doc["columns"]
    assert cols["ts"] == [T0 + i * 60000 for i in range(N)] and cols["seq"] == list(range(1, N + 1))
    assert cols["boiler_temp_c"] == [90.0 + i for i in range(N)]
    assert cols["cup_counter"] == [1000 + i for i in range(N)]
    assert "telemetry" not in doc
    # The role's classes cut whole columns; metric= keeps one.
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?format=columns", token=t["tech"])
    assert set(doc["columns"]) == {"ts", "seq", "boiler_temp_c", "filter_used_pct"}, doc
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?format=columns&metric=cup_counter",
                              token=t["sales"])
    assert set(doc["columns"]) == {"ts", "seq", "cup_counter"}, doc
    # Pages of columns follow the cursor like pages of rows.
    seqs, cursor = [], None
    while True:
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?format=columns&limit=10"
                                  + (f"&cursor={cursor}" if cursor else ""), token=t["eng"])
        assert status == 200 and len(doc["columns"]["seq"]) == len(doc["columns"]["boiler_temp_c"]), doc
        seqs += doc["columns"]["seq"]
        cursor = doc.get("next_cursor")
        if cursor is None:
            break
    assert seqs == list(range(1, N + 1))
    for bad in ("format=xml", "stats=median", "stats=", "stats=mean,,max"):
        status, doc, _ = api.call("GET", "/api/v1/machines/X1/telemetry?" + bad, token=t["eng"])
        assert status == 400 and doc["error"]["code"] == "invalid", bad
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/events?format=columns", token=t["eng"])
    assert status == 400, doc


def test_numbers_the_scanner_declines_are_read_too(world):
    """A reading of 17 significant digits is accepted (jansson reads it) but
    the one-pass scanner declines it: rows, columns and steps still carry it."""
    api, eng, d, f = world["api"], world["t"]["eng"], world["daemon"], world["fleet"]
    publish(d, f.machines["X2"], "telemetry", [{"seq": 1, "ts": T0, "m": {"boiler_temp_c": 93.123456789012345}},
                                               {"seq": 2, "ts": T0 + 1000, "m": {"boiler_temp_c": 91.5}},
                                               {"seq": 3, "ts": T0 + 61000, "m": {"cup_counter": 5}}])
    status, doc, _ = api.call("GET", "/api/v1/machines/X2/telemetry", token=eng)
    assert status == 200 and [r["m"].get("boiler_temp_c") for r in doc["telemetry"]] == [
        pytest.approx(93.123456789012345), 91.5, None], doc
    # Columns: a record without a metric is a null in its column.
    status, doc, _ = api.call("GET", "/api/v1/machines/X2/telemetry?format=columns", token=eng)
    assert doc["columns"]["boiler_temp_c"] == [pytest.approx(93.123456789012345), 91.5, None], doc
    assert doc["columns"]["cup_counter"] == [None, None, 5], doc
    status, doc, _ = api.call("GET", f"/api/v1/machines/X2/telemetry?step=60000&from={T0}&to={T0 + 120000}",
                              token=eng)
    assert [b["n"] for b in doc["telemetry"]] == [2, 1], doc
    assert doc["telemetry"][0]["m"]["boiler_temp_c"] == pytest.approx((93.123456789012345 + 91.5) / 2)
    # The same buckets as columns: a bucket without a metric is a null there too.
    status, doc, _ = api.call("GET", f"/api/v1/machines/X2/telemetry?step=60000&from={T0}&to={T0 + 120000}"
                              "&format=columns&stats=mean,max", token=eng)
    cols = doc["columns"]
    assert cols["ts"] == [T0, T0 + 60000] and cols["n"] == [2, 1], doc
    assert cols["boiler_temp_c:max"] == [pytest.approx(93.123456789012345), None], doc
    assert cols["cup_counter"] == [None, 5.0], doc


def test_steps_from_summaries_agree_with_records(world):
    """Whole minutes are answered from the roll-ups, anything else from the
    records: both give the same buckets, with min and max when asked."""
    api, eng = world["api"], world["t"]["eng"]
    q = "/api/v1/machines/X1/telemetry?step=600000&stats=mean,min,max&metric=boiler_temp_c"
    status, summed, _ = api.call("GET", q + f"&from={T0}&to={T0 + 3600000}", token=eng)
    assert status == 200, summed
    status, counted, _ = api.call("GET", q + f"&from={T0 - 1}&to={T0 + 3600000}", token=eng)  # not a whole minute
    assert status == 200, counted
    want = []
    for start in range(T0, T0 + N * 60000, 600000):
        values = [90.0 + i for i in range(N) if start <= T0 + i * 60000 < start + 600000]
        want.append({"ts": start, "n": len(values), "m": {"boiler_temp_c": pytest.approx(sum(values) / len(values))},
                     "min": {"boiler_temp_c": min(values)}, "max": {"boiler_temp_c": max(values)}})
    assert summed["telemetry"] == want and counted["telemetry"] == want
    status, doc, _ = api.call("GET", q + f"&from={T0}&to={T0 + 3600000}&format=columns", token=eng)
    assert status == 200, doc
    assert doc["columns"]["ts"] == [w["ts"] for w in want]
    assert doc["columns"]["boiler_temp_c:max"] == [w["max"]["boiler_temp_c"] for w in want]
    # Nothing in the window: an empty list, not a missing one.
    status, doc, _ = api.call("GET", q + f"&from={T0 - 7200000}&to={T0 - 3600000}", token=eng)
    assert status == 200 and doc["telemetry"] == [], doc
    # An hour as one bucket: the hour summary.
    status, doc, _ = api.call("GET", f"/api/v1/machines/X1/telemetry?step=3600000&from={T0}&to={T0 + 3600000}",
                              token=eng)
    assert status == 200 and len(doc["telemetry"]) == 1, doc
    assert doc["telemetry"][0]["n"] == N and set(doc["telemetry"][0]["m"]) == {"boiler_temp_c", "filter_used_pct",
                                                                              "cup_counter"}


def test_machines_and_audit_pages(world):
    api, admin = world["api"], world["t"]["admin"]
    status, doc, _ = api.call("GET", "/api/v1/machines?limit=2", token=admin)
    assert status == 200 and [m["serial"] for m in doc["machines"]] == ["A1", "X1"]
    status, doc, _ = api.call("GET", "/api/v1/machines?limit=2&cursor=" + doc["next_cursor"], token=admin)
    assert [m["serial"] for m in doc["machines"]] == ["X2", "X3"] and "next_cursor" not in doc
    status, first, _ = api.call("GET", "/api/v1/audit?limit=3", token=admin)
    assert status == 200 and len(first["records"]) == 3
    status, second, _ = api.call("GET", "/api/v1/audit?limit=3&cursor=" + first["next_cursor"], token=admin)
    assert status == 200
    seqs = [r["seq"] for r in first["records"] + second["records"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 6
    status, doc, _ = api.call("GET", "/api/v1/users?limit=2", token=admin)
    assert status == 200 and [u["login"] for u in doc["users"]] == ["admin", "cm"]
    status, doc, _ = api.call("GET", "/api/v1/users?limit=2&cursor=" + doc["next_cursor"], token=admin)
    assert [u["login"] for u in doc["users"]] == ["eng", "sales"]


def test_service_reports(world):
    api, t, f, d = world["api"], world["t"], world["fleet"], world["daemon"]
    report = {"type": "service", "work": ["descaling", "gasket_replacement"], "parts": ["GSK-58", "DSC-1"],
              "outcome": "fixed", "duration_min": 45, "travel_min": 20, "performed": T0,
              "note": "Boiler scale heavy; brew group gasket brittle, replaced."}
    status, doc, _ = api.call("POST", "/api/v1/machines/X1/reports", report, token=t["tech"])
    assert status == 201 and doc == {"serial": "X1", "seq": 1}
    status, doc, _ = api.call("POST", "/api/v1/machines/X1/reports",
                              {"type": "installation", "work": ["installation", "commissioning"],
                               "outcome": "fixed"}, token=t["tech"])
    assert status == 201 and doc["seq"] == 2
    # The customer's manager reads them; it does not file them. Sales sees no service data.
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/reports", token=t["cm"])
    assert status == 200 and [r["type"] for r in doc["reports"]] == ["service", "installation"]
    first = doc["reports"][0]
    assert first["author"] == "user:tech" and first["parts"] == ["GSK-58", "DSC-1"]
    assert first["work"] == ["descaling", "gasket_replacement"] and first["outcome"] == "fixed"
    assert first["note"] == report["note"] and first["performed"] == T0
    assert api.call("POST", "/api/v1/machines/X1/reports", report, token=t["cm"])[0] == 403
    assert api.call("GET", "/api/v1/machines/X1/reports", token=t["sales"])[0] == 403
    assert api.call("POST", "/api/v1/machines/X1/reports", report, token=t["sales"])[0] == 403
    # Outside the technician's scope, as if it did not exist.
    assert api.call("POST", "/api/v1/machines/A1/reports", report, token=t["tech"])[0] == 404
    # Malformed reports are refused (400) and not stored: free text has no field but the short note.
    ok = {"type": "service", "work": ["inspection"], "outcome": "no_fault_found"}
    for bad in ({**ok, "type": "party"}, {"type": "service", "outcome": "fixed"}, {**ok, "work": []},
                {**ok, "work": ["haircut"]}, {**ok, "work": ["descaling", "descaling"]},
                {**ok, "summary": "Replaced the gasket."}, {**ok, "who": 1}, {**ok, "outcome": "great"},
                {k: v for k, v in ok.items() if k != "outcome"}, {**ok, "parts": ["GSK-58", "not a part"]},
                {**ok, "parts": ["gsk-58"]}, {**ok, "duration_min": 2000}, {**ok, "note": "x" * 281},
                {**ok, "note": ""}, {**ok, "performed": 1}):
        assert api.call("POST", "/api/v1/machines/X1/reports", bad, token=t["tech"])[0] == 400, bad
    assert api.call("POST", "/api/v1/machines/X1/reports", {**ok, "note": "é" * 280},
                    token=t["tech"])[0] == 201  # 280 characters, 560 bytes
    # Personal or financial data anywhere, the note included, is refused (422), stored and logged nowhere.
    leaky = [
        ({**ok, "note": "call back on +49 170 5550123 or canary.report@example.org"}, "email"),
        ({**ok, "note": "card 4012.8888.8888.1881"}, "card-number"),
        ({**ok, "note": "write to carl at canary-example dot com"}, "email"),
        ({**ok, "note": "carl(at)canary-example(dot)com"}, "email"),
        ({**ok, "note": "owner 0 3 0 1 2 3 4 5 6 7"}, "phone"),
        ({**ok, "note": "Mrs. Jane Canary, 12 Main Street, born 1980-04-12"}, "birth-date"),
        ({**ok, "note": "Mrs. Jane Canary at 12 Main Street"}, "address"),
        ({**ok, "note": "Asked for Herr Canary at the bar"}, "person-name"),
    ]
    for body, why in leaky:
        status, doc, _ = api.call("POST", "/api/v1/machines/X1/reports", body, token=t["tech"])
        assert status == 422 and doc["error"]["code"] == "not_machine_data", body
        assert why in doc["error"]["message"], (body, doc)
    # Fields the route does not declare are refused by the dispatcher before
    # the handler runs (400), whatever they hold: a price, or the review's
    # report in the old free-text field. Nothing of them is stored or logged.
    for body in ({**ok, "parts": ["GSK-58"], "price_eur": 120},
                 {"type": "service", "summary": "Visited Mrs. Jane Canary, 12 Main Street, born 1980-04-12"}):
        status, doc, _ = api.call("POST", "/api/v1/machines/X1/reports", body, token=t["tech"])
        assert status == 400 and doc["error"]["message"] == "unknown field", body
    status, doc, _ = api.call("GET", "/api/v1/machines/X1/reports", token=t["eng"])
    assert len(doc["reports"]) == 3
    db = b"".join(p.read_bytes() for p in f.data.glob("coffeecloud.db*"))
    for canary in ("canary.report", "5550123", "4012.8888", "canary-example", "Canary", "Main Street",
                   "1980-04-12", "0 3 0 1 2"):
        assert canary.encode() not in db, canary
        assert canary not in d.log, canary
    # Sealed at rest, in the customer's export, and audited.
    assert b"brew group gasket" not in db and b"gasket_replacement" not in db
    status, export, _ = api.call("GET", "/api/v1/customers/cafe-x/export?format=json", token=t["admin"])
    x1 = [m for m in export["machines"] if m["serial"] == "X1"][0]
    assert [r["body"]["type"] for r in x1["reports"]] == ["service", "installation", "service"]
    records = f.ccj("audit", "list", "--action", "report.add", "--serial", "X1")
    outcomes = sorted(r["outcome"] for r in records)
    assert outcomes == ["denied", "ok", "ok", "ok"]  # the customer's manager tried once


def test_api_names_refuse_card_and_phone_shapes(world):
    """Issue 8: organisation names and logins are clear columns; the API
    refuses card- and phone-shaped ones as the CLI does, and echoes none."""
    api, t, f, d = world["api"], world["t"], world["fleet"], world["daemon"]
    for value in ("4111111111111111", "4111.1111.1111.1111", "x4111x1111x1111x1111x", "NDExMTExMTExMTExMTExMQ",
                  "0171-1234567"):
        status, doc, _ = api.call("POST", "/api/v1/orgs", {"name": value, "kind": "customer",
                                                           "parent": "manufacturer"}, token=t["admin"])
        assert status == 400 and value not in json.dumps(doc), (value, doc)
        status, doc, _ = api.call("POST", "/api/v1/users", {"login": value, "role": "technician", "org": "cafe-x",
                                                            "password": "a long enough password"},
                                  token=t["admin"])
        assert status == 400 and value not in json.dumps(doc), (value, doc)
        assert value not in d.log
    status, doc, _ = api.call("GET", "/api/v1/orgs", token=t["admin"])
    assert status == 200 and not any("4111" in o["name"] or "0171" in o["name"] for o in doc["orgs"]), doc
    status, doc, _ = api.call("GET", "/api/v1/users", token=t["admin"])
    assert status == 200 and not any("4111" in u["login"] or "0171" in u["login"] for u in doc["users"]), doc


def test_a_large_export_is_written_in_slices(world):
    """More records than one slice (2,000): the document must come out whole,
    in order, and the daemon must serve others while it is being written."""
    api, t, f, d = world["api"], world["t"], world["fleet"], world["daemon"]
    many = 4500
    publish(d, f.machines["X2"], "telemetry",
            [{"seq": i + 1, "ts": T0 + i * 1000, "m": {"boiler_temp_c": 92.5}} for i in range(many)])
    status, export, _ = api.call("GET", "/api/v1/customers/cafe-x/export?format=json", token=t["admin"])
    assert status == 200
    x2 = [m for m in export["machines"] if m["serial"] == "X2"][0]
    assert [r["seq"] for r in x2["telemetry"]] == list(range(1, many + 1))
    def csv_lines(table):
        c = http.client.HTTPSConnection("localhost", api.port, context=api.ctx, timeout=30)
        c.request("GET", "/api/v1/customers/cafe-x/export?format=csv&table=" + table,
                  headers={"Authorization": "Bearer " + t["admin"]})
        lines = c.getresponse().read().decode().splitlines()
        c.close()
        return lines
    lines = csv_lines("telemetry")
    assert lines[0].startswith("serial,seq,time,boiler_temp_c,") and len(lines) == 1 + N + 3 + many  # X1, X3 (the latest test), X2
    assert [l.split(",")[1] for l in lines if l.startswith("X2,")] == [str(i + 1) for i in range(many)]
    assert len(csv_lines("events")) == 1 + 3
    assert csv_lines("reports")[0] == ("serial,seq,time,type,work,parts,outcome,duration_min,travel_min,"
                                       "performed,submitted,author,note,other")
    # A client that leaves in the middle costs the daemon nothing.
    c = http.client.HTTPSConnection("localhost", api.port, context=api.ctx, timeout=30)
    c.request("GET", "/api/v1/customers/cafe-x/export?format=csv", headers={"Authorization": "Bearer " + t["admin"]})
    r = c.getresponse()
    assert r.status == 200 and len(r.read(1024)) == 1024
    c.close()
    assert api.call("GET", "/api/v1/me", token=t["admin"])[0] == 200
