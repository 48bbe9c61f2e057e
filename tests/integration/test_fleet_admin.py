"""The fleet managed through the API and the CLI: sites with their place,
groups (listed and dynamic, with sub-groups) and their machines, machines
moved within and between customers, decommissioned, and organisations and
accounts deactivated. Everything against a real daemon, audited.

A listing's `id` is what the routes take: sites and groups by numeric id,
organisations by name, accounts by login, machines by serial.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet-admin")
    f = ccdaemon.Fleet.create(root, machines=("A1", "A2", "A3"), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    f.add_customer("cafe-c", parent="dist-b")
    f.add_machine("B1", customer="cafe-b")
    f.add_machine("C1", customer="cafe-c", model="office-one")
    # Machines are registered before the daemon starts (it learns of new ones
    # at its fleet poll): the move's, the decommissions', the deactivation's.
    f.add_customer("cafe-old")
    f.add_machine("MV1", customer="cafe-old")
    f.add_machine("DC1", customer="cafe-b")
    f.add_machine("DC2", customer="cafe-b")
    f.cc("org", "add", "--name", "dist-z", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-z", parent="dist-z")
    f.add_machine("Z1", customer="cafe-z")
    for login, org, role in (("admin-b", "dist-b", "admin"), ("tech-a", "cafe-a", "technician"),
                             ("tech-c", "cafe-c", "technician"), ("tech-c2", "cafe-c", "technician"),
                             ("tech-z", "cafe-z", "technician")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}", "fleet_poll_ms": 200})
    d.start()
    try:
        api = Api(port, f.data / "ca.crt")
        tokens = {"admin": api.login("admin", ccdaemon.PASSWORD)}
        tokens.update({who: api.login(who, ccdaemon.password_of(who)) for who in ("admin-b", "tech-a")})
        yield {"fleet": f, "daemon": d, "api": api, "tokens": tokens}
    finally:
        d.stop()


def call(world, method, path, body=None, who="admin"):
    return world["api"].call(method, path, body, token=world["tokens"][who])[:2]


def audit(world, action):
    return world["fleet"].ccj("audit", "list", "--action", action)


# ---- sites

def test_site_with_its_place(world):
    status, site = call(world, "POST", "/api/v1/sites", {"customer": "cafe-a", "name": "harbour",
                                                          "address": "Am Hafen 3, Hamburg", "lat": 53.54,
                                                          "lon": 9.99, "timezone": "Europe/Berlin"})
    assert status == 201, site
    assert (site["name"], site["customer"], site["lat"], site["lon"], site["timezone"]) == \
        ("harbour", "cafe-a", 53.54, 9.99, "Europe/Berlin")
    listed = {s["id"]: s for s in call(world, "GET", "/api/v1/sites?customer=cafe-a")[1]["sites"]}
    assert listed[site["id"]]["address"] == "Am Hafen 3, Hamburg"
    # The id a listing gives is what the route takes.
    status, changed = call(world, "POST", f"/api/v1/sites/{site['id']}", {"timezone": "Europe/London",
                                                                         "lat": "53.5", "lon": "10"})
    assert status == 200, changed
    assert (changed["timezone"], changed["lat"], changed["lon"], changed["address"]) == \
        ("Europe/London", 53.5, 10.0, "Am Hafen 3, Hamburg")
    assert audit(world, "site.")[-1]["customer"] == "cafe-a"


@pytest.mark.parametrize("place", [
    {"lat": 53.541, "lon": 9.99},            # finer than 2 decimals: a door, not a place
    {"lat": "53.5412", "lon": "9.9"},
    {"lat": 91, "lon": 0},
    {"lat": 50},                              # one without the other
    {"timezone": "../../../etc/passwd"},
    {"timezone": "Europe/../Etc/UTC"},
    {"timezone": "/usr/share/zoneinfo/UTC"},
    {"timezone": "Europe/Atlantis"},
    {"timezone": "Europe"},                    # a directory, not a zone
    {"address": "call 0171-1234567"},          # a phone number is personal data
])
def test_site_place_refused(world, place):
    status, doc = call(world, "POST", "/api/v1/sites", {"customer": "cafe-a", "name": "refused", **place})
    assert status == 400 and doc["error"]["code"] == "invalid", (place, status, doc)
    assert "refused" not in [s["name"] for s in call(world, "GET", "/api/v1/sites?customer=cafe-a")[1]["sites"]]


def test_sites_scope(world):
    status, site = call(world, "POST", "/api/v1/sites", {"customer": "cafe-b", "name": "depot"}, who="admin-b")
    assert status == 201, site
    # dist-b's admin sees its customers' sites only; cafe-a's are not there.
    names = {s["customer"] for s in call(world, "GET", "/api/v1/sites", who="admin-b")[1]["sites"]}
    assert names <= {"cafe-b", "cafe-c"} and "cafe-b" in names
    assert call(world, "POST", "/api/v1/sites", {"customer": "cafe-a", "name": "x"}, who="admin-b")[0] == 404
    own = call(world, "GET", "/api/v1/sites?customer=cafe-a")[1]["sites"][0]["id"]
    assert call(world, "POST", f"/api/v1/sites/{own}", {"timezone": "UTC"}, who="admin-b")[0] == 404
    assert call(world, "GET", "/api/v1/sites", who="tech-a")[0] == 403


def test_site_cli(world):
    f = world["fleet"]
    site = f.ccj("site", "add", "--customer", "cafe-c", "--name", "office", "--address", "Main St 1",
                 "--lat", "48.14", "--lon", "11.58", "--timezone", "Europe/Berlin")
    assert (site["lat"], site["timezone"]) == (48.14, "Europe/Berlin")
    assert f.cc("site", "update", "--customer", "cafe-c", "--name", "office", "--lat", "48.137", "--lon", "11.5",
                rc=2).returncode == 2
    f.cc("site", "update", "--customer", "cafe-c", "--name", "office", "--timezone", "")
    listed = [s for s in f.ccj("site", "list", "--customer", "cafe-c") if s["name"] == "office"]
    assert listed and "timezone" not in listed[0] and listed[0]["address"] == "Main St 1"
    assert f.cc("site", "add", "--customer", "cafe-c", "--name", "x", "--timezone", "../etc", rc=2).returncode == 2
    assert [r["outcome"] for r in f.ccj("audit", "list", "--action", "site.update")][-2:] == ["error", "ok"]


# ---- groups

def test_listed_group_and_sub_group(world):
    status, top = call(world, "POST", "/api/v1/groups", {"customer": "cafe-a", "name": "espresso-bar"})
    assert status == 201 and top["dynamic"] is False, top
    status, sub = call(world, "POST", "/api/v1/groups", {"customer": "cafe-a", "name": "espresso-bar-east",
                                                        "parent": top["id"]})
    assert status == 201 and sub["parent"] == top["id"], sub
    assert call(world, "POST", f"/api/v1/groups/{top['id']}/machines", {"serial": "A1"})[0] == 201
    assert call(world, "POST", f"/api/v1/groups/{sub['id']}/machines", {"serial": "A2"})[0] == 201
    assert call(world, "POST", f"/api/v1/groups/{top['id']}/machines", {"serial": "A1"})[0] == 409
    # A machine of another customer is not one a group of cafe-a can list.
    status, doc = call(world, "POST", f"/api/v1/groups/{top['id']}/machines", {"serial": "B1"})
    assert status == 404, doc
    members = call(world, "GET", f"/api/v1/groups/{top['id']}/machines")[1]["machines"]
    assert [m["serial"] for m in members] == ["A1", "A2"]  # the sub-group's machine too
    assert [m["serial"] for m in call(world, "GET", f"/api/v1/machines?group={sub['id']}")[1]["machines"]] == ["A2"]
    assert call(world, "DELETE", f"/api/v1/groups/{sub['id']}/machines/A2")[0] == 200
    assert call(world, "DELETE", f"/api/v1/groups/{sub['id']}/machines/A2")[0] == 404
    assert [m["serial"] for m in call(world, "GET", f"/api/v1/groups/{top['id']}/machines")[1]["machines"]] == ["A1"]
    listed = {g["id"]: g for g in call(world, "GET", "/api/v1/groups?customer=cafe-a")[1]["groups"]}
    assert listed[sub["id"]]["name"] == "espresso-bar-east"
    # Out of scope: the same answer as a group that does not exist.
    assert call(world, "GET", f"/api/v1/groups/{top['id']}/machines", who="admin-b") == \
        call(world, "GET", "/api/v1/groups/999999/machines", who="admin-b")
    assert [r["machines"] for r in audit(world, "group.add-machine")][-2:] == [["A1"], ["A2"]]


def test_dynamic_group(world):
    status, g = call(world, "POST", "/api/v1/groups", {"customer": "cafe-c", "name": "office-models",
                                                      "filter": {"model": "office-one"}})
    assert status == 201 and g["dynamic"] and g["filter"] == {"model": "office-one"}, g
    assert [m["serial"] for m in call(world, "GET", f"/api/v1/groups/{g['id']}/machines")[1]["machines"]] == ["C1"]
    # Members are computed: none are listed by hand.
    assert call(world, "POST", f"/api/v1/groups/{g['id']}/machines", {"serial": "C1"})[0] == 409
    # Its filter ANDs with the request's.
    assert call(world, "GET", f"/api/v1/machines?group={g['id']}&model=barista-pro")[1]["machines"] == []
    for bad in ({"color": "red"}, {"status": "sleeping"}, {"model": 7}, []):
        status, doc = call(world, "POST", "/api/v1/groups", {"customer": "cafe-c", "name": "bad", "filter": bad})
        assert status == 400, (bad, doc)


def test_group_cli(world):
    f = world["fleet"]
    f.cc("group", "add", "--customer", "cafe-b", "--name", "lobby")
    f.cc("group", "add-machine", "--customer", "cafe-b", "--name", "lobby", "--serial", "B1")
    assert f.cc("group", "add-machine", "--customer", "cafe-b", "--name", "lobby", "--serial", "A3",
                rc=3).returncode == 3
    shown = f.ccj("group", "show", "--customer", "cafe-b", "--name", "lobby")
    assert [m["serial"] for m in shown["machines"]] == ["B1"] and shown["dynamic"] is False
    f.cc("group", "add", "--customer", "cafe-b", "--name", "all-b", "--filter", '{"status": "all"}')
    assert [m["serial"] for m in f.ccj("group", "show", "--customer", "cafe-b", "--name", "all-b")["machines"]] \
        == ["B1", "DC1", "DC2"]
    f.cc("group", "remove-machine", "--customer", "cafe-b", "--name", "lobby", "--serial", "B1")
    assert f.ccj("group", "show", "--customer", "cafe-b", "--name", "lobby")["machines"] == []
    assert f.cc("group", "add", "--customer", "cafe-b", "--name", "x", "--filter", "{", rc=2).returncode == 2


# ---- machines: move and decommission

def publish_and_leave(d, m, docs):
    """publish, then wait until the daemon logged that connection's end, so
    that its "connected" line is not taken for a later connection's."""
    mark = d.mark()
    ccdaemon.publish(d, m, "telemetry", docs)
    d.wait_for(rf"{m.serial} went away", since=mark)


