"""Powers stay with the right people (issue 8, section 2).

Each test here failed on the API before the checks moved into the
dispatcher: a customer's admin published the platform's privacy policy, a
technician read brew counts through the quality figures, the roles whose
classes include usage could not reach usage data at all, and a partner
system's token could hand people access to machines.
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
from oas import checked  # noqa: E402

ADMIN_PASSWORD = ccdaemon.PASSWORD
PEOPLE = (  # login, organisation, role
    ("admin-dist", "dist-a", "admin"),
    ("admin-cafe", "cafe-a", "admin"),
    ("svc-a", "dist-a", "service_manager"),
    ("tech-a", "dist-a", "technician"),
    ("sales-a", "dist-a", "sales"),
    ("mgr-a", "cafe-a", "customer_manager"),
    ("sub-a", "dist-a", "subcontractor"),
)


def password_of(login):
    return ccdaemon.password_of(login)


publish = ccdaemon.publish


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("powers")
    f = ccdaemon.Fleet.create(root, machines=(), customer="cafe-z")
    f.cc("org", "add", "--name", "dist-a", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-a", parent="dist-a")
    m = f.add_machine("A1", customer="cafe-a")
    for login, org, role in PEOPLE:
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    now = int(time.time() * 1000)
    publish(d, m, "telemetry", [{"seq": 1, "ts": now, "m": {"boiler_temp_c": 93.0, "cup_counter": 1200,
                                                            "filter_used_pct": 40}}])
    publish(d, m, "event", [{"seq": 2, "ts": now + 1, "type": "brew", "product": "espresso", "volume_ml": 30,
                             "brew_time_s": 25.0, "temp_c": 93.0},
                            {"seq": 3, "ts": now + 2, "type": "error", "code": "E042", "severity": "critical"}])
    api = checked(Api(port, f.data / "ca.crt"))
    tokens = {login: api.login(login, password_of(login)) for login, _, _ in PEOPLE}
    tokens["admin"] = api.login("admin", ADMIN_PASSWORD)
    yield {"fleet": f, "daemon": d, "api": api, "t": tokens}
    d.stop()


def test_only_the_platforms_admins_publish_the_policy(world):
    api, t = world["api"], world["t"]
    before = api.call("GET", "/policy")[1]
    version = {"last_updated": "2026-12-01"}
    for who in ("admin-cafe", "admin-dist"):
        status, doc, _ = api.call("POST", "/api/v1/policy/versions", version, token=t[who])
        assert status == 403 and doc["error"]["code"] == "forbidden", (who, status, doc)
    assert api.call("GET", "/policy")[1] == before
    # The refusals are on the record.
    denied = [r for r in world["fleet"].ccj("audit", "list")
              if r["outcome"] == "denied" and r["action"] == "/api/v1/policy/versions"]
    assert {r["actor"] for r in denied} >= {"user:admin-cafe", "user:admin-dist"}



def test_each_role_is_served_its_own_classes(world):
    api, t = world["api"], world["t"]

    def metrics(who):
        status, doc, _ = api.call("GET", "/api/v1/machines/A1/telemetry", token=t[who])
        assert status == 200, (who, doc)
        return set().union(*(set(x["m"]) for x in doc["telemetry"]))

    def event_types(who):
        status, doc, _ = api.call("GET", "/api/v1/machines/A1/events", token=t[who])
        assert status == 200, (who, doc)
        return {e["type"] for e in doc["events"]}

    assert metrics("tech-a") == {"boiler_temp_c", "filter_used_pct"}      # technical, service
    assert metrics("sales-a") == {"cup_counter"}                          # usage
    assert metrics("mgr-a") == {"cup_counter", "filter_used_pct"}         # service, usage
    assert event_types("tech-a") == {"error"}
    assert event_types("sales-a") == {"brew"}
    assert event_types("mgr-a") == {"brew"}


def test_derived_figures_are_cut_like_raw_data(world):
    api, t = world["api"], world["t"]
    # Version 1 does not name "quality": the manufacturer's admin publishes the
    # draft the daemon made (its quality route adds the purpose), and cafe-a consents.
    status, doc, _ = api.call("POST", "/api/v1/policy/versions", {"last_updated": "2026-12-02"}, token=t["admin"])
    assert status == 201, doc
    status, doc, _ = api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": doc["version"]},
                              token=t["mgr-a"])
    assert status == 201, doc
    status, tech, _ = api.call("GET", "/api/v1/machines/A1/quality", token=t["tech-a"])
    assert status == 200 and tech["compliance_pct"] == 100.0, tech
    assert "brews" not in tech and "in_standard" not in tech
    status, sales, _ = api.call("GET", "/api/v1/machines/A1/quality", token=t["sales-a"])
    assert status == 200 and sales["brews"] == 1 and "compliance_pct" not in sales and "standard" not in sales


def test_consent_is_the_customers_own_act(world):
    api, t = world["api"], world["t"]
    # Above the customer, nobody consents for it: not its distributor, not the manufacturer.
    for who in ("admin", "admin-dist"):
        status, doc, _ = api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": 1}, token=t[who])
        assert status == 403 and doc["error"]["code"] == "forbidden", (who, doc)
    for who in ("admin-cafe", "mgr-a"):
        assert api.call("POST", "/api/v1/consents", {"customer": "cafe-a", "version": 1}, token=t[who])[0] == 201


def test_grants_are_made_by_people_and_withdrawn_by_the_customer(world):
    api, f, t = world["api"], world["fleet"], world["t"]
    expires = int(time.time() * 1000) + 3600 * 1000
    grant = {"login": "sub-a", "serial": "A1", "purpose": "support", "expires": expires}
    # A partner system's token acting as a service manager cannot hand a person access.
    p = f.cc("token", "add", "--name", "erp-svc", "--org", "dist-a", "--role", "service_manager",
             "--expires", str(expires), "--json")
    erp = json.loads(p.stdout)["token"]
    status, doc, _ = api.call("POST", "/api/v1/grants", grant, token=erp)
    assert status == 403 and doc["error"]["code"] == "forbidden", doc
    assert api.call("GET", "/api/v1/grants", token=erp)[0] == 403
    # The distributor's service manager grants; the customer's own admin may withdraw it.
    status, doc, _ = api.call("POST", "/api/v1/grants", grant, token=t["svc-a"])
    assert status == 201, doc
    assert api.call("GET", "/api/v1/machines/A1", token=t["sub-a"])[0] == 200
    status, doc, _ = api.call("DELETE", f"/api/v1/grants/{doc['id']}", token=t["admin-cafe"])
    assert status == 200 and doc["revoked"] is True, doc
    assert api.call("GET", "/api/v1/machines/A1", token=t["sub-a"])[0] == 404


def test_the_dispatcher_refuses_before_the_handler(world):
    api, t = world["api"], world["t"]
    # The role is refused before the body is even looked at: a technician
    # learns nothing of what /orgs takes.
    status, doc, _ = api.call("POST", "/api/v1/orgs", raw=b"{not json", token=t["tech-a"],
                              headers={"Content-Type": "application/json"})
    assert status == 403 and doc["error"]["code"] == "forbidden", doc
    # An allowed caller's undeclared field is refused, and nothing is made.
    status, doc, _ = api.call("POST", "/api/v1/orgs", {"name": "cafe-new", "kind": "customer", "parent": "dist-a",
                                                       "owner": "admin-dist"}, token=t["admin-dist"])
    assert status == 400 and doc["error"]["code"] == "invalid", doc
    status, doc, _ = api.call("GET", "/api/v1/orgs?limit=1000", token=t["admin"])
    assert "cafe-new" not in {o["name"] for o in doc["orgs"]}
