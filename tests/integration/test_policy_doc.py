"""The privacy policy people read is the one the server enforces (issue 17).

A version is a document whose facts the daemon renders from its own tables
and listeners; the prose around them is editable, the facts are not. A
configuration change that changes a fact makes a draft; the published
version stays in force until the platform's admins publish the draft.
"""
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
import storeview  # noqa: E402

ADMIN_PASSWORD = ccdaemon.PASSWORD
SOURCE = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "hu")


def roles_from_source():
    """role -> data classes, read from src/access/roles.c (the table the API enforces)."""
    text = (SOURCE / "src/access/roles.c").read_text()
    roles = {}
    for name, classes in re.findall(r'\{ "(\w+)", ([A-Z_| ]+),', text):
        roles[name] = [c.lower() for c in ("STATUS", "TECHNICAL", "SERVICE", "USAGE", "AUDIT")
                       if "CLASS_" + c in classes]
    assert len(roles) == 9, roles  # the eight of PRODUCT.md and site_staff
    return roles


class World:
    def __init__(self, root, settings=None):
        self.f = ccdaemon.Fleet.create(root, machines=("P1",), customer="cafe-p")
        self.start(settings or {})

    def start(self, settings):
        self.port = ccdaemon.free_port()
        self.d = ccdaemon.Daemon(self.f, settings={"https_listen": f"127.0.0.1:{self.port}", **settings})
        self.d.start()
        self.api = checked(Api(self.port, self.f.data / "ca.crt"))
        self.admin = self.api.login("admin", ADMIN_PASSWORD)

    def restart(self, settings):
        self.d.stop()
        self.start(settings)

    def draft(self, lang="en"):
        status, doc, _ = self.api.call("GET", f"/api/v1/policy/draft?lang={lang}", token=self.admin)
        return doc if status == 200 else None

    def policy(self, lang="en"):
        status, doc, _ = self.api.call("GET", f"/policy?lang={lang}")
        assert status == 200, doc
        return doc

    def publish(self, date):
        status, doc, _ = self.api.call("POST", "/api/v1/policy/versions", {"last_updated": date}, token=self.admin)
        assert status == 201, doc
        return doc["version"]


@pytest.fixture()
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.d.stop()


def clause(doc, cid):
    return [c for c in doc["clauses"] if c["id"] == cid][0]


def test_the_facts_are_the_running_code(world):
    draft = world.draft()
    assert draft is not None and draft["draft"] is True
    facts = draft["facts"]
    # Purposes: exactly those the served routes declare (no route without a
    # purpose; none the policy does not explain in every language).
    status, openapi, _ = world.api.call("GET", "/api/v1/openapi.json")
    declared = {op["x-purpose"] for path in openapi["paths"].values() for op in path.values()}
    assert all(declared), "a route declares no purpose"
    assert sorted(declared - {"none", "administration"}) == facts["purposes"]
    for lang in LANGUAGES:
        lines = clause(world.draft(lang), "purposes")["facts"]
        assert len(lines) == len(facts["purposes"])
        assert not any(line.startswith("purpose.") for line in lines), (lang, lines)
    # Who sees which class: the role table itself.
    assert {a["role"]: a["classes"] for a in facts["access"]} == roles_from_source()
    # What the privacy filter refuses, and the TLS of each listener as configured.
    assert facts["never_collected"] == ["card-number", "email", "phone", "financial"]
    assert facts["in_transit"]["machines"]["versions"] == ["TLSv1.3", "TLSv1.2"]  # mqtt_tls12 defaults on
    assert "ECDHE-ECDSA-AES256-GCM-SHA384" in facts["in_transit"]["machines"]["ciphers"]
    assert facts["in_transit"]["people"]["versions"] == ["TLSv1.3"]               # https_tls12 defaults off
    assert all(c.startswith("TLS_") for c in facts["in_transit"]["people"]["ciphers"])
    # Every clause renders in both languages, with no label left untranslated.
    for lang in LANGUAGES:
        doc = world.draft(lang)
        assert [c["id"] for c in doc["clauses"]] == ["controller", "collected", "purposes", "access",
                                                      "never_collected", "retention", "at_rest", "in_transit",
                                                      "security", "changes"]
        for c in doc["clauses"]:
            assert c["title"] and c["text"], (lang, c["id"])
            for line in c["facts"]:
                assert not re.search(r"\b(class|role|never|security|retention|purpose|transit)\.\w", line), \
                    (lang, line)


