"""HACCP cleaning reports end to end (docs/QUALITY.md "HACCP cleaning reports"):
real machines publish cleaning events over MQTT/TLS (paho), one of them
skips a milk system cleaning; the site's report lists every cleaning, the
missed one, what was due, each row and the whole signed with the
installation's Ed25519 key. The verification commands of docs/QUALITY.md
run as written (real openssl) on the genuine report and on tampered copies.
Who reads a site's report follows roles, scope and consent."""
import base64
import datetime
import http.client
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
from test_downtime import Paho  # noqa: E402

DAY = 86400000
HOUR = 3600000
MIN = 60000
SOURCE = Path(os.environ.get("CC_SOURCE_DIR", Path(__file__).resolve().parents[2]))

# Two whole days (UTC) ending at today's start: no later event changes them.
D = (int(time.time() * 1000) // DAY - 2) * DAY
PERIOD = f"from={D}&to={D + 2 * DAY}"

#: What the machines did: (serial, ts, program, result, duration_s).
CLEANINGS = [
    ("H1", D + 6 * HOUR, "milk_system", "ok", 600),
    ("H1", D + 6 * HOUR + 30 * MIN, "rinse", "ok", 60),
    ("H1", D + 21 * HOUR, "brew_unit", "ok", 900),
    ("H1", D + DAY + 20 * HOUR, "milk_system", "aborted", 120),  # skipped: aborted is no cleaning
    ("H2", D + DAY + 7 * HOUR, "milk_system", "failed", 30),
    ("H2", D + DAY + 7 * HOUR + 30 * MIN, "milk_system", "ok", 610),
    ("B1", D + 5 * HOUR, "milk_system", "ok", 600),
]
USERS = (("mgr-a", "cafe-a", "customer_manager"), ("mgr-b", "cafe-b", "customer_manager"),
         ("tech-m", "manufacturer", "technician"), ("sales-m", "manufacturer", "sales"),
         ("audit-m", "manufacturer", "auditor"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("haccp"), machines=("H1", "H2", "H3"), customer="cafe-a")
    f.cc("site", "add", "--customer", "cafe-a", "--name", "bar-1", "--timezone", "Europe/Budapest")
    f.cc("machine", "move", "H1", "--site", "bar-1")
    f.cc("machine", "move", "H2", "--site", "bar-1")
    f.add_customer("cafe-b")
    f.add_machine("B1", customer="cafe-b")
    f.cc("site", "add", "--customer", "cafe-b", "--name", "bar-b")
    f.cc("machine", "move", "B1", "--site", "bar-b")
    for login, org, role in USERS:
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    api = checked(Api(port, f.data / "ca.crt"))
    tokens = {login: api.login(login, ccdaemon.password_of(login)) for login, _, _ in USERS}
    tokens["admin"] = api.login("admin", ccdaemon.PASSWORD)
    # The quality purpose: published; cafe-a consents, cafe-b does not.
    status, doc, _ = api.call("POST", "/api/v1/policy/versions", {}, token=tokens["admin"])
    assert status == 201, doc
    status, doc, _ = api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": doc["version"]},
                              token=tokens["mgr-a"])
    assert status == 201, doc
    seqs = {}
    for serial in ("H1", "H2", "B1"):
        m = Paho(d, f.machines[serial])
        m.connect()
        for s, ts, program, result, secs in CLEANINGS:
            if s == serial:
                seqs[(s, ts)] = len(seqs) + 1
                m.publish("event", {"seq": seqs[(s, ts)], "ts": ts, "type": "cleaning", "program": program,
                                    "result": result, "duration_s": secs})
        m.disconnect()
    w = {"fleet": f, "daemon": d, "api": api, "port": port, "tokens": tokens, "seqs": seqs}
    ccdaemon.poll_until(lambda: len(report(w)["records"]) == 6, "the cleanings read")
    yield w
    d.stop()


def fetch(w, who, query):
    """GET the report as raw bytes: (status, body, headers)."""
    c = http.client.HTTPSConnection("localhost", w["port"], context=w["api"].ctx, timeout=30)
    c.request("GET", "/api/v1/haccp/cleaning-report?" + query,
              headers={"Authorization": "Bearer " + w["tokens"][who]})
    resp = c.getresponse()
    body = resp.read()
    c.close()
    return resp.status, body, resp


def report(w, who="mgr-a", query="site=bar-1&" + PERIOD):
    status, doc, _ = w["api"].call("GET", "/api/v1/haccp/cleaning-report?" + query, token=w["tokens"][who])
    assert status == 200, doc
    return doc


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_every_cleaning_and_the_missed_one(world):
    doc = report(world)
    assert (doc["customer"], doc["site"], doc["timezone"]) == ("cafe-a", "bar-1", "Europe/Budapest")
    assert (doc["from"], doc["to"], doc["machines"]) == (D, D + 2 * DAY, ["H1", "H2"])  # H3 is at no site
    got = [(r["serial"], r["time_utc"], r["program"], r["result"], r["duration_s"], r["seq"]) for r in doc["records"]]
    want = [(s, iso(ts), p, res, secs, world["seqs"][(s, ts)]) for s, ts, p, res, secs in CLEANINGS if s != "B1"]
    assert got == want
    # The site's wall clock, with the offset the tz database gives for that moment.
    for r in doc["records"]:
        local = datetime.datetime.fromtimestamp(r["ts"] / 1000, ZoneInfo("Europe/Budapest")).isoformat()
        assert r["time_local"] == local, r
    # The skipped milk system cleaning of H1: overdue 26 h after the last one, to the period's end.
    assert [(m["serial"], m["program"], m["from"], m["to"]) for m in doc["missed"]] == \
        [("H1", "milk_system", D + 6 * HOUR + 26 * HOUR, D + 2 * DAY)]
    sched = {(s["serial"], s["program"]): s for s in doc["schedule"]}
    assert (sched["H1", "milk_system"]["done"], sched["H1", "milk_system"]["due"],
            sched["H1", "milk_system"]["missed"]) == (1, 2, 1)
    assert sched["H1", "milk_system"]["rule"] == "every 24 h + 2 h grace"
    assert sched["H1", "milk_system"]["last_ms"] == D + 6 * HOUR
    assert (sched["H2", "milk_system"]["done"], sched["H2", "milk_system"]["missed"]) == (1, 0)
    assert sched["H1", "brew_unit"]["done"] == 1 and ("H1", "rinse") not in sched  # rinse has no schedule
    # The CSV is the signed text: its head, one row per item.
    csv = doc["csv"]
    lines = csv.splitlines()
    assert lines[0] == "format,coffeecloud-haccp-cleaning-report/1" and lines[2] == "site,bar-1"
    assert f"from_utc,{iso(D)}" in lines and f"key_id,{doc['key_id']}" in lines and "cleanings_total,6" in lines and "missed_total,1" in lines
    rows = [x for x in lines if re.match(r"^(cleaning|missed|schedule),", x)]
    assert len(rows) == len(doc["records"]) + len(doc["missed"]) + len(doc["schedule"])
    assert all(x.count(",") == 14 for x in rows)
    aborted = next(x for x in rows if ",aborted," in x)
    assert aborted.startswith(f"cleaning,cafe-a,bar-1,H1,barista-pro,milk_system,aborted,120,{iso(D + DAY + 20 * HOUR)},")


def test_the_formats_carry_the_same_signed_bytes(world):
    w = world
    doc = report(w)
    status, csv, resp = fetch(w, "mgr-a", "site=bar-1&format=csv&" + PERIOD)
    assert status == 200 and resp.getheader("Content-Type").startswith("text/csv")
    assert csv.decode() == doc["csv"] and resp.getheader("X-Signature") == doc["signature"]
    assert resp.getheader("X-Signing-Key-Id") == doc["key_id"]
    assert resp.getheader("Content-Disposition").startswith('attachment; filename="haccp-bar-1-')
    status, sig, _ = fetch(w, "mgr-a", "site=bar-1&format=sig&" + PERIOD)
    assert status == 200 and sig.decode() == doc["signature"] + "\n"
    status, html, resp = fetch(w, "mgr-a", "site=bar-1&format=html&" + PERIOD)
    page = html.decode()
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    assert "@media print" in page and doc["signature"] in page and "aborted" in page
    # Its one inline style is allowed by hash, nothing else.
    csp = resp.getheader("Content-Security-Policy")
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "unsafe" not in csp
    # The published key verifies the JSON's own items (Python's cryptography, independent of the daemon).
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    c = http.client.HTTPSConnection("localhost", w["port"], context=w["api"].ctx, timeout=30)
    c.request("GET", "/api/v1/signing-key?format=pem")
    pem = c.getresponse().read()
    key = load_pem_public_key(pem)
    key.verify(base64.b64decode(doc["signature"]), doc["csv"].encode())
    for item in doc["records"] + doc["missed"] + doc["schedule"]:
        key.verify(base64.b64decode(item["signature"]), item["signed"].encode())
        assert item["signed"].endswith("\n") and item["signed"][:-1] + "," + item["signature"] in doc["csv"]


def doc_block(marker):
    """The sh block after <!-- haccp-verify:marker --> in docs/QUALITY.md, as written."""
    text = (SOURCE / "docs" / "QUALITY.md").read_text()
    m = re.search(r"<!-- haccp-verify:" + marker + r" -->\n```sh\n(.*?)```", text, re.S)
    assert m, marker
    return m.group(1)


def run_block(w, where, marker):
    env = dict(os.environ, CC=f"https://localhost:{w['port']}", CURL_CA_BUNDLE=str(w["fleet"].data / "ca.crt"))
    return subprocess.run(["bash", "-c", doc_block(marker)], cwd=where, env=env, capture_output=True, text=True,
                          timeout=120)


def verify_all(w, where):
    """The three blocks of the manual in order: (key, report, rows) results."""
    return [run_block(w, where, m) for m in ("key", "report", "rows")]


def test_the_documented_openssl_verification(world, tmp_path):
    w = world
    status, csv, _ = fetch(w, "mgr-a", "site=bar-1&format=csv&" + PERIOD)
    status2, sig, _ = fetch(w, "mgr-a", "site=bar-1&format=sig&" + PERIOD)
    assert status == status2 == 200

    def copy(name, text):
        d = tmp_path / name
        d.mkdir()
        (d / "report.csv").write_bytes(text)
        (d / "report.csv.sig").write_bytes(sig)
        return d

    genuine = verify_all(w, copy("genuine", csv))
    assert [p.returncode for p in genuine] == [0, 0, 0], [(p.stdout, p.stderr) for p in genuine]
    assert "key id matches" in genuine[0].stdout
    assert "Signature Verified Successfully" in genuine[1].stdout
    assert "every row verified" in genuine[2].stdout
    lines = csv.decode().splitlines(keepends=True)
    rows = [i for i, x in enumerate(lines) if x.startswith("cleaning,")]
    removed = lines[:rows[0]] + lines[rows[0] + 1:]
    added = lines[:rows[1]] + [lines[rows[1]]] + lines[rows[1]:]  # a genuine, signed row, twice
    i = next(i for i, x in enumerate(lines) if ",aborted," in x)
    edited = list(lines)
    edited[i] = lines[i].replace(",aborted,", ",ok,")
    assert edited != lines
    for name, text in (("removed", removed), ("added", added), ("edited", edited)):
        got = verify_all(w, copy(name, "".join(text).encode()))
        assert got[0].returncode == 0, (name, got[0].stderr)  # the key is the same
        assert got[1].returncode != 0 and "Signature Verification Failure" in got[1].stdout + got[1].stderr, \
            (name, got[1].stdout, got[1].stderr)
        if name == "edited":
            assert got[2].returncode != 0 and "NOT VERIFIED: cleaning,cafe-a,bar-1,H1" in got[2].stdout, got[2].stdout
        else:  # every row that is there is genuine
            assert got[2].returncode == 0, (name, got[2].stdout)


def test_who_reads_a_sites_report(world):
    w = world

    def status_of(who, query):
        return fetch(w, who, query)[0]

    # The customer manager reads its own site (no org needed); the service side names it too.
    assert status_of("mgr-a", "site=bar-1") == 200
    assert report(w, "tech-m", "org=cafe-a&site=bar-1&" + PERIOD)["csv"] == report(w)["csv"]
    assert report(w, "tech-m", "site=bar-1&" + PERIOD)["customer"] == "cafe-a"
    # Another customer's site is refused as if it did not exist.
    assert status_of("mgr-a", "org=cafe-b&site=bar-b") == 404
    assert status_of("mgr-a", "site=bar-b") == 404
    assert status_of("mgr-b", "org=cafe-a&site=bar-1") == 404
    assert status_of("mgr-b", "site=bar-1") == 404
    # cafe-b never consented to the quality purpose: not even its own manager.
    status, body, _ = fetch(w, "mgr-b", "site=bar-b")
    assert status == 403 and b"consent_required" in body
    # Sales sees neither the service class nor audit; an auditor (the inspector's role) reads the report.
    assert status_of("sales-m", "site=bar-1") == 403
    assert report(w, "audit-m", "site=bar-1&" + PERIOD)["customer"] == "cafe-a"
    assert status_of("mgr-a", "site=nope") == 404
    assert status_of("mgr-a", "") == 400
    assert status_of("mgr-a", "site=bar-1&format=pdf") == 400
    assert status_of("mgr-a", f"site=bar-1&from={D}&to={D + 93 * DAY}") == 400
    audit = w["fleet"].ccj("audit", "list", "--action", "quality.haccp_report")
    assert any(a["actor"] == "user:mgr-a" and a["outcome"] == "ok" for a in audit), audit


def test_site_staff_read_their_own_sites_cleaning_records(world):
    """The customer's site staff (issue 11): a grant of their own customer's site opens that
    site's report and machines for the grant's purpose, and nothing else."""
    w, f, api = world, world["fleet"], world["api"]
    f.cc("user", "add", "--org", "cafe-a", "--login", "staff-a", "--role", "site_staff",
         "--password-stdin", stdin=ccdaemon.password_of("staff-a") + "\n")
    w["tokens"]["staff-a"] = api.login("staff-a", ccdaemon.password_of("staff-a"))
    admin, until = w["tokens"]["admin"], int(time.time() * 1000) + DAY

    def grant(**what):
        return api.call("POST", "/api/v1/grants", dict({"login": "staff-a", "expires": until}, **what), token=admin)

    def status_of(query):
        return fetch(w, "staff-a", query)[0]

    # Before any grant: nothing, as if the site did not exist.
    assert status_of("site=bar-1&" + PERIOD) == 404
    assert api.call("GET", "/api/v1/machines/H1", token=w["tokens"]["staff-a"])[0] == 404
    # Site staff get a site of their own customer, never one machine, never another customer's site.
    status, doc, _ = grant(serial="H1", purpose="quality")
    assert status == 400 and "site staff" in doc["error"]["message"], doc
    status, doc, _ = grant(customer="cafe-b", site="bar-b", purpose="quality")
    assert status == 400, doc
    # A grant for another purpose (support: the machine pages) does not open the report, which serves quality.
    status, doc, _ = grant(customer="cafe-a", site="bar-1", purpose="support")
    assert status == 201, doc
    assert status_of("site=bar-1&" + PERIOD) == 404
    status, doc, _ = grant(customer="cafe-a", site="bar-1", purpose="quality")
    assert status == 201, doc
    quality = doc["id"]
    mine = report(w, "staff-a")
    assert mine["csv"] == report(w)["csv"] and len(mine["records"]) == 6
    # Naming the customer is a customer's scope, which site staff do not have.
    assert status_of("org=cafe-a&site=bar-1") == 404
    assert status_of("site=bar-b") == 404
    # The site's machines (support), with the status class but not the technical one;
    # a machine of the same customer elsewhere stays out of sight.
    status, doc, _ = api.call("GET", "/api/v1/machines/H1", token=w["tokens"]["staff-a"])
    assert status == 200 and doc["serial"] == "H1", doc
    assert api.call("GET", "/api/v1/machines/H3", token=w["tokens"]["staff-a"])[0] == 404
    status, doc, _ = api.call("GET", "/api/v1/quality/rulesets", token=w["tokens"]["staff-a"])
    assert status == 403 and doc["error"]["code"] == "forbidden", doc
    # The customer may always take it back: revoked, the report is gone again.
    assert api.call("DELETE", f"/api/v1/grants/{quality}", token=admin)[0] == 200
    assert status_of("site=bar-1&" + PERIOD) == 404


def test_the_cli_twin(world, tmp_path):
    w = world
    out = tmp_path / "report.csv"
    got = w["fleet"].ccj("report", "haccp", "--site", "bar-1", "--from", str(D), "--to", str(D + 2 * DAY),
                         "--out", out)
    assert (got["records"], got["missed"], got["sig"]) == (6, 1, str(out) + ".sig")
    # The CLI signs with the daemon's key: the same bytes, the same signature.
    assert out.read_text() == report(w)["csv"]
    assert (tmp_path / "report.csv.sig").read_text() == report(w)["signature"] + "\n"
    # To stdout, the signature alone: the same, since the report is the same bytes each time.
    sig = w["fleet"].cc("report", "haccp", "--site", "bar-1", "--from", str(D), "--to", str(D + 2 * DAY),
                        "--format", "sig").stdout
    assert sig == report(w)["signature"] + "\n"
    page = tmp_path / "report.html"
    w["fleet"].cc("report", "haccp", "--site", "bar-1", "--customer", "cafe-a", "--from", iso(D), "--to",
                  iso(D + 2 * DAY), "--format", "html", "--out", page)
    assert "HACCP cleaning report" in page.read_text()
    p = w["fleet"].cc("report", "haccp", "--site", "nope", rc=3)
    assert "no site nope" in p.stderr
    audit = w["fleet"].ccj("audit", "list", "--action", "report")
    assert [a["outcome"] for a in audit if "haccp" in a["action"]][-4:] == ["ok", "ok", "ok", "error"], audit
