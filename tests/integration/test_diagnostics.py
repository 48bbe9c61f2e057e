"""Diagnostics bundles (docs/METRICS.md "Diagnostics bundles"), end to end
against the real daemon: a technician asks, the machine gets the
"diagnostics" command over MQTT (paho), uploads over HTTPS with its own
certificate in slices (resumed after a wrong offset), the technician
downloads the same bytes. Refused: another machine's certificate, a bundle
over the size limit, a manifest with a card number, a role without the
technical class. Everything is audited; the store holds ciphertext only."""
import hashlib
import json
import queue
import re
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402
from oas import checked  # noqa: E402
import storeview  # noqa: E402

MARKER = b"DIAG-PLAINTEXT-MARKER-7f3a"
CARD = "4111 1111 1111 1111"
LIMIT = 300000


def bundle(serial, size, extra=None):
    """A bundle as docs/METRICS.md defines it: a manifest line, then log lines."""
    manifest = {"format": "coffeecloud-diagnostics/1", "serial": serial, "firmware": "2.14.3", "uptime_s": 86400,
                "boiler_c": [92.8, 93.1, 93.4], "config": {"brew_temp_c": 93, "standby_min": 30}}
    manifest.update(extra or {})
    head = json.dumps(manifest).encode() + b"\n"
    line = b"2026-12-07T10:00:00Z boiler: heating, " + MARKER + b" pump 9.1 bar\n"
    body = (line * (size // len(line) + 1))[:max(size - len(head), 0)]
    return head + body


class Machine:
    """A machine on paho, subscribed to its command topics."""

    def __init__(self, d, m):
        self.m = m
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.messages = queue.Queue()
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.c.on_connect = lambda *a: self.connected.set()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.c.connect("127.0.0.1", d.tls_port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        self.c.subscribe(f"cc/v1/{m.serial}/cmd/#", qos=1)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"

    def command(self):
        try:
            topic, payload = self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{self.m.serial}: no command within {TIMEOUT} s")
        match = re.fullmatch(rf"cc/v1/{self.m.serial}/cmd/([a-z-]+)/([1-9][0-9]*)", topic)
        assert match, topic
        return match.group(1), json.loads(payload)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def machine_api(fleet, port, serial=None):
    import ssl
    ctx = ssl.create_default_context(cafile=str(fleet.data / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if serial is not None:
        ctx.load_cert_chain(str(fleet.machines[serial].cert), str(fleet.machines[serial].key))
    return checked(Api(port, None, ctx=ctx))


def put(api, path, data):
    return api.call("POST", path, raw=data, headers={"Content-Type": "application/octet-stream"})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    fleet = ccdaemon.Fleet.create(tmp_path_factory.mktemp("diag"), machines=("D1", "D2"))
    for login, role in (("tech", "technician"), ("seller", "sales")):
        fleet.cc("user", "add", "--org", "manufacturer", "--login", login, "--role", role, "--password-stdin",
                 stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}",
                                          "diagnostics_max_bytes": str(LIMIT), "retention_sweep_s": "1",
                                          # a chunk per transaction: a bundle of two goes in three
                                          "retention_batch_rows": "1"}) as d:
        people = checked(Api(port, fleet.data / "ca.crt"))
        yield {"fleet": fleet, "d": d, "port": port, "people": people,
               "tech": people.login("tech", ccdaemon.password_of("tech")),
               "seller": people.login("seller", ccdaemon.password_of("seller"))}


def request(w, serial="D1"):
    status, doc, _ = w["people"].call("POST", f"/api/v1/machines/{serial}/diagnostics", token=w["tech"])
    assert status == 201 and doc["state"] == "requested" and doc["serial"] == serial, doc
    assert doc["max_bytes"] == LIMIT and doc["received"] == 0 and doc["job"] > 0, doc
    return doc


def test_request_upload_resume_download(world):
    w, fleet = world, world["fleet"]
    d1 = Machine(w["d"], fleet.machines["D1"])
    try:
        req = request(w)
        name, body = d1.command()
    finally:
        d1.close()
    # The command says where to upload, and how much.
    assert name == "diagnostics", name
    assert body == {"bundle": req["id"], "upload": f"/api/v1/machine/diagnostics/{req['id']}",
                    "max_bytes": LIMIT}, body
    data = bundle("D1", 200000)
    sha = hashlib.sha256(data).hexdigest()
    url = body["upload"]
    half = len(data) // 2
    # No certificate; another machine's certificate: its request is not theirs.
    status, doc, _ = put(machine_api(fleet, w["port"]), url + "?offset=0", data[:half])
    assert status == 401, doc
    status, doc, _ = put(machine_api(fleet, w["port"], "D2"), url + "?offset=0", data[:half])
    assert status == 404 and doc["error"]["code"] == "not_found", doc
    # Two slices, the second resumed after a wrong offset.
    m = machine_api(fleet, w["port"], "D1")
    status, doc, _ = put(m, url + "?offset=0", data[:half])
    assert status == 200 and doc == {"id": req["id"], "state": "uploading", "received": half, "complete": False}, doc
    status, doc, _ = put(m, url + f"?offset=0&final=true&sha256={sha}", data[half:])
    assert status == 409 and doc["received"] == half, doc
    status, doc, _ = put(m, url + f"?offset={half}&final=true&sha256={sha}", data[half:])
    assert status == 200 and doc["complete"] is True and doc["received"] == len(data), doc
    # Once complete, nothing more is taken.
    status, doc, _ = put(m, url + f"?offset={len(data)}", b"more")
    assert status == 410, doc

    people, tech = w["people"], w["tech"]
    status, doc, _ = people.call("GET", f"/api/v1/diagnostics/{req['id']}", token=tech)
    assert status == 200 and doc["state"] == "complete" and doc["sha256"] == sha and doc["received"] == len(data)
    status, doc, _ = people.call("GET", "/api/v1/machines/D1/diagnostics", token=tech)
    assert status == 200 and req["id"] in [b["id"] for b in doc["bundles"]], doc
    status, _, resp = people.call("GET", f"/api/v1/diagnostics/{req['id']}/content", token=tech)
    assert status == 200
    # The Api read the body already: fetch it again as bytes.
    import http.client
    c = http.client.HTTPSConnection("localhost", w["port"], context=people.ctx, timeout=30)
    c.request("GET", f"/api/v1/diagnostics/{req['id']}/content", headers={"Authorization": "Bearer " + tech})
    r = c.getresponse()
    got = r.read()
    c.close()
    assert r.status == 200 and r.getheader("Content-Type") == "application/octet-stream"
    assert got == data

    # Sealed at rest: the marker of the log lines is nowhere in the store's files.
    for f in fleet.data.iterdir():
        if f.name.startswith("coffeecloud") and f.is_file():
            assert MARKER not in f.read_bytes(), f.name

    audit = fleet.ccj("audit", "list")
    seen = {(r["action"], r["outcome"]) for r in audit}
    for action in ("diagnostics.request", "diagnostics.upload", "diagnostics.download"):
        assert (action, "ok") in seen, (action, seen)
    # The machine's timeline tells it to technical readers.
    status, doc, _ = people.call("GET", "/api/v1/machines/D1/timeline", token=tech)
    kinds = {(i["kind"], i.get("bundle")) for i in doc["items"]}
    assert ("diagnostics", req["id"]) in kinds and ("diagnostics_uploaded", req["id"]) in kinds, doc
    status, doc, _ = people.call("GET", "/api/v1/machines/D1/timeline", token=w["seller"])
    assert status == 200 and not any(i["kind"].startswith("diagnostics") for i in doc["items"]), doc
    upload = next(r for r in audit if r["action"] == "diagnostics.upload")
    assert upload["actor"] == "machine:D1" and upload["machines"] == ["D1"], upload


def test_oversize_refused(world):
    w, fleet = world, world["fleet"]
    req = request(w, "D2")
    m = machine_api(fleet, w["port"], "D2")
    url = f"/api/v1/machine/diagnostics/{req['id']}"
    data = bundle("D2", LIMIT + 1)
    status, doc, _ = put(m, url + "?offset=0", data[:LIMIT // 2])
    assert status == 200, doc
    status, doc, _ = put(m, url + f"?offset={LIMIT // 2}", data[LIMIT // 2:])
    assert status == 413 and doc["error"]["code"] == "too_large", doc
    status, doc, _ = w["people"].call("GET", f"/api/v1/diagnostics/{req['id']}", token=w["tech"])
    assert status == 200 and doc["state"] == "failed" and doc["received"] == LIMIT // 2, doc
    # Nothing of it is kept, and it takes no more.
    with storeview.open_store(fleet.data) as db:
        n = db.count("diag_chunks", "bundle_id = ?", (req["id"],))
    assert n == 0
    status, doc, _ = put(m, url + f"?offset={LIMIT // 2}", b"x")
    assert status == 410, doc


def test_card_number_in_manifest_refused(world):
    w, fleet = world, world["fleet"]
    req = request(w)
    m = machine_api(fleet, w["port"], "D1")
    data = bundle("D1", 5000, {"service_note": "ref " + CARD})
    mark = w["d"].mark()
    status, doc, _ = put(m, f"/api/v1/machine/diagnostics/{req['id']}?offset=0&final=1&sha256="
                         + hashlib.sha256(data).hexdigest(), data)
    assert status == 422 and doc["error"]["code"] == "not_machine_data", doc
    assert "card-number" in doc["error"]["message"] and CARD not in json.dumps(doc), doc
    status, doc, _ = w["people"].call("GET", f"/api/v1/diagnostics/{req['id']}", token=w["tech"])
    assert status == 200 and doc["state"] == "failed" and "personal" in doc["reason"], doc
    assert CARD not in "".join(w["d"].lines(mark))
    assert ("diagnostics.upload", "denied") in {(r["action"], r["outcome"]) for r in fleet.ccj("audit", "list")}
    # A wrong digest is refused too.
    req = request(w)
    data = bundle("D1", 5000)
    status, doc, _ = put(m, f"/api/v1/machine/diagnostics/{req['id']}?offset=0&final=1&sha256=" + "0" * 64, data)
    assert status == 422 and "SHA-256" in doc["error"]["message"], doc


def test_personal_data_in_a_log_line_refuses_the_bundle(world):
    """Log lines pass the ingest filter's text detectors; a bundle with one that holds an
    e-mail address is refused whole (not redacted: its SHA-256 is the machine's), the line
    and the detector named, never the text."""
    w, fleet = world, world["fleet"]
    req = request(w)
    m = machine_api(fleet, w["port"], "D1")
    email = "carl.smith@example.com"
    head = bundle("D1", 0)
    data = head + b"2026-12-07T10:00:00Z INFO boiler ok\n2026-12-07T10:01:00Z WARN visit by " + email.encode() + \
        b"\n2026-12-07T10:02:00Z INFO pump 9.1 bar\n"
    mark = w["d"].mark()
    status, doc, _ = put(m, f"/api/v1/machine/diagnostics/{req['id']}?offset=0&final=1&sha256="
                         + hashlib.sha256(data).hexdigest(), data)
    assert status == 422 and doc["error"]["code"] == "not_machine_data", doc
    assert "log line 3" in doc["error"]["message"] and "(email)" in doc["error"]["message"], doc
    assert email not in json.dumps(doc) and email not in "".join(w["d"].lines(mark))
    status, doc, _ = w["people"].call("GET", f"/api/v1/diagnostics/{req['id']}", token=w["tech"])
    assert status == 200 and doc["state"] == "failed" and doc["reason"].startswith("log line 3 "), doc
    with storeview.open_store(fleet.data) as db:
        assert db.count("diag_chunks", "bundle_id = ?", (req["id"],)) == 0
    # The same lines without it are a bundle like any other.
    req = request(w)
    data = data.replace(b"visit by " + email.encode(), b"visit by the technician")
    status, doc, _ = put(m, f"/api/v1/machine/diagnostics/{req['id']}?offset=0&final=1&sha256="
                         + hashlib.sha256(data).hexdigest(), data)
    assert status == 200 and doc["complete"], doc


def test_bundle_lists_page_by_cursor(world):
    w = world
    for _ in range(3):
        request(w, "D2")
    status, whole, _ = w["people"].call("GET", "/api/v1/machines/D2/diagnostics?limit=200", token=w["tech"])
    assert status == 200 and len(whole["bundles"]) >= 3 and "next_cursor" not in whole, whole
    ids = [b["id"] for b in whole["bundles"]]
    assert ids == sorted(ids, reverse=True), ids
    for path in ("/api/v1/machines/D2/diagnostics?limit=2", "/api/v1/diagnostics?serial=D2&limit=2"):
        paged, cursor = [], None
        while True:
            status, doc, _ = w["people"].call("GET", path + (f"&cursor={cursor}" if cursor else ""), token=w["tech"])
            assert status == 200 and len(doc["bundles"]) <= 2, doc
            paged += [b["id"] for b in doc["bundles"]]
            cursor = doc.get("next_cursor")
            if cursor is None:
                break
        assert paged == ids, (path, paged, ids)
    status, doc, _ = w["people"].call("GET", "/api/v1/machines/D2/diagnostics?cursor=zz", token=w["tech"])
    assert status == 400, doc


def test_a_moved_machines_bundles_stay_with_the_customer_they_were_taken_for(world):
    """After a move to another customer the old bundles are seen by the customer that owned
    the machine then (its people with the technical class) and by the manufacturer; not by the
    new customer, nor by the old customer's service company, whose service follows the machine."""
    w, fleet = world, world["fleet"]
    fleet.cc("org", "add", "--name", "serv-x", "--kind", "distributor", "--parent", "manufacturer")
    fleet.add_customer("cafe-old", parent="serv-x")
    fleet.add_customer("cafe-new")
    fleet.add_machine("MV1", customer="cafe-old")
    for login, org, role in (("admin-old", "cafe-old", "admin"), ("admin-new", "cafe-new", "admin"),
                             ("tech-x", "serv-x", "technician")):
        fleet.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
                 stdin=ccdaemon.password_of(login) + "\n")
    people = w["people"]
    tok = {who: people.login(who, ccdaemon.password_of(who)) for who in ("admin-old", "admin-new", "tech-x")}
    tok["tech"] = w["tech"]
    old = request(w, "MV1")
    data = bundle("MV1", 3000)
    status, doc, _ = put(machine_api(fleet, w["port"], "MV1"), f"/api/v1/machine/diagnostics/{old['id']}?offset=0"
                         f"&final=true&sha256={hashlib.sha256(data).hexdigest()}", data)
    assert status == 200 and doc["complete"], doc

    def sees(who, bid):
        status, _, _ = people.call("GET", f"/api/v1/diagnostics/{bid}", token=tok[who])
        assert status in (200, 404), (who, status)
        return status == 200

    def listed(who, path="/api/v1/diagnostics?serial=MV1"):
        status, doc, _ = people.call("GET", path, token=tok[who])
        return [b["id"] for b in doc["bundles"]] if status == 200 else status
    assert [who for who in tok if sees(who, old["id"])] == ["admin-old", "tech-x", "tech"]

    fleet.cc("machine", "move", "MV1", "--customer", "cafe-new")
    status, new, _ = people.call("POST", "/api/v1/machines/MV1/diagnostics", token=w["tech"])
    assert status == 201, new
    assert [who for who in tok if sees(who, old["id"])] == ["admin-old", "tech"]
    assert [who for who in tok if sees(who, new["id"])] == ["admin-new", "tech"]
    assert listed("admin-old") == [old["id"]] and listed("admin-new") == [new["id"]]
    assert listed("tech-x") == [] and listed("tech") == [new["id"], old["id"]]
    assert old["id"] not in listed("tech-x", "/api/v1/diagnostics")
    # The machine's own list: its rows before the move too, for whoever may see them.
    assert listed("tech", "/api/v1/machines/MV1/diagnostics") == [new["id"], old["id"]]
    assert listed("admin-new", "/api/v1/machines/MV1/diagnostics") == [new["id"]]
    assert listed("admin-old", "/api/v1/machines/MV1/diagnostics") == 404
    # The old bundle still opens: sealed under the old customer's key, its serial in the seal.
    for who in ("admin-old", "tech"):
        status, _, _ = people.call("GET", f"/api/v1/diagnostics/{old['id']}/content", token=tok[who])
        assert status == 200, who
    status, doc, _ = people.call("GET", f"/api/v1/diagnostics/{old['id']}/content", token=tok["admin-new"])
    assert status == 404, doc


def test_roles_without_the_technical_class_are_refused(world):
    w = world
    req = request(w)
    people, seller = w["people"], w["seller"]
    status, doc, _ = people.call("POST", "/api/v1/machines/D1/diagnostics", token=seller)
    assert status == 403 and doc["error"]["code"] == "forbidden", doc
    for path in ("/api/v1/machines/D1/diagnostics", f"/api/v1/diagnostics/{req['id']}",
                 f"/api/v1/diagnostics/{req['id']}/content"):
        status, doc, _ = people.call("GET", path, token=seller)
        assert status == 403, (path, doc)
    # Not complete yet: nothing to download.
    status, doc, _ = people.call("GET", f"/api/v1/diagnostics/{req['id']}/content", token=w["tech"])
    assert status == 409 and doc["error"]["code"] == "not_complete", doc
    status, doc, _ = people.call("GET", "/api/v1/diagnostics/999999", token=w["tech"])
    assert status == 404, doc


def test_cli_twins(world, tmp_path):
    """The admin CLI asks, lists, shows and downloads like the API (and is audited)."""
    w, fleet = world, world["fleet"]
    req = fleet.ccj("diagnostics", "request", "D1", "--max-bytes", "4096")
    assert req["state"] == "requested" and req["max_bytes"] == 4096 and req["requested_by"].startswith("cli:"), req
    data = bundle("D1", 3000)
    m = machine_api(fleet, w["port"], "D1")
    status, doc, _ = put(m, f"/api/v1/machine/diagnostics/{req['id']}?offset=0&final=true&sha256="
                         + hashlib.sha256(data).hexdigest(), data)
    assert status == 200 and doc["complete"] is True, doc
    listed = fleet.ccj("diagnostics", "list", "D1")
    assert listed[0]["id"] == req["id"] and listed[0]["state"] == "complete", listed
    shown = fleet.ccj("diagnostics", "show", str(req["id"]))
    assert shown["sha256"] == hashlib.sha256(data).hexdigest() and shown["received"] == len(data), shown
    out = tmp_path / "bundle.txt"
    got = fleet.ccj("diagnostics", "download", str(req["id"]), "--out", str(out))
    assert got["bytes"] == len(data) and out.read_bytes() == data, got
    # An existing file is not overwritten; a bundle not complete is not written.
    fleet.cc("diagnostics", "download", str(req["id"]), "--out", str(out), rc=4)
    open_req = fleet.ccj("diagnostics", "request", "D2")
    p = fleet.cc("diagnostics", "download", str(open_req["id"]), "--out", str(tmp_path / "x"), rc=None)
    assert p.returncode != 0 and not (tmp_path / "x").exists()
    actions = {r["action"] for r in fleet.ccj("audit", "list") if r["actor"].startswith("cli:")}
    assert {"diagnostics.request", "diagnostics.list", "diagnostics.show", "diagnostics.download"} <= actions


def test_the_simulator_uploads_a_realistic_bundle(world):
    """coffeecloud-sim answers the command with a bundle over HTTPS, with its certificate."""
    import subprocess
    w, fleet = world, world["fleet"]

    def sim(*args):
        argv = [str(ccdaemon.BUILD_DIR / "coffeecloud-sim"), "--data", str(fleet.data), "--port",
                str(w["d"].tls_port), "--customer", "sim-diag", "--prefix", "SD", "--machines", "1", "--quiet",
                *map(str, args)]
        p = subprocess.run(argv, capture_output=True, text=True, env=ccdaemon.base_env(), timeout=120)
        ccdaemon.assert_no_sanitizer_report(p.stderr, "coffeecloud-sim")
        assert p.returncode == 0, ccdaemon.describe(argv, p)
        return json.loads(p.stdout.strip().splitlines()[-1])
    sim("--count", 1)  # provisions SD-0001
    req = request(w, "SD-0001")
    summary = sim("--count", 2, "--rate", 2, "--https-port", w["port"])
    assert summary["diagnostics_uploaded"] == 1 and summary["diagnostics_failed"] == 0, summary
    people, tech = w["people"], w["tech"]
    status, doc, _ = people.call("GET", f"/api/v1/diagnostics/{req['id']}", token=tech)
    assert status == 200 and doc["state"] == "complete", doc
    import http.client
    c = http.client.HTTPSConnection("localhost", w["port"], context=people.ctx, timeout=30)
    c.request("GET", f"/api/v1/diagnostics/{req['id']}/content", headers={"Authorization": "Bearer " + tech})
    got = c.getresponse().read()
    c.close()
    assert hashlib.sha256(got).hexdigest() == doc["sha256"] and len(got) == doc["received"]
    head, _, logs = got.partition(b"\n")
    manifest = json.loads(head)
    assert manifest["format"] == "coffeecloud-diagnostics/1" and manifest["serial"] == "SD-0001", manifest
    assert manifest["firmware"] and manifest["uptime_s"] > 0 and len(manifest["boiler_c_per_min"]) == 60
    assert all(88 < t < 96 for t in manifest["boiler_c_per_min"]) and manifest["config"]["brew_temp_c"] == 93
    assert manifest["errors"] and logs.count(b"\n") > 100 and b"boiler: heating" in logs
    # The machine's job says so too.
    job = fleet.ccj("job", "show", str(doc["job"]))
    assert job["targets"][0]["state"] == "succeeded" and job["targets"][0]["result"].startswith("bundle uploaded")


def test_retention_expires_and_deletes(world):
    """The retention thread expires requests past their 24 h and deletes bundles older than
    diagnostics_retention_days (30), their sealed chunks with them; audited."""
    w, fleet = world, world["fleet"]
    old, stale = request(w, "D2"), request(w, "D2")
    data = bundle("D2", 100000)
    status, doc, _ = put(machine_api(fleet, w["port"], "D2"), f"/api/v1/machine/diagnostics/{old['id']}?offset=0"
                         f"&final=true&sha256={hashlib.sha256(data).hexdigest()}", data)
    assert status == 200 and doc["complete"], doc
    with storeview.open_store(fleet.data, write=True) as db:
        assert db.count("diag_chunks", "bundle_id = ?", (old["id"],)) == 2
        assert db.execute("UPDATE diag_bundles SET requested_ms = requested_ms - 31 * 86400000 WHERE id = ?",
                          (old["id"],)) == 1
        assert db.execute("UPDATE diag_bundles SET expires_ms = 1 WHERE id = ?", (stale["id"],)) == 1

    def swept():
        s1, _, _ = w["people"].call("GET", f"/api/v1/diagnostics/{old['id']}", token=w["tech"])
        s2, doc, _ = w["people"].call("GET", f"/api/v1/diagnostics/{stale['id']}", token=w["tech"])
        return s1 == 404 and s2 == 200 and doc["state"] == "expired" and doc
    doc = ccdaemon.poll_until(swept, "the retention sweep")
    assert doc["reason"] == "not uploaded in time", doc
    with storeview.open_store(fleet.data) as db:
        assert db.count("diag_chunks", "bundle_id = ?", (old["id"],)) == 0
        customer = db.scalar("SELECT customer_id FROM machines WHERE serial = 'D2'")
        audit = db.rows("SELECT action, source, customer_id FROM audit WHERE actor = 'daemon:retention' "
                        "AND action LIKE 'retention.diagnostics.%'")
    # Counted like every retention deletion: per customer, how many and before when; expiries apart.
    deleted = [(src, cid) for action, src, cid in audit if action == "retention.diagnostics.delete"]
    assert len(deleted) == 1 and deleted[0][1] == customer, audit
    assert re.fullmatch(r"deleted 1 bundles asked for before \d{4}-\d\d-\d\dT\d\d:\d\dZ", deleted[0][0]), audit
    assert any(a == "retention.diagnostics.expire" and re.fullmatch(r"\d+ requests not uploaded in time expired", s)
               for a, s, _ in audit), audit


def test_erasure_leaves_nothing_readable(world):
    """Erasing the customer destroys its key and cascades its bundles and their chunks."""
    w, fleet = world, world["fleet"]
    fleet.add_customer("cafe-gone")
    fleet.add_machine("G1", customer="cafe-gone")
    req = request(w, "G1")
    data = bundle("G1", 70000)
    status, doc, _ = put(machine_api(fleet, w["port"], "G1"), f"/api/v1/machine/diagnostics/{req['id']}?offset=0"
                         f"&final=true&sha256={hashlib.sha256(data).hexdigest()}", data)
    assert status == 200 and doc["complete"], doc
    fleet.cc("customer", "delete", "--customer", "cafe-gone", "--yes")
    with storeview.open_store(fleet.data) as db:
        assert db.count("diag_bundles", "id = ?", (req["id"],)) == 0
        assert db.count("diag_chunks", "bundle_id = ?", (req["id"],)) == 0
    status, doc, _ = w["people"].call("GET", f"/api/v1/diagnostics/{req['id']}", token=w["tech"])
    assert status == 404, doc