def test_a_configuration_change_makes_a_draft_and_nothing_changes_until_published(world):
    v2 = world.publish("2026-12-01")
    assert world.draft() is None, "the published version says it all"
    served = world.policy()
    assert served["version"] == v2 and served["facts"]["in_transit"]["people"]["versions"] == ["TLSv1.3"]
    # TLS 1.2 for people: a fact changes, so a draft appears, in both languages...
    world.restart({"https_tls12": "true"})
    draft = world.draft()
    assert draft["facts"]["in_transit"]["people"]["versions"] == ["TLSv1.3", "TLSv1.2"]
    for lang, word in (("en", "People and partner systems"), ("hu", "Felhasználók és partnerrendszerek")):
        line = [x for x in clause(world.draft(lang), "in_transit")["facts"] if x.startswith(word)][0]
        assert "TLSv1.2" in line and "ECDHE-ECDSA" in line, line
    # ...while the previous version stays what everyone is served.
    assert world.policy() == served
    assert world.policy("hu")["version"] == v2
    v3 = world.publish("2026-12-05")
    assert v3 == v2 + 1 and world.policy()["facts"]["in_transit"]["people"]["versions"] == ["TLSv1.3", "TLSv1.2"]
    assert world.policy()["last_updated"] == "2026-12-05"
    # Back to the published configuration: no draft.
    world.restart({"https_tls12": "true"})
    assert world.draft() is None


def test_purposes_and_retention_come_from_the_configuration(tmp_path):
    """Issue 17's proof: a purpose added and retention changed in the
    configuration show up as exactly those new facts, in both languages, in
    a draft; the published version stays served until the draft is published."""
    w = World(tmp_path, settings={"purposes": "support"})
    try:
        status, doc, _ = w.api.call("GET", "/api/v1/machines/P1/quality", token=w.admin)
        assert status == 404, "a purpose not enabled is not served"
        v2 = w.publish("2026-12-01")
        before = w.policy()
        assert before["purposes"] == ["support"]
        w.restart({"purposes": "support,quality", "retention_telemetry_days": "30"})
        draft = w.draft()
        assert draft["purposes"] == ["quality", "support"]
        changed = {k for k in draft["facts"] if draft["facts"][k] != before["facts"][k]}
        assert changed == {"purposes", "retention"}, changed
        assert draft["facts"]["retention"][0] == {"record": "telemetry", "days": 30}
        for lang, purpose, kept in (("en", "keeping the machines to the manufacturer's quality standards",
                                     "telemetry: 30 days"),
                                    ("hu", "a gyártó minőségi előírásainak betartatása", "mérési adatok: 30 nap")):
            d = w.draft(lang)
            assert purpose in clause(d, "purposes")["facts"], lang
            assert kept in clause(d, "retention")["facts"], (lang, clause(d, "retention")["facts"])
            old = w.policy(lang)
            assert purpose not in clause(old, "purposes")["facts"] and kept not in clause(old, "retention")["facts"]
        assert w.policy() == before and w.policy()["version"] == v2
        # The new purpose is served now, but a customer's data only after its consent.
        status, doc, _ = w.api.call("GET", "/api/v1/machines/P1/quality", token=w.admin)
        assert status == 403 and doc["error"]["code"] == "consent_required", doc
        assert w.publish("2026-12-02") == v2 + 1
        assert w.policy()["purposes"] == ["quality", "support"]
    finally:
        w.d.stop()


