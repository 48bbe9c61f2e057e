"""The HTTPS API for people: sign-in, scope, roles, hostile requests.

A real daemon serves HTTPS with the fleet's server certificate; the client
is Python's own TLS and HTTP stack verifying it against the fleet CA.
"""
import http.client
import json
import re
import socket
import ssl
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


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    f = ccdaemon.Fleet.create(root, machines=("A1",), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    f.add_machine("B1", customer="cafe-b")
    for login, org, role in (("tech-a", "cafe-a", "technician"), ("sales-a", "cafe-a", "sales"),
                             ("audit-m", "manufacturer", "auditor"), ("tech-b", "dist-b", "technician")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    m = f.machines["A1"]
    p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                        "--cert", str(m.cert), "--key", str(m.key), "-i", "A1", "-V", "mqttv5", "-q", "1",
                        "-t", "cc/v1/A1/telemetry", "-m",
                        '{"seq":1,"ts":%d,"m":{"boiler_temp_c":93.5,"pump_pressure_bar":9.1}}' % int(time.time() * 1000)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    yield {"fleet": f, "daemon": d, "api": checked(Api(port, f.data / "ca.crt"))}
    d.stop()


def test_public_policy_and_openapi(world):
    api = world["api"]
    status, doc, resp = api.call("GET", "/policy")
    assert status == 200 and doc["version"] == 1 and "support" in doc["purposes"]
    assert resp.getheader("Strict-Transport-Security", "").startswith("max-age=")
    status, doc, _ = api.call("GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    # Every served route is documented, with the purpose and data class it declares.
    for path in ("/api/v1/machines", "/api/v1/machines/{serial}", "/api/v1/machines/{serial}/telemetry",
                 "/api/v1/auth/login", "/api/v1/me", "/policy"):
        assert path in doc["paths"], path
    assert doc["paths"]["/api/v1/machines/{serial}/telemetry"]["get"]["x-data-class"] == "technical,service,usage"
    assert doc["paths"]["/api/v1/machines/{serial}/telemetry"]["get"]["x-access"] == "data-class"
    assert doc["paths"]["/api/v1/policy/versions"]["post"]["x-access"] == "platform-admins"
    # The body a route takes is declared, and nothing else is accepted.
    body = doc["paths"]["/api/v1/grants"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and "owner" not in body["properties"]


def test_sign_in_and_out(world):
    api = world["api"]
    token = api.login("admin", ADMIN_PASSWORD)
    assert len(token) == 64
    status, me, _ = api.call("GET", "/api/v1/me", token=token)
    assert status == 200 and me["login"] == "admin" and me["role"] == "admin"
    status, doc, _ = api.call("POST", "/api/v1/auth/logout", token=token)
    assert status == 200
    status, doc, _ = api.call("GET", "/api/v1/me", token=token)
    assert status == 401 and doc["error"]["code"] == "unauthorized"


def test_wrong_password_and_forged_tokens(world):
    api = world["api"]
    status, doc, _ = api.call("POST", "/api/v1/auth/login", {"login": "tech-a", "password": "not it at all"})
    assert status == 401 and set(doc["error"]) == {"code", "message"}
    status, _, _ = api.call("POST", "/api/v1/auth/login", {"login": "nobody", "password": "whatever it is"})
    assert status == 401
    for token in (None, "0" * 64, "zz", "a" * 63):
        status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
        assert status == 401, token


def test_lockout_after_repeated_failures(world):
    api, f = world["api"], world["fleet"]
    f.cc("user", "add", "--org", "cafe-a", "--login", "victim", "--role", "technician", "--password-stdin",
         stdin="the right password\n")
    codes = [api.call("POST", "/api/v1/auth/login", {"login": "victim", "password": "wrong password %d" % i})[0]
             for i in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429, codes
    # Even the right password is refused while locked.
    status, _, _ = api.call("POST", "/api/v1/auth/login", {"login": "victim", "password": "the right password"})
    assert status == 429


def test_scope_and_data_classes(world):
    api = world["api"]
    tokens = {who: api.login(who, ccdaemon.password_of(who)) for who in ("tech-a", "sales-a", "audit-m", "tech-b")}
    tokens["admin"] = api.login("admin", ADMIN_PASSWORD)

    # Who sees which machines.
    def serials(token):
        status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
        assert status == 200, doc
        return sorted(m["serial"] for m in doc["machines"])
    assert serials(tokens["admin"]) == ["A1", "B1"]
    assert serials(tokens["tech-a"]) == ["A1"]
    assert serials(tokens["sales-a"]) == ["A1"]
    assert serials(tokens["tech-b"]) == ["B1"]

    # Telemetry serves each role its classes: technical metrics to technicians
    # and admins, none of them to sales (whose class here is usage).
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/telemetry", token=tokens["tech-a"])
    assert status == 200 and doc["telemetry"][0]["m"]["boiler_temp_c"] == 93.5
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/telemetry?metric=pump_pressure_bar", token=tokens["admin"])
    assert status == 200 and doc["telemetry"][0]["m"] == {"pump_pressure_bar": 9.1}
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/telemetry", token=tokens["sales-a"])
    assert status == 200 and all("boiler_temp_c" not in t["m"] and "pump_pressure_bar" not in t["m"]
                                 for t in doc["telemetry"]), doc
    # An auditor sees audit records, not machines.
    status, _, _ = api.call("GET", "/api/v1/machines", token=tokens["audit-m"])
    assert status == 403

    # Another organisation's serial answers exactly like one that does not exist.
    a = api.call("GET", "/api/v1/machines/A1", token=tokens["tech-b"])
    b = api.call("GET", "/api/v1/machines/NO-SUCH-1", token=tokens["tech-b"])
    assert a[0] == b[0] == 404 and a[1] == b[1]
    a = api.call("GET", "/api/v1/machines/A1/telemetry", token=tokens["tech-b"])
    assert a[0] == 404


def test_hostile_requests(world):
    api = world["api"]
    token = api.login("admin", ADMIN_PASSWORD)
    for path in ("/api/v1/../v1/machines", "/api/v1/machines/%2e%2e/x", "/api/v1//machines", "/nope",
                 "/api/v1/machines/A1/../B1"):
        status, doc, _ = api.call("GET", path, token=token)
        assert status == 404 and doc["error"]["code"] == "not_found", path
    status, doc, _ = api.call("DELETE", "/api/v1/me", token=token)
    assert status == 405
    status, doc, _ = api.call("POST", "/api/v1/auth/login", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and doc["error"]["code"] == "malformed_json"
    # 10 MB: a 413, or the connection cut while the body is still arriving.
    try:
        status, _, _ = api.call("POST", "/api/v1/auth/login", raw=b"x" * (10 * 1024 * 1024),
                                headers={"Content-Type": "application/json"})
        assert status == 413
    except (ssl.SSLError, ConnectionError):
        pass
    try:
        status, _, _ = api.call("GET", "/api/v1/me", token=token, headers={"X-Big": "y" * (100 * 1024)})
        assert status in (400, 413, 431)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException):
        pass
    # The daemon is still there and serving.
    assert api.call("GET", "/api/v1/me", token=token)[0] == 200


def test_every_read_of_machine_data_is_audited(world):
    api, f = world["api"], world["fleet"]
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    sales = api.login("sales-a", ccdaemon.password_of("sales-a"))
    auditor = api.login("audit-m", ccdaemon.password_of("audit-m"))
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=tech)[0] == 200
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=sales)[0] == 200
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=auditor)[0] == 403
    records = f.ccj("audit", "list", "--action", "telemetry.get", "--serial", "A1")
    # Each record names the classes that caller was served.
    mine = [r for r in records if r["actor"] == "user:tech-a"]
    assert mine, records
    assert mine[-1]["data_class"] == "technical,service" and mine[-1]["purpose"] == "support"
    assert mine[-1]["outcome"] == "ok" and mine[-1]["source"] == "127.0.0.1"
    assert [r for r in records if r["actor"] == "user:sales-a"][-1]["data_class"] == "usage"
    denied = [r for r in f.ccj("audit", "list") if r["actor"] == "user:audit-m" and r["outcome"] == "denied"]
    assert denied, "the refused read of audit-m is not in the audit log"
    verify = f.cc("audit", "verify")
    assert "intact" in verify.stdout


def test_audit_api_and_access_report(world):
    api, f = world["api"], world["fleet"]
    f.cc("user", "add", "--org", "cafe-a", "--login", "boss-a", "--role", "customer_manager",
         "--password-stdin", stdin=ccdaemon.password_of("boss-a") + "\n")
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=tech)[0] == 200

    # The auditor reads the log; a technician may not.
    auditor = api.login("audit-m", ccdaemon.password_of("audit-m"))
    status, doc, _ = api.call("GET", "/api/v1/audit?action=telemetry.get&limit=5", token=auditor)
    assert status == 200 and doc["records"], doc
    assert all(r["action"] == "telemetry.get" for r in doc["records"])
    assert doc["records"][0]["actor"] == "user:tech-a"  # newest first
    assert api.call("GET", "/api/v1/audit", token=tech)[0] == 403

    # The customer's manager sees who read its machines' data, not admin chores.
    boss = api.login("boss-a", ccdaemon.password_of("boss-a"))
    status, doc, _ = api.call("GET", "/api/v1/customers/cafe-a/access-report", token=boss)
    assert status == 200
    reads = [r for r in doc["records"] if r["action"] == "telemetry.get"]
    assert reads and reads[0]["actor"] == "user:tech-a" and reads[0]["machines"] == "A1"
    assert all(r["data_class"] != "admin" for r in doc["records"])
    # Another customer's report does not exist for it, and a technician may not read reports.
    assert api.call("GET", "/api/v1/customers/cafe-b/access-report", token=boss)[0] == 404
    assert api.call("GET", "/api/v1/customers/cafe-a/access-report", token=tech)[0] == 403


def test_grants_give_a_subcontractor_named_machines_until_expiry(world):
    api, f = world["api"], world["fleet"]
    f.cc("user", "add", "--org", "dist-b", "--login", "sub-1", "--role", "subcontractor",
         "--password-stdin", stdin=ccdaemon.password_of("sub-1") + "\n")
    f.cc("user", "add", "--org", "dist-b", "--login", "svc-b", "--role", "service_manager",
         "--password-stdin", stdin=ccdaemon.password_of("svc-b") + "\n")
    admin = api.login("admin", ADMIN_PASSWORD)
    sub = api.login("sub-1", ccdaemon.password_of("sub-1"))
    svc_b = api.login("svc-b", ccdaemon.password_of("svc-b"))
    tech_b = api.login("tech-b", ccdaemon.password_of("tech-b"))
    in_an_hour = int(time.time() * 1000) + 3600 * 1000

    # No grant: a subcontractor sees nothing, not even its own organisation's machines.
    status, doc, _ = api.call("GET", "/api/v1/machines", token=sub)
    assert status == 200 and doc["machines"] == []
    assert api.call("GET", "/api/v1/machines/B1", token=sub)[0] == 404

    # Only admins and service managers grant, only within their organisation, only to subcontractors.
    assert api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "support",
                                               "expires": in_an_hour}, token=tech_b)[0] == 403
    assert api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "support",
                                               "expires": in_an_hour}, token=svc_b)[0] == 404
    assert api.call("POST", "/api/v1/grants", {"login": "tech-b", "serial": "A1", "purpose": "support",
                                               "expires": in_an_hour}, token=admin)[0] == 400
    assert api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "marketing",
                                               "expires": in_an_hour}, token=admin)[0] == 400
    assert api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "support",
                                               "expires": in_an_hour, "role": "admin"}, token=admin)[0] == 400

    status, doc, _ = api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "support",
                                                        "expires": in_an_hour}, token=admin)
    assert status == 201, doc
    grant = doc["id"]
    status, doc, _ = api.call("GET", "/api/v1/machines", token=sub)
    assert [m["serial"] for m in doc["machines"]] == ["A1"]
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=sub)[0] == 200
    assert api.call("GET", "/api/v1/machines/B1", token=sub)[0] == 404  # not granted, though in its org

    # A revoked grant gives nothing.
    assert api.call("DELETE", "/api/v1/grants/%d" % grant, token=admin)[0] == 200
    assert api.call("DELETE", "/api/v1/grants/%d" % grant, token=admin)[0] == 409
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=sub)[0] == 404

    # An expired grant gives nothing: one that runs out in a moment.
    soon = int(time.time() * 1000) + 1500
    status, doc, _ = api.call("POST", "/api/v1/grants", {"login": "sub-1", "serial": "A1", "purpose": "support",
                                                        "expires": soon}, token=admin)
    assert status == 201
    assert api.call("GET", "/api/v1/machines/A1", token=sub)[0] == 200
    ccdaemon.poll_until(lambda: api.call("GET", "/api/v1/machines/A1", token=sub)[0] == 404,
                        "the grant to expire")
    status, doc, _ = api.call("GET", "/api/v1/grants", token=admin)
    assert status == 200 and any(g["id"] == grant and not g["in_force"] for g in doc["grants"])


