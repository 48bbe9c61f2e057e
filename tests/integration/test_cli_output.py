"""The CLI reads well and scripts well (issue 9): listings for people have a
header row, aligned columns, names rather than internal ids and ISO 8601 UTC
times; `telemetry get` and `events get` are tables with one column per
metric or field, values as the machine sent them; `--json` keeps the raw
forms (times ISO too); the CSV export is a spreadsheet table per kind of
record, RFC 4180, one column per metric or field, formulas defused."""
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402

ISO_S = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
T0 = 1_796_000_000_000  # 2026-11-30T00:53:20Z


def table(text):
    """The rows of a printed table as dicts, cut at the header's column
    starts: this only reads right when every row lines up under its header."""
    lines = [l for l in text.splitlines() if l.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=  )|^)\S", header)]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 1] == " " and line[s] != " ", f"column at {s} is not aligned:\n{text}"
        rows.append({n: line[a:b].strip() for n, a, b in zip(names, starts, starts[1:] + [None])})
    return names, rows


def publish_raw(d, m, topic, lines):
    """Sends each line as it is (numbers exactly as typed)."""
    p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                        "--cert", str(m.cert), "--key", str(m.key), "-i", m.serial, "-V", "mqttv5", "-q", "1",
                        "-t", f"cc/v1/{m.serial}/{topic}", "-l"],
                       input="".join(l + "\n" for l in lines), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    root = tmp_path_factory.mktemp("out")
    f = ccdaemon.Fleet.create(root, machines=(), customer="cafe-o")
    f.cc("site", "add", "--customer", "cafe-o", "--name", "north")
    f.cc("group", "add", "--customer", "cafe-o", "--name", "espresso-bar")
    f.cc("group", "add", "--customer", "cafe-o", "--name", "upstairs", "--parent", "espresso-bar")
    out = root / "machines" / "O1"
    out.parent.mkdir(parents=True, exist_ok=True)
    f.cc("machine", "add", "--serial", "O1", "--model", "barista-pro", "--customer", "cafe-o", "--site", "north",
         "--out", out)
    f.machines["O1"] = ccdaemon.Machine("O1", out)
    f.add_machine("-O2", customer="cafe-o")  # a serial a spreadsheet would read as a formula
    f.cc("user", "add", "--org", "manufacturer", "--login", "sub-o", "--role", "subcontractor")
    f.cc("grant", "add", "--login", "sub-o", "--serial", "O1", "--purpose", "support", "--expires", "2027-06-30")
    f.cc("grant", "add", "--login", "sub-o", "--customer", "cafe-o", "--site", "north", "--purpose", "updates",
         "--expires", "2027-06-30T12:00:00Z")
    kept = f.ccj("token", "add", "--name", "erp-kept", "--org", "cafe-o", "--role", "technician",
                 "--expires", "2027-06-30")
    gone = f.ccj("token", "add", "--name", "erp-gone", "--org", "cafe-o", "--role", "technician",
                 "--expires", "2027-06-30")
    f.cc("token", "revoke", str(gone["id"]))
    https = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{https}"})
    d.start()
    try:
        publish_raw(d, f.machines["O1"], "telemetry", [
            f'{{"seq":1,"ts":{T0},"m":{{"boiler_temp_c":93.40,"pump_pressure_bar":9}}}}',
            f'{{"seq":2,"ts":{T0 + 1500},"m":{{"boiler_temp_c":93.4,"descale_due_l":-3.5,"milk_temp_c":61.25}}}}',
            f'{{"seq":3,"ts":{T0 + 3000},"m":{{"cup_counter":1200}}}}',
        ])
        publish_raw(d, f.machines["O1"], "event", [
            f'{{"seq":1,"ts":{T0},"type":"brew","product":"espresso","volume_ml":30,"brew_time_s":24.50}}',
            f'{{"seq":2,"ts":{T0 + 1000},"type":"error","code":"E042","severity":"critical"}}',
        ])
        publish_raw(d, f.machines["-O2"], "telemetry", [f'{{"seq":1,"ts":{T0},"m":{{"boiler_temp_c":91}}}}'])
        api = Api(https, f.data / "ca.crt")
        admin = api.login("admin", ccdaemon.PASSWORD)
        status, doc, _ = api.call("POST", "/api/v1/machines/O1/reports", {
            "type": "service", "work": ["descaling", "gasket_replacement"], "parts": ["GSK-58"],
            "outcome": "fixed", "duration_min": 45, "performed": T0,
            "note": "=1+2 sums nothing, \"quoted\", two, commas"}, token=admin)
        assert status in (200, 201), doc
    finally:
        d.stop()
    f.cc("machine", "command", "O1", "--name", "diagnostics", "--body", '{"depth":0.1}')
    return {"f": f, "kept": kept, "gone": gone}