def connected(d, m, mark):
    """A subscribed mosquitto_sub of machine m (MQTT 5): the caller ends it."""
    p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                          "--cert", str(m.cert), "--key", str(m.key), "-i", m.serial, "-V", "mqttv5", "-q", "1",
                          "-t", f"cc/v1/{m.serial}/cmd/#"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d.wait_for(rf"{m.serial} connected", since=mark)
    return p


def test_move_within_customer(world):
    f = world["fleet"]
    f.cc("site", "add", "--customer", "cafe-a", "--name", "cellar")
    status, doc = call(world, "POST", "/api/v1/machines/A3/move", {"site": "cellar"})
    assert status == 200 and doc == {"serial": "A3", "customer": "cafe-a", "site": "cellar",
                                     "customer_changed": False}, doc
    assert call(world, "GET", "/api/v1/machines/A3")[1]["site"] == "cellar"
    assert call(world, "POST", "/api/v1/machines/A3/move", {"site": "nowhere"})[0] == 404
    assert call(world, "POST", "/api/v1/machines/A3/move", {})[0] == 400
    moved = f.ccj("machine", "move", "A3", "--no-site")
    assert moved == {"serial": "A3", "customer": "cafe-a", "site": None}
    assert "site" not in call(world, "GET", "/api/v1/machines/A3")[1]
    # Another distributor's admin: out of scope, like a machine that does not exist.
    assert call(world, "POST", "/api/v1/machines/A3/move", {"site": None}, who="admin-b")[0] == 404