def test_cli_grants(world):
    api, f = world["api"], world["fleet"]
    f.cc("user", "add", "--org", "cafe-a", "--login", "sub-2", "--role", "subcontractor",
         "--password-stdin", stdin=ccdaemon.password_of("sub-2") + "\n")
    sub = api.login("sub-2", ccdaemon.password_of("sub-2"))
    assert api.call("GET", "/api/v1/machines/B1", token=sub)[0] == 404
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    doc = f.ccj("grant", "add", "--login", "sub-2", "--serial", "B1", "--purpose", "support", "--expires", expires)
    assert api.call("GET", "/api/v1/machines/B1", token=sub)[0] == 200
    assert any(g["id"] == doc["id"] and not g["revoked"] for g in f.ccj("grant", "list"))
    f.cc("grant", "revoke", str(doc["id"]))
    assert api.call("GET", "/api/v1/machines/B1", token=sub)[0] == 404
    p = f.cc("grant", "add", "--login", "tech-a", "--serial", "B1", "--purpose", "quality", "--expires", expires, rc=2)
    assert "subcontractor" in p.stderr


def test_admins_manage_orgs_and_users(world):
    api, f = world["api"], world["fleet"]
    admin = api.login("admin", ADMIN_PASSWORD)
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    status, doc, _ = api.call("POST", "/api/v1/orgs", {"name": "cafe-c", "kind": "customer", "parent": "dist-b"},
                              token=admin)
    assert status == 201 and doc["parent"] == "dist-b"
    assert api.call("POST", "/api/v1/orgs", {"name": "cafe-c", "kind": "customer", "parent": "dist-b"},
                    token=admin)[0] == 409
    assert api.call("POST", "/api/v1/orgs", {"name": "x1", "kind": "manufacturer", "parent": "dist-b"},
                    token=admin)[0] == 400
    assert api.call("POST", "/api/v1/orgs", {"name": "x2", "kind": "customer", "parent": "dist-b"},
                    token=tech)[0] == 403
    status, doc, _ = api.call("GET", "/api/v1/orgs", token=admin)
    assert "cafe-c" in [o["name"] for o in doc["orgs"]]

    body = {"login": "new-tech", "role": "technician", "org": "cafe-c", "password": "a long new password",
            "email": "new-tech@example.org"}
    assert api.call("POST", "/api/v1/users", body, token=admin)[0] == 201
    assert api.call("POST", "/api/v1/users", body, token=admin)[0] == 409
    assert api.call("POST", "/api/v1/users", dict(body, login="x3", owner="me"), token=admin)[0] == 400
    assert api.call("POST", "/api/v1/users", dict(body, login="x4", role="emperor"), token=admin)[0] == 400
    assert api.call("POST", "/api/v1/users", dict(body, login="x5"), token=tech)[0] == 403
    assert api.login("new-tech", "a long new password")
    status, doc, _ = api.call("GET", "/api/v1/users", token=admin)
    assert {"login": "new-tech", "role": "technician", "org": "cafe-c", "display_name": "",
            "email": "new-tech@example.org", "active": True} in doc["users"]
    # The e-mail address is stored sealed: not in any file of the data directory.
    for path in f.data.iterdir():
        if path.is_file():
            assert b"new-tech@example.org" not in path.read_bytes(), path