def test_organisations_sites_and_groups_by_name(w):
    f = w["f"]
    names, rows = table(f.cc("org", "list").stdout)
    assert names == ["NAME", "KIND", "PARENT", "CREATED"]
    cafe = [r for r in rows if r["NAME"] == "cafe-o"][0]
    assert cafe["PARENT"] == "manufacturer" and ISO_S.fullmatch(cafe["CREATED"]), rows
    names, rows = table(f.cc("site", "list").stdout)
    assert names == ["SITE", "CUSTOMER", "TIMEZONE", "HOURS", "CREATED"] and rows[0]["CUSTOMER"] == "cafe-o", rows
    names, rows = table(f.cc("group", "list").stdout)
    assert names == ["GROUP", "CUSTOMER", "PARENT"]
    assert {r["GROUP"]: r["PARENT"] for r in rows} == {"espresso-bar": "-", "upstairs": "espresso-bar"}, rows
    groups = {g["name"]: g for g in f.ccj("group", "list")}
    assert groups["upstairs"]["parent"] == "espresso-bar" and groups["espresso-bar"]["parent"] is None


def test_machines_users_grants_and_tokens_by_name(w):
    f = w["f"]
    names, rows = table(f.cc("machine", "list").stdout)
    assert names == ["SERIAL", "MODEL", "CUSTOMER", "SITE", "CERT", "CREATED"]
    o1 = [r for r in rows if r["SERIAL"] == "O1"][0]
    assert (o1["CUSTOMER"], o1["SITE"], o1["CERT"]) == ("cafe-o", "north", "valid") and ISO_S.fullmatch(o1["CREATED"])
    names, rows = table(f.cc("user", "list").stdout)
    assert names[:3] == ["LOGIN", "ROLE", "ORG"] and "sub-o" in [r["LOGIN"] for r in rows]

    names, rows = table(f.cc("grant", "list").stdout)
    assert names == ["ID", "LOGIN", "MACHINE", "SITE", "CUSTOMER", "PURPOSE", "EXPIRES", "STATE"]
    by_purpose = {r["PURPOSE"]: r for r in rows}
    assert (by_purpose["support"]["LOGIN"], by_purpose["support"]["MACHINE"], by_purpose["support"]["CUSTOMER"]) \
        == ("sub-o", "O1", "cafe-o")
    assert (by_purpose["updates"]["SITE"], by_purpose["updates"]["EXPIRES"]) == ("north", "2027-06-30T12:00:00Z")
    assert {r["STATE"] for r in rows} == {"in force"}
    grants = f.ccj("grant", "list")
    assert {g["login"] for g in grants} == {"sub-o"} and all(ISO_MS.fullmatch(g["expires"]) for g in grants)

    names, rows = table(f.cc("token", "list").stdout)
    assert names == ["ID", "NAME", "ORG", "ROLE", "RATE", "CREATED", "EXPIRES", "STATE"]
    states = {r["NAME"]: (r["ORG"], r["STATE"]) for r in rows}
    assert states == {"erp-kept": ("cafe-o", "in force"), "erp-gone": ("cafe-o", "revoked")}, rows
    tokens = {t["name"]: t for t in f.ccj("token", "list")}
    assert tokens["erp-gone"]["state"] == "revoked" and ISO_MS.fullmatch(tokens["erp-gone"]["revoked_at"])
    assert tokens["erp-kept"]["in_force"] is True and tokens["erp-kept"]["org"] == "cafe-o"