def test_move_to_another_customer_keeps_the_records_with_their_owner(world):
    """Records made before the move stay with cafe-a: sealed under its key,
    in its export, erased with it; cafe-c never reads them, and the machine
    goes on under cafe-c with the same certificate."""
    f, d = world["fleet"], world["daemon"]
    m = f.machines["MV1"]
    publish_and_leave(d, m, [{"seq": i, "ts": 1795860000000 + i, "m": {"boiler_temp_c": 90 + i}} for i in (1, 2)])
    mark = d.mark()
    sub = connected(d, m, mark)
    try:
        status, doc = call(world, "POST", "/api/v1/machines/MV1/move", {"customer": "cafe-c", "site": None})
        assert status == 200 and doc["customer"] == "cafe-c" and doc["customer_changed"], doc
        # The live connection, still the old row's, is dropped; it comes back as the new one.
        # (mosquitto_sub may see the close before the DISCONNECT and reconnect: the
        # machine is valid under its new row, so whether it exits is not the point.)
        d.wait_for(r"MV1: cut off", since=mark)
    finally:
        if sub.poll() is None:
            sub.kill()  # SIGTERM right after CONNACK can be lost by mosquitto_sub
            sub.wait(timeout=30)
    publish_and_leave(d, m, [{"seq": 3, "ts": 1795860000003, "m": {"boiler_temp_c": 99}}])
    # Acknowledged means stored: the new owner reads its own record, not the old ones.
    status, doc = call(world, "GET", "/api/v1/machines/MV1/telemetry")
    assert status == 200 and [r["seq"] for r in doc["telemetry"]] == [3], doc
    assert [r["seq"] for r in f.telemetry("MV1")] == [3]
    # cafe-old keeps what was recorded while it owned the machine.
    export = json.loads(f.cc("customer", "export", "cafe-old").stdout)
    old = [r["seq"] for mach in export["machines"] for r in mach["telemetry"]]
    assert sorted(old) == [1, 2], export
    assert [x["customer"] for x in audit(world, "machine.move") if x["machines"] == ["MV1"]] == ["cafe-old", "cafe-c"]
    # The retired row is the old customer's, out of service, its MAC sealed anew.
    retired = call(world, "GET", "/api/v1/machines?customer=cafe-old&status=all")[1]["machines"]
    assert [(x["serial"], x.get("decommissioned")) for x in retired] == [("MV1", True)]
    assert call(world, "GET", "/api/v1/machines?customer=cafe-old")[1]["machines"] == []
    assert f.cc("init", "--check", rc=None).returncode == 0
    # Erasing the old owner destroys the old records, not the machine.
    f.cc("customer", "delete", "cafe-old", "--yes")
    assert [r["seq"] for r in f.telemetry("MV1")] == [3]
    mark = d.mark()
    sub = connected(d, m, mark)
    sub.kill()  # SIGTERM right after CONNACK can be lost by mosquitto_sub
    sub.wait(timeout=30)
    ccdaemon.publish(d, m, "telemetry", [{"seq": 4, "ts": 1795860000004, "m": {"boiler_temp_c": 98}}])
    assert [r["seq"] for r in f.telemetry("MV1")] == [3, 4]


