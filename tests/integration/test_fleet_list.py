"""The fleet list, GET /api/v1/machines: filters (customer, site, status),
key-set pages by serial, the same status fields as one machine's, scope and
one audit record per request.

Two customers under different parents, sites of the same name at both, a
revoked machine, one machine connected (online) and one that was connected
once and left (offline, with its info message).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402

A = ["A01", "A02", "A03", "A04", "A05"]
B = ["B01", "B02", "B03"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    f = ccdaemon.Fleet.create(root, machines=(), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    for cust, site in (("cafe-a", "north"), ("cafe-a", "south"), ("cafe-b", "north")):
        f.cc("site", "add", "--customer", cust, "--name", site)
    # Added out of order: the list is by serial, not by id.
    for serial, cust, site in (("B02", "cafe-b", "north"), ("A03", "cafe-a", "north"), ("A01", "cafe-a", "north"),
                               ("A02", "cafe-a", "north"), ("A04", "cafe-a", "south"), ("A05", "cafe-a", None),
                               ("B01", "cafe-b", "north"), ("B03", "cafe-b", None)):
        out = f.root / "machines" / serial
        out.parent.mkdir(parents=True, exist_ok=True)
        f.cc("machine", "add", "--serial", serial, "--model", "barista-pro", "--customer", cust, "--out", out,
             *(("--site", site) if site else ()))
        f.machines[serial] = ccdaemon.Machine(serial, out)
    f.revoke("A05")
    for login, org, role in (("tech-a", "cafe-a", "technician"), ("tech-b", "dist-b", "technician")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    # A02 came and went, leaving its info message; A01 stays connected.
    ccdaemon.publish(d, f.machines["A02"], "info", [{"model": "barista-pro", "hw": "rev-C.2", "sw": "4.2.1"}])
    m = f.machines["A01"]
    mark = d.mark()
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                            "--cert", str(m.cert), "--key", str(m.key), "-i", "A01", "-V", "mqttv5", "-q", "1",
                            "-t", "cc/v1/A01/cmd/#"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        d.wait_for(r"A01 connected", since=mark)
        api = checked(Api(port, f.data / "ca.crt"))  # every answer as the OpenAPI document says
        tokens = {"admin": api.login("admin", ccdaemon.PASSWORD)}
        tokens.update({who: api.login(who, ccdaemon.password_of(who)) for who in ("tech-a", "tech-b")})
        yield {"fleet": f, "daemon": d, "api": api, "tokens": tokens}
    finally:
        sub.terminate()
        sub.wait(timeout=30)
        d.stop()


def listing(world, who, query=""):
    status, doc, _ = world["api"].call("GET", "/api/v1/machines" + query, token=world["tokens"][who])
    assert status == 200, (query, status, doc)
    return doc


def serials(world, who, query=""):
    return [m["serial"] for m in listing(world, who, query)["machines"]]


def all_pages(world, who, query):
    """Every page of a listing, following next_cursor; the serials and the page count."""
    got, pages, cursor = [], 0, None
    while True:
        doc = listing(world, who, query + (("&cursor=" + cursor) if cursor else ""))
        pages += 1
        got += [m["serial"] for m in doc["machines"]]
        cursor = doc.get("next_cursor")
        if cursor is None:
            return got, pages
        assert pages < 20, "the cursor does not advance"


def test_scope_by_serial(world):
    assert serials(world, "admin") == A + B
    assert serials(world, "tech-a") == A
    assert serials(world, "tech-b") == B


def test_filter_by_customer_and_site(world):
    assert serials(world, "admin", "?customer=cafe-a") == A
    assert serials(world, "admin", "?customer=cafe-b") == B
    assert serials(world, "admin", "?customer=cafe-a&site=north") == ["A01", "A02", "A03"]
    assert serials(world, "admin", "?customer=cafe-a&site=south") == ["A04"]
    # A site's name without a customer: that name at every customer in scope.
    assert serials(world, "admin", "?site=north") == ["A01", "A02", "A03", "B01", "B02"]
    assert serials(world, "tech-b", "?site=north") == ["B01", "B02"]
    assert serials(world, "admin", "?site=west") == []
    # Outside the caller's scope, a customer answers like one that does not exist.
    a = world["api"].call("GET", "/api/v1/machines?customer=cafe-b", token=world["tokens"]["tech-a"])
    b = world["api"].call("GET", "/api/v1/machines?customer=no-such", token=world["tokens"]["tech-a"])
    assert a[0] == b[0] == 404 and a[1] == b[1]
    assert serials(world, "tech-a", "?customer=cafe-a") == A


def test_filter_by_status(world):
    assert serials(world, "admin", "?status=online") == ["A01"]
    assert serials(world, "admin", "?status=offline") == [s for s in A + B if s != "A01"]
    assert serials(world, "admin", "?status=revoked") == ["A05"]
    assert serials(world, "tech-b", "?status=online") == []
    assert serials(world, "admin", "?customer=cafe-a&site=north&status=offline") == ["A02", "A03"]


def test_bad_filters_are_refused(world):
    api, token = world["api"], world["tokens"]["admin"]
    for query in ("?status=sleeping", "?site=" + "x" * 300, "?site=a%22b", "?limit=0", "?limit=10001",
                  "?cursor=zz"):
        status, doc, _ = api.call("GET", "/api/v1/machines" + query, token=token)
        assert status == 400 and doc["error"]["code"] == "invalid", (query, status, doc)


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_by_serial_cover_the_list_once(world, limit):
    got, pages = all_pages(world, "admin", "?limit=%d" % limit)
    assert got == A + B
    assert pages == -(-len(A + B) // limit)
    got, pages = all_pages(world, "admin", "?site=north&limit=%d" % limit)
    assert got == ["A01", "A02", "A03", "B01", "B02"]
    got, _ = all_pages(world, "tech-a", "?status=offline&limit=%d" % limit)
    assert got == ["A02", "A03", "A04", "A05"]


def test_a_page_starts_after_its_cursor(world):
    doc = listing(world, "admin", "?limit=2")
    assert [m["serial"] for m in doc["machines"]] == ["A01", "A02"]
    assert bytes.fromhex(doc["next_cursor"]).decode() == "A02"
    # A cursor is a serial, whether or not it is in the list: the page starts after it.
    after = "A02x".encode().hex()
    assert serials(world, "admin", "?limit=3&cursor=" + after) == ["A03", "A04", "A05"]
    last = listing(world, "admin", "?limit=100&cursor=" + "B02".encode().hex())
    assert [m["serial"] for m in last["machines"]] == ["B03"] and "next_cursor" not in last


def test_list_rows_are_the_machines_own_status(world):
    """Each row of the list carries exactly the status fields of GET /machines/{serial}."""
    api, token = world["api"], world["tokens"]["admin"]
    rows = listing(world, "admin")["machines"]
    assert len(rows) == len(A + B)
    for row in rows:
        status, one, resp = api.call("GET", "/api/v1/machines/" + row["serial"], token=token)
        assert status == 200
        one.pop("latest", None)
        one.pop("health", None)
        assert row == one and list(row) == list(one), (row, one)
    by = {r["serial"]: r for r in rows}
    assert by["A01"]["online"] is True and by["A01"]["site"] == "north" and by["A01"]["customer"] == "cafe-a"
    assert by["A02"]["online"] is False and by["A02"]["software_version"] == "4.2.1"
    assert by["A02"]["last_disconnect_reason"] and "last_seen" in by["A02"]
    assert by["A05"]["revoked"] is True and "site" not in by["A05"] and "last_seen" not in by["A05"]
    assert by["B01"]["customer"] == "cafe-b"


def test_one_audit_record_per_request(world):
    f = world["fleet"]
    before = len(f.ccj("audit", "list", "--action", "machines.list"))
    _, pages = all_pages(world, "tech-a", "?limit=2")
    records = f.ccj("audit", "list", "--action", "machines.list")
    assert len(records) == before + pages
    assert [(r["actor"], r["machines"], r["outcome"]) for r in records[before:]] == \
        [("user:tech-a", ["*"], "ok")] * pages


# ---- search: model, software version, group, last seen, error state; sort; facets

def test_filter_by_model_and_version(world):
    assert serials(world, "admin", "?model=barista-pro") == A + B
    assert serials(world, "admin", "?model=office-one") == []
    # The version is sealed in the machine's info message: opened to filter.
    assert serials(world, "admin", "?version=4.2.1") == ["A02"]
    assert serials(world, "admin", "?version=4.2.2") == []
    assert serials(world, "tech-b", "?version=4.2.1") == []


def test_filter_by_last_seen_and_error_state(world):
    import time
    hour_ago = int(time.time() * 1000) - 3600_000
    assert serials(world, "admin", f"?last_seen_after={hour_ago}") == ["A01", "A02"]
    assert serials(world, "admin", f"?last_seen_before={hour_ago}") == ["A03", "A04", "A05"] + B
    # A02 left cleanly (the machine disconnected): no trouble the store knows of.
    assert serials(world, "admin", "?error=connection") == []
    assert serials(world, "admin", "?error=refused") == []
    assert serials(world, "admin", "?error=none") == A + B


def test_sort(world):
    assert serials(world, "admin", "?sort=-serial") == list(reversed(A + B))
    # No site sorts first; ties by serial.
    assert serials(world, "admin", "?sort=site") == ["A05", "B03", "A01", "A02", "A03", "B01", "B02", "A04"]
    assert serials(world, "admin", "?sort=-online,customer") == ["A01", "A02", "A03", "A04", "A05"] + B
    # A sorted list pages by offset: every machine once, in order.
    got, pages = all_pages(world, "admin", "?sort=-serial&limit=3")
    assert got == list(reversed(A + B)) and pages == 3


def test_facets_count_the_filtered_set_the_caller_sees(world):
    doc = listing(world, "admin", "?facets=status,model,version,site,customer&limit=2")
    assert [m["serial"] for m in doc["machines"]] == ["A01", "A02"]
    assert doc["facets"] == {
        "status": {"online": 1, "offline": 6, "revoked": 1},
        "model": {"barista-pro": 8},
        "version": {"4.2.1": 1, "": 7},
        "site": {"north": 5, "south": 1, "": 2},
        "customer": {"cafe-a": 5, "cafe-b": 3},
    }
    assert listing(world, "tech-b", "?facets=customer,site")["facets"] == \
        {"customer": {"cafe-b": 3}, "site": {"north": 2, "": 1}}
    assert listing(world, "admin", "?customer=cafe-a&site=north&facets=status")["facets"] == \
        {"status": {"online": 1, "offline": 2}}
    assert "facets" not in listing(world, "admin")


def test_filter_by_group(world):
    api, token = world["api"], world["tokens"]["admin"]
    status, top = api.call("POST", "/api/v1/groups", {"customer": "cafe-a", "name": "bar"}, token=token)[:2]
    assert status == 201, top
    status, sub = api.call("POST", "/api/v1/groups", {"customer": "cafe-a", "name": "bar-left", "parent": top["id"]},
                           token=token)[:2]
    assert status == 201, sub
    assert api.call("POST", f"/api/v1/groups/{top['id']}/machines", {"serial": "A03"}, token=token)[0] == 201
    assert api.call("POST", f"/api/v1/groups/{sub['id']}/machines", {"serial": "A04"}, token=token)[0] == 201
    assert serials(world, "admin", f"?group={top['id']}") == ["A03", "A04"]
    assert serials(world, "admin", f"?group={sub['id']}") == ["A04"]
    assert serials(world, "tech-a", f"?group={top['id']}&status=offline") == ["A03", "A04"]
    # Another customer's group is one that does not exist.
    a = api.call("GET", f"/api/v1/machines?group={top['id']}", token=world["tokens"]["tech-b"])[:2]
    b = api.call("GET", "/api/v1/machines?group=999999", token=world["tokens"]["tech-b"])[:2]
    assert a[0] == b[0] == 404 and a[1] == b[1]
    # A dynamic group: the machines its filter selects.
    status, dyn = api.call("POST", "/api/v1/groups", {"customer": "cafe-a", "name": "on-4.2.1",
                                                      "filter": {"version": "4.2.1"}}, token=token)[:2]
    assert status == 201, dyn
    assert serials(world, "admin", f"?group={dyn['id']}") == ["A02"]


def test_search_refuses_what_it_does_not_take(world):
    api, token = world["api"], world["tokens"]["admin"]
    for query in ("?sort=colour", "?sort=serial,", "?sort=a,b,c,d,e", "?facets=colour", "?facets=",
                  "?version=4.2.1!", "?model=a%22b", "?error=sometimes", "?last_seen_after=yesterday",
                  "?last_seen_before=-5", "?status=decommission"):
        status, doc, _ = api.call("GET", "/api/v1/machines" + query, token=token)
        assert status == 400 and doc["error"]["code"] == "invalid", (query, status, doc)


def test_machine_search_cli(world):
    """`machine search`: the same filters on the command line, audited as a read of status."""
    f = world["fleet"]
    rows = lambda *args: [r["serial"] for r in f.ccj("machine", "search", *args)]  # noqa: E731
    assert rows() == A + B
    assert rows("--customer", "cafe-a", "--site", "north", "--status", "offline") == ["A02", "A03"]
    assert rows("--version", "4.2.1") == ["A02"]
    assert rows("--model", "office-one") == []
    assert rows("--seen-after", "2000-01-01") == ["A01", "A02"]
    assert rows("--sort", "-serial", "--customer", "cafe-b") == list(reversed(B))
    assert rows("--customer", "cafe-a", "--group", "bar") == ["A03", "A04"]
    row = f.ccj("machine", "search", "--customer", "cafe-a", "--version", "4.2.1")[0]
    assert (row["status"], row["site"], row["software_version"]) == ("offline", "north", "4.2.1")
    assert f.cc("machine", "search", "--status", "sleeping", rc=2).returncode == 2
    assert f.cc("machine", "search", "--group", "bar", rc=2).returncode == 2
    rec = f.ccj("audit", "list", "--action", "machine.search")[-1]
    assert (rec["data_class"], rec["purpose"], rec["machines"]) == ("status", "support", ["*"])