def test_status_commands_and_audit_are_tables(w):
    f = w["f"]
    names, rows = table(f.cc("machine", "status").stdout)
    assert names == ["SERIAL", "CUSTOMER", "STATE", "SINCE", "LAST SEEN", "SOFTWARE", "LAST DISCONNECT"]
    o1 = [r for r in rows if r["SERIAL"] == "O1"][0]
    assert o1["STATE"] == "offline" and ISO_S.fullmatch(o1["LAST SEEN"]) and o1["CUSTOMER"] == "cafe-o", rows
    names, rows = table(f.cc("machine", "commands", "O1").stdout)
    assert names == ["ID", "JOB", "NAME", "STATE", "CREATED", "AT", "REASON"]
    assert (rows[0]["NAME"], rows[0]["STATE"], rows[0]["AT"]) == ("diagnostics", "queued", "-")
    assert rows[0]["JOB"].isdigit()
    assert ISO_S.fullmatch(rows[0]["CREATED"])
    text = f.cc("audit", "list", "--action", "grant.add").stdout
    names, rows = table(text)
    assert names == ["SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "CLASS", "PURPOSE", "MACHINES", "CUSTOMER"]
    assert len(rows) == 2 and all(ISO_S.fullmatch(r["TIME"]) and r["CUSTOMER"] == "cafe-o" for r in rows), text


def test_telemetry_and_events_as_tables_values_as_sent(w):
    f = w["f"]
    text = f.cc("telemetry", "get", "O1").stdout
    names, rows = table(text)
    assert names == ["TIME", "SEQ", "boiler_temp_c", "pump_pressure_bar", "descale_due_l", "milk_temp_c",
                     "cup_counter"], text
    assert [r["SEQ"] for r in rows] == ["1", "2", "3"] and all(ISO_MS.fullmatch(r["TIME"]) for r in rows)
    assert (rows[0]["boiler_temp_c"], rows[0]["pump_pressure_bar"], rows[0]["descale_due_l"]) == ("93.40", "9", "-")
    assert (rows[1]["boiler_temp_c"], rows[1]["descale_due_l"], rows[1]["milk_temp_c"]) == ("93.4", "-3.5", "61.25")
    assert rows[2]["cup_counter"] == "1200"
    raw = f.ccj("telemetry", "get", "O1")  # --json keeps the records as they came
    assert raw[1]["body"]["m"] == {"boiler_temp_c": 93.4, "descale_due_l": -3.5, "milk_temp_c": 61.25}
    assert raw[0]["seq"] == 1 and ISO_MS.fullmatch(raw[0]["time"])
    assert '"milk_temp_c": 61.25' in f.cc("telemetry", "get", "O1", "--json").stdout

    names, rows = table(f.cc("events", "get", "O1").stdout)
    assert names == ["TIME", "SEQ", "type", "product", "volume_ml", "brew_time_s", "code", "severity"]
    assert (rows[0]["type"], rows[0]["product"], rows[0]["brew_time_s"], rows[0]["code"]) == \
        ("brew", "espresso", "24.50", "-")
    assert (rows[1]["type"], rows[1]["code"], rows[1]["severity"]) == ("error", "E042", "critical")


def export_csv(f, *args):
    """`customer export --format csv` as its bytes say (text mode would fold CRLF)."""
    argv = [str(ccdaemon.CLI), "customer", "export", "cafe-o", "--format", "csv", *args, "--data", str(f.data)]
    p = subprocess.run(argv, capture_output=True, env=ccdaemon.base_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), repr(text[-40:])
    return text


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_is_a_spreadsheet_table(w):
    f = w["f"]
    text = export_csv(f)
    header = text.split("\r\n", 1)[0].split(",")
    assert header[:5] == ["serial", "seq", "time", "boiler_temp_c", "brew_temp_c"] and header[-1] == "other"
    assert "milk_temp_c" in header and "cup_counter" in header  # the catalogue's, for the models it has
    rows = csv_rows(text)
    o1 = [r for r in rows if r["serial"] == "O1"]
    assert [r["seq"] for r in o1] == ["1", "2", "3"] and all(ISO_MS.fullmatch(r["time"]) for r in o1)
    assert (o1[0]["boiler_temp_c"], o1[0]["pump_pressure_bar"], o1[0]["descale_due_l"]) == ("93.40", "9", "")
    assert (o1[1]["descale_due_l"], o1[1]["milk_temp_c"], o1[2]["cup_counter"]) == ("-3.5", "61.25", "1200")
    # A negative number stays a number; a serial that starts like a formula does not run.
    assert ",-3.5," in text
    assert [r["serial"] for r in rows if r["seq"] == "1" and r["boiler_temp_c"] == "91"] == ["'-O2"]
    assert "\"'-O2\"," in text

    events = export_csv(f, "--table", "events")
    rows = csv_rows(events)
    assert events.split("\r\n", 1)[0].startswith("serial,seq,time,type,product,volume_ml,brew_time_s,")
    assert [(r["type"], r["product"], r["brew_time_s"], r["code"]) for r in rows] == \
        [("brew", "espresso", "24.50", ""), ("error", "", "", "E042")]

    reports = export_csv(f, "--table", "reports")
    rows = csv_rows(reports)
    assert len(rows) == 1
    r = rows[0]
    assert (r["type"], r["work"], r["parts"], r["outcome"], r["duration_min"], r["author"]) == \
        ("service", "descaling; gasket_replacement", "GSK-58", "fixed", "45", "user:admin")
    assert r["performed"] == "2026-11-30T00:53:20.000Z" and ISO_MS.fullmatch(r["submitted"]), r
    # RFC 4180: commas and quotes quoted; the note that starts with = is text, not a formula.
    assert r["note"] == "'=1+2 sums nothing, \"quoted\", two, commas"
    assert '"\'=1+2 sums nothing, ""quoted"", two, commas"' in reports

    # --out DIR: the three tables at once, as new private files; never over an earlier export.
    out = f.root / "export"
    f.cc("customer", "export", "cafe-o", "--format", "csv", "--out", out)
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "reports.csv", "telemetry.csv"]
    assert (out / "telemetry.csv").read_bytes().decode() == text
    assert (out / "events.csv").read_bytes().decode() == events and (out / "reports.csv").read_bytes().decode() == reports
    assert all((p.stat().st_mode & 0o077) == 0 for p in out.iterdir())
    f.cc("customer", "export", "cafe-o", "--format", "csv", "--out", out, rc=4)
    f.cc("customer", "export", "cafe-o", "--format", "csv", "--out", out, "--table", "events", rc=2)
    f.cc("customer", "export", "cafe-o", "--table", "events", rc=2)  # tables are for CSV
    f.cc("customer", "export", "cafe-o", "--format", "csv", "--table", "sessions", rc=2)
    doc = json.loads(f.cc("customer", "export", "cafe-o").stdout)  # JSON: everything, one document
    o1 = [m for m in doc["machines"] if m["serial"] == "O1"][0]
    assert len(o1["telemetry"]) == 3 and len(o1["events"]) == 2 and len(o1["reports"]) == 1