def test_decommission(world):
    f, d = world["fleet"], world["daemon"]
    m = f.machines["DC1"]
    mark = d.mark()
    sub = connected(d, m, mark)
    try:
        assert call(world, "POST", "/api/v1/machines/DC1/decommission", {"confirm": "DC2"})[0] == 400
        status, doc = call(world, "POST", "/api/v1/machines/DC1/decommission", {"confirm": "DC1"}, who="admin-b")
        assert status == 200 and doc["decommissioned"], doc
        d.wait_for(r"DC1: cut off", since=mark)
        assert sub.wait(timeout=30) is not None
    finally:
        if sub.poll() is None:
            sub.kill()  # SIGTERM right after CONNACK can be lost by mosquitto_sub
            sub.wait(timeout=30)
    crl = subprocess.run(["openssl", "crl", "-in", str(f.data / "ca.crl"), "-noout", "-text"], capture_output=True,
                         text=True, check=True).stdout
    serial = subprocess.run(["openssl", "x509", "-in", str(m.cert), "-noout", "-serial"], capture_output=True,
                            text=True, check=True).stdout.strip().split("=")[1]
    assert serial.upper() in crl.upper().replace(":", "")
    listed = lambda q: [x["serial"] for x in call(world, "GET", "/api/v1/machines" + q)[1]["machines"]]  # noqa
    assert "DC1" not in listed("?customer=cafe-b")
    assert listed("?customer=cafe-b&status=decommissioned") == ["DC1"]
    assert "DC1" in listed("?customer=cafe-b&status=all")
    assert call(world, "POST", "/api/v1/machines/DC1/decommission", {"confirm": "DC1"})[0] == 409
    assert audit(world, "machine.decommission")[-1]["machines"] == ["DC1"]
    # The CLI twin asks for --yes.
    assert f.cc("machine", "decommission", "DC2", rc=2).returncode == 2
    assert f.ccj("machine", "decommission", "DC2", "--yes")["decommissioned"] is True