def test_slow_clients_are_cut_off(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("S1",))
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}", "https_timeout_s": "2"}) as d:
        ctx = ssl.create_default_context(cafile=str(f.data / "ca.crt"))
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")  # and then nothing
        started = time.monotonic()
        try:
            data = tls.recv(4096)
            while data and b"\r\n\r\n" not in data:
                data += tls.recv(4096)
        except (ConnectionError, ssl.SSLError):
            data = b""
        waited = time.monotonic() - started
        tls.close()
        # Cut off after the configured timeout (an empty read or a 408), well before the client's own 30 s.
        assert waited < 20, waited
        assert data == b"" or b" 408 " in data.split(b"\r\n")[0] or b" 400 " in data.split(b"\r\n")[0], data[:80]
        assert d.alive()


def test_a_new_purpose_needs_the_customers_consent(world):
    api, f, d = world["api"], world["fleet"], world["daemon"]
    m = f.machines["A1"]
    now = int(time.time() * 1000)
    for seq, temp, secs in ((101, 93.0, 25.0), (102, 88.0, 25.0)):
        p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                            "--cert", str(m.cert), "--key", str(m.key), "-i", "A1", "-V", "mqttv5", "-q", "1",
                            "-t", "cc/v1/A1/event", "-m",
                            json.dumps({"seq": seq, "ts": now + seq, "type": "brew", "product": "espresso",
                                        "volume_ml": 30, "brew_time_s": secs, "temp_c": temp})],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    f.cc("user", "add", "--org", "cafe-a", "--login", "mgr-a", "--role", "customer_manager",
         "--password-stdin", stdin=ccdaemon.password_of("mgr-a") + "\n")
    admin = api.login("admin", ADMIN_PASSWORD)
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    mgr = api.login("mgr-a", ccdaemon.password_of("mgr-a"))

    status, policy, _ = api.call("GET", "/policy")
    assert status == 200 and policy["version"] == 1 and "quality" not in policy["purposes"]
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/quality", token=tech)
    assert status == 403 and doc["error"]["code"] == "consent_required"

    # The daemon serves the quality route, so its draft names the purpose; publishing it makes version 2.
    status, draft, _ = api.call("GET", "/api/v1/policy/draft", token=admin)
    assert status == 200 and "quality" in draft["purposes"], draft
    status, doc, _ = api.call("POST", "/api/v1/policy/versions", {"last_updated": "2026-11-28"}, token=admin)
    assert status == 201 and doc["version"] == 2
    assert api.call("POST", "/api/v1/policy/versions", {"last_updated": "2026-11-28"}, token=tech)[0] == 403
    status, policy, _ = api.call("GET", "/policy")
    assert policy["version"] == 2 and "quality" in policy["purposes"] and policy["last_updated"] == "2026-11-28"

    # Published, but cafe-a has not consented: its data stays out of the new purpose...
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/quality", token=tech)
    assert status == 403 and doc["error"]["code"] == "consent_required"
    # ...while the purposes it agreed to go on.
    assert api.call("GET", "/api/v1/machines/A1/telemetry", token=tech)[0] == 200

    # Only the customer's own managers record its consent.
    assert api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": 2}, token=tech)[0] == 403
    assert api.call("POST", "/api/v1/consents", {"customer": "cafe-b", "version": 2}, token=mgr)[0] == 404
    assert api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": 9}, token=mgr)[0] == 404
    assert api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": 2}, token=mgr)[0] == 201

    # A derived figure is cut to the caller's classes like raw data: the share
    # in standard is technical, how many brews there were is usage.
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/quality", token=tech)
    assert status == 200, doc
    assert doc["compliance_pct"] == 50.0 and "brews" not in doc and "in_standard" not in doc, doc
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/quality", token=mgr)
    assert status == 200 and doc["brews"] == 2 and doc["in_standard"] == 1 and "compliance_pct" not in doc, doc
    status, doc, _ = api.call("GET", "/api/v1/machines/A1/quality", token=admin)
    assert doc["brews"] == 2 and doc["in_standard"] == 1 and doc["compliance_pct"] == 50.0
    # cafe-b never consented: its machine stays out of the quality purpose for its own technician too.
    tech_b = api.login("tech-b", ccdaemon.password_of("tech-b"))
    status, doc, _ = api.call("GET", "/api/v1/machines/B1/quality", token=tech_b)
    assert status == 403 and doc["error"]["code"] == "consent_required"
    assert f.ccj("audit", "list", "--action", "consent.record")[-1]["actor"] == "user:mgr-a"