def test_routes_declare_known_purposes(world):
    status, openapi, _ = world.api.call("GET", "/api/v1/openapi.json")
    known = {"downtime", "quality", "support", "updates", "none", "administration"}
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            assert op["x-purpose"] in known, (method, path, op["x-purpose"])


def test_the_data_controller(world):
    api, f = world.api, world.f
    assert clause(world.draft(), "controller")["facts"][0] == "Name: not yet named"
    bad = {"name": "Acme", "address": "", "contact": "privacy@acme.example"}
    assert api.call("POST", "/api/v1/policy/controller", bad, token=world.admin)[0] == 400
    good = {"name": "Acme Kávé Kft.", "address": "1051 Budapest, Fő utca 1.", "contact": "+36 1 555 0100"}
    status, doc, _ = api.call("POST", "/api/v1/policy/controller", good, token=world.admin)
    assert status == 200 and doc == good
    hu = clause(world.draft("hu"), "controller")["facts"]
    assert hu == ["Név: Acme Kávé Kft.", "Cím: 1051 Budapest, Fő utca 1.", "Elérhetőség: +36 1 555 0100"]
    world.publish("2026-12-02")
    assert clause(world.policy(), "controller")["facts"][0] == "Name: Acme Kávé Kft."
    # Named at init as well, and a change after publication makes a draft.
    f.cc("policy", "controller", "--name", "Acme Zrt.", "--address", "1051 Budapest, Fő utca 2.",
         "--contact", "dpo@acme.example")
    assert clause(world.draft(), "controller")["facts"][0] == "Name: Acme Zrt."
    assert clause(world.policy(), "controller")["facts"][0] == "Name: Acme Kávé Kft."


def test_init_names_the_controller(tmp_path):
    data = tmp_path / "d"
    ccdaemon.run_cli("init", "--data", data, "--password-stdin", "--controller-name", "Acme",
                     "--controller-address", "Main Street 1", stdin=ccdaemon.PASSWORD + "\n", rc=2)
    assert not data.exists() or not any(data.iterdir()), "a refused init left files behind"
    ccdaemon.run_cli("init", "--data", data, "--password-stdin", "--controller-name", "Acme",
                     "--controller-address", "Main Street 1", "--controller-contact", "dpo@acme.example",
                     stdin=ccdaemon.PASSWORD + "\n")
    doc = json.loads(ccdaemon.run_cli("policy", "controller", "--data", data, "--name", "Acme",
                                      "--address", "Main Street 1", "--contact", "dpo@acme.example",
                                      "--json").stdout)
    assert doc == {"name": "Acme", "address": "Main Street 1", "contact": "dpo@acme.example"}


def test_the_prose_is_editable_and_the_facts_are_not(world):
    api = world.api
    text = "Ezt a rendszert az Acme üzemelteti."
    status, _, _ = api.call("POST", "/api/v1/policy/draft/prose",
                            {"language": "hu", "clause": "controller", "text": text}, token=world.admin)
    assert status == 200
    assert clause(world.draft("hu"), "controller")["text"] == text
    # There is no field to send facts in, and prose cannot be sent for a clause that does not exist.
    assert api.call("POST", "/api/v1/policy/draft/prose", {"language": "hu", "clause": "purposes", "text": "x",
                                                           "facts": ["marketing"]}, token=world.admin)[0] == 400
    assert api.call("POST", "/api/v1/policy/draft/prose", {"language": "hu", "clause": "marketing", "text": "x"},
                    token=world.admin)[0] == 400
    world.publish("2026-12-03")
    assert clause(world.policy("hu"), "controller")["text"] == text
    assert clause(world.policy("en"), "controller")["text"] != text