# ---- deactivation

def test_user_deactivation(world):
    api, f = world["api"], world["fleet"]
    session = api.login("tech-c", ccdaemon.password_of("tech-c"))
    assert api.call("GET", "/api/v1/me", token=session)[0] == 200
    status, doc = call(world, "POST", "/api/v1/users/tech-c/deactivate", who="admin-b")
    assert status == 200 and doc == {"login": "tech-c", "active": False}, doc
    assert api.call("GET", "/api/v1/me", token=session)[0] == 401
    status, _, _ = api.call("POST", "/api/v1/auth/login", {"login": "tech-c",
                                                           "password": ccdaemon.password_of("tech-c")})
    assert status == 401
    users = {u["login"]: u for u in call(world, "GET", "/api/v1/users?limit=1000", who="admin-b")[1]["users"]}
    assert users["tech-c"]["active"] is False and users["tech-c2"]["active"] is True
    assert call(world, "POST", "/api/v1/users/tech-c/activate", who="admin-b")[0] == 200
    assert api.call("GET", "/api/v1/me", token=api.login("tech-c", ccdaemon.password_of("tech-c")))[0] == 200
    # Not one's own; not outside one's subtree.
    assert call(world, "POST", "/api/v1/users/admin-b/deactivate", who="admin-b")[0] == 409
    assert call(world, "POST", "/api/v1/users/tech-a/deactivate", who="admin-b")[0] == 404
    f.cc("user", "deactivate", "tech-c2")
    assert api.call("POST", "/api/v1/auth/login", {"login": "tech-c2",
                                                   "password": ccdaemon.password_of("tech-c2")})[0] == 401
    f.cc("user", "activate", "tech-c2")
    api.login("tech-c2", ccdaemon.password_of("tech-c2"))
    assert [r["outcome"] for r in audit(world, "user.deactivate")][-2:] == ["denied", "ok"]