def test_cli_policy_and_consent(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("P1",), customer="cafe-p")
    # Without a daemon there is no draft: nothing typed by hand becomes a policy.
    f.cc("policy", "publish", rc=3)
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{ccdaemon.free_port()}"})
    d.start()
    d.stop()
    assert "quality" in f.ccj("policy", "draft")["facts"]["purposes"]
    doc = f.ccj("policy", "publish", "--last-updated", "2026-11-28")
    assert doc["version"] == 2
    shown = f.ccj("policy", "show")
    assert shown["version"] == 2 and "quality" in shown["facts"]["purposes"] and shown["last_updated"] == "2026-11-28"
    assert f.ccj("policy", "show", "--lang", "hu")["title"] == "Adatkezelési tájékoztató"
    f.cc("policy", "draft", rc=3)
    f.cc("user", "add", "--org", "cafe-p", "--login", "mgr-p", "--role", "customer_manager",
         "--password-stdin", stdin=ccdaemon.password_of("mgr-p") + "\n")
    f.cc("consent", "record", "--customer", "cafe-p", "--version", "2", "--by", "Jane Doe", rc=2)
    f.cc("consent", "record", "--customer", "cafe-p", "--version", "3", "--by", "mgr-p", rc=3)
    # The CLI follows the API's rule: the customer's own managers consent, not the manufacturer's admin.
    p = f.cc("consent", "record", "--customer", "cafe-p", "--version", "2", "--by", "admin", rc=5)
    assert "own customer managers" in p.stderr
    f.cc("consent", "record", "--customer", "cafe-p", "--version", "2", "--by", "contract-7", rc=3)
    f.cc("consent", "record", "--customer", "cafe-p", "--version", "2", "--by", "mgr-p", "--lang", "de", rc=3)
    assert f.ccj("consent", "record", "--customer", "cafe-p", "--version", "2", "--by", "mgr-p",
                 "--lang", "hu")["version"] == 2