def test_language_and_format_follow_the_reader(world):
    world.publish("2026-12-04")
    api = world.api
    status, doc, resp = api.call("GET", "/policy", headers={"Accept-Language": "de-DE, hu;q=0.8, en;q=0.5"})
    assert status == 200 and doc["language"] == "hu" and doc["title"] == "Adatkezelési tájékoztató"
    assert resp.getheader("Content-Language") == "hu"
    assert api.call("GET", "/policy", headers={"Accept-Language": "fr"})[1]["language"] == "en"
    assert api.call("GET", "/policy?lang=hu", headers={"Accept-Language": "en"})[1]["language"] == "hu"
    assert api.call("GET", "/policy?lang=de")[0] == 404
    # A browser gets a page, with the date first.
    status, _, resp = api.call("GET", "/policy?lang=hu", headers={"Accept": "text/html,application/xhtml+xml"})
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    import http.client
    c = http.client.HTTPSConnection("localhost", world.port, context=api.ctx, timeout=30)
    c.request("GET", "/policy?lang=hu", headers={"Accept": "text/html"})
    page = c.getresponse().read().decode()
    c.close()
    assert '<html lang="hu">' in page
    head = page.index("Utolsó módosítás: 2026-12-04")
    assert head < page.index("<section"), "the date is not at the top"


def test_consent_records_version_and_language(world):
    f, api = world.f, world.api
    v = world.publish("2026-12-06")
    f.cc("user", "add", "--org", "cafe-p", "--login", "mgr-p", "--role", "customer_manager",
         "--password-stdin", stdin=ccdaemon.password_of("mgr-p") + "\n")
    mgr = api.login("mgr-p", ccdaemon.password_of("mgr-p"))
    assert api.call("POST", "/api/v1/consents", {"customer": "cafe-p", "version": v, "language": "de"},
                    token=mgr)[0] == 404
    status, doc, _ = api.call("POST", "/api/v1/consents", {"customer": "cafe-p", "version": v, "language": "hu"},
                              token=mgr)
    assert status == 201, doc
    with storeview.open_store(f.data) as db:
        rows = db.rows("SELECT version, language, login FROM consents")
    assert rows == [(v, "hu", "mgr-p")]


def test_a_person_sees_and_downloads_what_is_held_about_them(world):
    f, api = world.f, world.api
    f.cc("user", "add", "--org", "cafe-p", "--login", "mgr-q", "--role", "customer_manager", "--email",
         "mgr-q@cafe.example", "--name", "Q. Manager", "--password-stdin", stdin=ccdaemon.password_of("mgr-q") + "\n")
    first = api.login("mgr-q", ccdaemon.password_of("mgr-q"))
    me = api.login("mgr-q", ccdaemon.password_of("mgr-q"))
    assert api.call("GET", "/api/v1/machines/P1", token=me)[0] == 200
    status, doc, resp = api.call("GET", "/api/v1/me/data", token=me)
    assert status == 200, doc
    assert resp.getheader("Content-Disposition") == 'attachment; filename="my-coffeecloud-data.json"'
    assert doc["account"]["login"] == "mgr-q" and doc["account"]["email"] == "mgr-q@cafe.example"
    assert doc["account"]["display_name"] == "Q. Manager" and doc["account"]["org"] == "cafe-p"
    assert len(doc["sessions"]) == 2 and [s["this_session"] for s in doc["sessions"]].count(True) == 1
    assert any(t["action"] == "machine.get" and t["machines"] == "P1" for t in doc["audit_trail"])
    # Only one's own: the admin's trail and tokens are not in it.
    admin_token = api.call("POST", "/api/v1/tokens", {"name": "erp-x", "org": "cafe-p", "role": "sales",
                                                      "expires": int(__import__("time").time() * 1000) + 3600000},
                           token=world.admin)
    assert admin_token[0] == 201
    status, again, _ = api.call("GET", "/api/v1/me/data", token=me)
    assert again["api_tokens_issued"] == [] and all(t["action"] != "token.add" for t in again["audit_trail"])
    status, mine, _ = api.call("GET", "/api/v1/me/data", token=world.admin)
    assert [t["name"] for t in mine["api_tokens_issued"]] == ["erp-x"]
    # A partner system's token is not a person.
    assert api.call("GET", "/api/v1/me/data", token=admin_token[1]["token"])[0] == 403
    assert first  # the other session is listed, not shown
    assert "token" not in json.dumps(doc["sessions"])