def test_org_deactivation_stops_people_and_tokens_not_machines(world):
    api, f, d = world["api"], world["fleet"], world["daemon"]
    m = f.machines["Z1"]
    session = api.login("tech-z", ccdaemon.password_of("tech-z"))
    status, tok = call(world, "POST", "/api/v1/tokens", {"name": "erp-z", "org": "dist-z", "role": "technician",
                                                         "expires": int(time.time() * 1000) + 3600_000})
    assert status == 201, tok
    token = tok["token"]
    assert api.call("GET", "/api/v1/machines", token=token)[0] == 200
    # The distributor: its subtree (cafe-z's account) and its token stop at once.
    status, doc = call(world, "POST", "/api/v1/orgs/dist-z/deactivate")
    assert status == 200 and doc["active"] is False, doc
    assert api.call("GET", "/api/v1/me", token=session)[0] == 401
    assert api.call("GET", "/api/v1/machines", token=token)[0] == 401
    orgs = {o["id"]: o for o in call(world, "GET", "/api/v1/orgs?limit=1000")[1]["orgs"]}
    assert orgs["dist-z"]["active"] is False and orgs["cafe-z"]["active"] is True
    assert api.call("POST", "/api/v1/auth/login", {"login": "tech-z",
                                                   "password": ccdaemon.password_of("tech-z")})[0] == 401
    # Machines keep sending.
    ccdaemon.publish(d, m, "telemetry", [{"seq": 1, "ts": 1795860000001, "m": {"boiler_temp_c": 91}}])
    assert [r["seq"] for r in f.telemetry("Z1")] == [1]
    assert call(world, "POST", "/api/v1/orgs/dist-z/activate")[0] == 200
    assert api.call("GET", "/api/v1/machines", token=token)[0] == 200
    assert api.call("GET", "/api/v1/me", token=api.login("tech-z", ccdaemon.password_of("tech-z")))[0] == 200
    # Not one's own organisation, not one outside the subtree; the CLI twin.
    assert call(world, "POST", "/api/v1/orgs/dist-b/deactivate", who="admin-b")[0] == 409
    assert call(world, "POST", "/api/v1/orgs/cafe-a/deactivate", who="admin-b")[0] == 404
    f.cc("org", "deactivate", "cafe-z")
    assert api.call("POST", "/api/v1/auth/login", {"login": "tech-z",
                                                   "password": ccdaemon.password_of("tech-z")})[0] == 401
    f.cc("org", "activate", "cafe-z")
    assert [(r["action"], r["outcome"]) for r in audit(world, "org.")][-4:] == [
        ("org.activate", "ok"), ("org.deactivate", "denied"), ("org.deactivate", "ok"), ("org.activate", "ok")]
    # The flag is in the row's integrity MAC: the data directory checks clean.
    assert f.cc("init", "--check", rc=None).returncode == 0


def test_deactivation_and_decommission_are_in_the_row_mac(tmp_path):
    """Clearing a flag behind the product's back does not give access back:
    the row no longer matches its integrity MAC, so it is refused."""
    import sqlite3
    f = ccdaemon.Fleet.create(tmp_path, machines=("T1",), customer="cafe-t")
    f.cc("user", "add", "--org", "cafe-t", "--login", "tech-t", "--role", "technician", "--password-stdin",
         stdin=ccdaemon.password_of("tech-t") + "\n")
    f.cc("user", "deactivate", "tech-t")
    f.cc("org", "deactivate", "cafe-t")
    f.cc("machine", "decommission", "T1", "--yes")
    assert f.cc("init", "--check", rc=None).returncode == 0
    db = sqlite3.connect(str(f.data / "coffeecloud.db"))
    with db:
        db.execute("UPDATE users SET deactivated_ms = 0 WHERE login = 'tech-t'")
        db.execute("UPDATE orgs SET deactivated_ms = 0 WHERE name = 'cafe-t'")
        db.execute("UPDATE machines SET decommissioned_ms = 0 WHERE serial = 'T1'")
    db.close()
    p = f.cc("init", "--check", rc=None)
    assert p.returncode != 0
    for table in ("users", "orgs", "machines"):
        assert f"{table} " in p.stderr and "does not match its integrity MAC" in p.stderr, p.stderr
    # The edited account is not there for the product, let alone active.
    assert f.cc("user", "activate", "tech-t", rc=None).returncode != 0