def test_export_of_a_customers_data(world):
    api, f = world["api"], world["fleet"]
    f.cc("user", "add", "--org", "cafe-a", "--login", "mgr-x", "--role", "customer_manager",
         "--password-stdin", stdin=ccdaemon.password_of("mgr-x") + "\n")
    mgr = api.login("mgr-x", ccdaemon.password_of("mgr-x"))
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    status, doc, resp = api.call("GET", "/api/v1/customers/cafe-a/export?format=json", token=mgr)
    assert status == 200 and doc["customer"] == "cafe-a", doc
    assert resp.getheader("Content-Disposition") == 'attachment; filename="cafe-a.json"'
    a1 = [m for m in doc["machines"] if m["serial"] == "A1"][0]
    assert a1["telemetry"][0]["body"]["m"]["boiler_temp_c"] == 93.5
    # The CLI exports the same document (but for the export time).
    cli = json.loads(f.cc("customer", "export", "cafe-a").stdout)
    assert cli["machines"] == doc["machines"]

    c = http.client.HTTPSConnection("localhost", api.port, context=api.ctx, timeout=30)
    c.request("GET", "/api/v1/customers/cafe-a/export?format=csv", headers={"Authorization": "Bearer " + mgr})
    resp = c.getresponse()
    body = resp.read().decode()
    c.close()
    lines = body.splitlines()
    assert resp.status == 200 and resp.getheader("Content-Disposition") == 'attachment; filename="cafe-a-telemetry.csv"'
    header = lines[0].split(",")
    assert header[:4] == ["serial", "seq", "time", "boiler_temp_c"] and header[-1] == "other", header
    a1 = [dict(zip(header, l.split(","))) for l in lines[1:] if l.startswith("A1,1,")]
    assert a1 and a1[0]["boiler_temp_c"] == "93.5" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                                                                    a1[0]["time"]), lines[:3]

    assert api.call("GET", "/api/v1/customers/cafe-a/export", token=tech)[0] == 403
    assert api.call("GET", "/api/v1/customers/cafe-b/export", token=mgr)[0] == 404
    assert api.call("GET", "/api/v1/customers/cafe-a/export?format=xml", token=mgr)[0] == 400
    exports = f.ccj("audit", "list", "--action", "customer.export")
    assert any(r["actor"] == "user:mgr-x" and r["outcome"] == "ok" for r in exports)
    assert any(r["actor"] == "user:tech-a" and r["outcome"] == "denied" for r in exports)


def test_erasure_with_a_signed_receipt(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("E1",), customer="cafe-e")
    f.add_customer("cafe-f")
    f.add_machine("F1", customer="cafe-f")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}):
        api = Api(port, f.data / "ca.crt")
        admin = api.login("admin", ADMIN_PASSWORD)
        status, doc, _ = api.call("DELETE", "/api/v1/customers/cafe-e", token=admin)
        assert status == 200, doc
        receipt = json.loads(doc["receipt"])
        assert receipt["customer"] == "cafe-e" and receipt["data_key_destroyed"] is True
        assert receipt["machines"] == 1 and receipt["deleted_by"] == "admin"
        assert api.call("DELETE", "/api/v1/customers/cafe-e", token=admin)[0] == 404
        status, doc2, _ = api.call("GET", "/api/v1/machines", token=admin)
        assert [m["serial"] for m in doc2["machines"]] == ["F1"]
    # Anyone can check the receipt with the installation's server certificate.
    (tmp_path / "receipt.json").write_text(doc["receipt"])
    (tmp_path / "receipt.sig").write_bytes(__import__("base64").b64decode(doc["signature"]))
    pub = subprocess.run(["openssl", "x509", "-in", str(f.data / "server.crt"), "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    (tmp_path / "server.pub").write_bytes(pub)
    ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "server.pub"), "-signature",
                         str(tmp_path / "receipt.sig"), str(tmp_path / "receipt.json")], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
    (tmp_path / "receipt.json").write_text(doc["receipt"].replace('"machines":1', '"machines":0'))
    bad = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "server.pub"), "-signature",
                          str(tmp_path / "receipt.sig"), str(tmp_path / "receipt.json")], capture_output=True, text=True)
    assert bad.returncode != 0
