"""Configuration through staged rollouts, templates down the organisation
tree and the manufacturer's limits on customers (docs/CONFIGURATION-REMOTE.md)
with the real daemon: a rollout whose payload is a
configuration document sets each machine's desired configuration phase by
phase; the machines (paho, MQTT 5 with their own certificates) apply it,
or their firmware rejects it, and publish their report; a report of the
rollout's version counts as succeeded or failed, so rejections halt the
rollout as failed installations do. Prices and out-of-range values are
refused before anything is stored. A machine's effective configuration
merges the templates of the manufacturer, its distributor and its customer
with its own desired version, naming where each value comes from; a
customer's own technician changes its machines only within the limits the
manufacturer set. One daemon for the module; the
rollouts' timer runs every 100 ms; every wait polls the API."""
import json
import ssl  # noqa: F401  (paho's TLS)
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from ccdaemon import TIMEOUT, poll_until  # noqa: E402
from oas import checked  # noqa: E402

SERIALS = [f"K{i:02d}" for i in range(1, 11)]
QUALITY = [f"Q{i}" for i in range(1, 5)]  # their firmware holds a command until the test releases it
MENU = {"recipes": {"espresso": {"water_ml": 28, "grounds_g": 9.0, "brew_temp_c": 93}},
        "settings": {"standby_min": 45}}
STRONG = {"recipes": {"espresso": {"water_ml": 28, "grounds_g": 24.0}}}  # in the schema's range
GRINDER_MAX_G = 20  # what these machines' firmware can dose


class Firmware:
    """A machine on paho that does what firmware does with the config
    command: applies the document and reports it runs it, or refuses a dose
    its grinder cannot make and reports why (retained, QoS 1)."""

    def __init__(self, d, m, hold=False):
        self.serial = m.serial
        self.running = {"recipes": {}, "settings": {}}
        self.held = [] if hold else None  # commands kept until release()
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        connected, subscribed = threading.Event(), threading.Event()
        self.c.on_connect = lambda *a: connected.set()
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.on_message = self.on_command
        self.c.connect("127.0.0.1", d.tls_port, keepalive=30)
        self.c.loop_start()
        assert connected.wait(TIMEOUT), "no CONNACK"
        self.c.subscribe(f"cc/v1/{m.serial}/cmd/#", qos=1)
        assert subscribed.wait(TIMEOUT), "no SUBACK"

    def on_command(self, client, userdata, msg):
        name = msg.topic.rsplit("/", 2)[1]
        if name != "config":
            return
        if self.held is not None:
            self.held.append(msg)
            return
        body = json.loads(msg.payload)
        doc = body["config"]
        too_much = [p for p, r in doc.get("recipes", {}).items() if r.get("grounds_g", 0) > GRINDER_MAX_G]
        if too_much:
            report = {"version": body["version"], "state": "rejected", "reason": "grinder cannot dose that much",
                      "config": self.runs()}
        else:
            for part in ("recipes", "settings"):
                for k, v in doc.get(part, {}).items():
                    if part == "recipes":
                        self.running["recipes"].setdefault(k, {}).update(v)
                    else:
                        self.running["settings"][k] = v
            report = {"version": body["version"], "state": "applied", "config": self.runs()}
        client.publish(f"cc/v1/{self.serial}/config/reported", json.dumps(report), qos=1, retain=True)

    def release(self):
        held, self.held = self.held, None
        for msg in held:
            self.on_command(self.c, None, msg)

    def brew(self, seq, temp_c):
        info = self.c.publish(f"cc/v1/{self.serial}/event", json.dumps(
            {"seq": seq, "ts": int(time.time() * 1000) - 1000, "type": "brew", "product": "espresso",
             "temp_c": temp_c, "brew_time_s": 25.0, "volume_ml": 30}), qos=1)
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published()

    def runs(self):
        return {k: v for k, v in self.running.items() if v}

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    fleet = ccdaemon.Fleet.create(tmp_path_factory.mktemp("cfgroll"), machines=tuple(SERIALS),
                                  model="espresso-one")
    # A customer below a distributor, for templates down the tree and the manufacturer's limits.
    fleet.cc("org", "add", "--name", "dist-x", "--kind", "distributor", "--parent", "manufacturer")
    fleet.add_customer("cafe-d", parent="dist-x")
    fleet.add_machine("D1", customer="cafe-d", model="espresso-one")
    fleet.add_customer("cafe-q")
    for s in QUALITY:
        fleet.add_machine(s, customer="cafe-q", model="espresso-one")
    fleet.add_machine("B1", customer="cafe-q", model="barista-pro")  # no template of its model anywhere
    for login, org in (("tech", "manufacturer"), ("cust-tech", "cafe-d")):
        fleet.cc("user", "add", "--org", org, "--login", login, "--role", "technician",
                 "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", "rollouts_tick_ms": "100"}) as d:
        machines = [Firmware(d, fleet.machines[s]) for s in SERIALS]
        held = {s: Firmware(d, fleet.machines[s], hold=True) for s in QUALITY}
        machines += held.values()
        people = checked(Api(port, fleet.data / "ca.crt"))
        try:
            yield {"fleet": fleet, "people": people, "held": held, "admin": people.login("admin", ccdaemon.PASSWORD),
                   "tech": people.login("tech", ccdaemon.password_of("tech")),
                   "cust": people.login("cust-tech", ccdaemon.password_of("cust-tech"))}
        finally:
            for m in machines:
                m.close()


def create(w, body, token=None):
    return w["people"].call("POST", "/api/v1/rollouts", body, token=token or w["admin"])


def show(w, rid):
    status, doc, _ = w["people"].call("GET", f"/api/v1/rollouts/{rid}", token=w["admin"])
    assert status == 200, doc
    return doc


def wait_rollout(w, rid, cond, what):
    return poll_until(lambda: (lambda d: d if cond(d) else None)(show(w, rid)), what)


def config_of(w, serial):
    status, doc, _ = w["people"].call("GET", f"/api/v1/machines/{serial}/config", token=w["tech"])
    assert status == 200, doc
    return doc


def rollouts_count(w):
    status, doc, _ = w["people"].call("GET", "/api/v1/rollouts", token=w["admin"])
    assert status == 200, doc
    return len(doc["rollouts"])


def test_refused_before_anything_is_stored(world):
    w = world
    before = rollouts_count(w)
    target = {"filter": {"model": "espresso-one"}}
    for body, status, part in (
            # Prices, currencies, payment: the privacy filter, first and at any depth.
            ({"config": {"recipes": {"espresso": {"water_ml": 30, "price": 2.5}}}, "reason": "menu",
              "target": target}, 400, "financial"),
            ({"config": {"settings": {"currency": "EUR"}}, "reason": "menu", "target": target}, 400, "financial"),
            ({"config": {"recipes": {"espresso": {"water_ml": 900}}}, "reason": "menu", "target": target}, 400,
             "recipes.espresso.water_ml: out of range"),
            ({"config": {"recipes": {"frappe": {"water_ml": 30}}}, "reason": "menu", "target": target}, 400,
             "recipes.frappe"),
            ({"config": MENU, "target": target}, 400, "reason"),
            ({"config": MENU, "reason": "menu", "artifact": "0" * 64, "target": target}, 400, "not both"),
            ({"config": MENU, "reason": "call Jane Doe at +49 170 1234567", "target": target}, 400,
             "privacy")):
        got, doc, _ = create(w, body)
        assert got == status and part in doc["error"]["message"], (body, doc)
        assert "2.5" not in doc["error"]["message"] and "EUR" not in doc["error"]["message"]
    # Whoever may not roll out software may not roll out configuration either.
    got, doc, _ = create(w, {"config": MENU, "reason": "menu", "target": target}, token=w["tech"])
    assert got == 403, doc
    assert rollouts_count(w) == before
    for s in SERIALS:
        assert config_of(w, s)["status"] == "unset", s


def test_phases_in_sync_then_rejections_halt(world):
    w = world
    status, ro, _ = create(w, {"config": MENU, "reason": "winter menu", "target": {"filter": {"customer": "cafe-a"}},
                               "phases": [20, 100], "soak": 0, "threshold": 20})
    assert status == 201, ro
    rid = ro["id"]
    assert ro["kind"] == "config" and ro["artifact"] == "" and ro["reason"] == "winter menu", ro
    assert ro["config"] == MENU and ro["machines_total"] == 10 and ro["unfit"] == 0 and ro["unconsented"] == 0
    assert [p["machines"] for p in ro["phase_progress"]] == [2, 8], ro["phase_progress"]

    doc = wait_rollout(w, rid, lambda d: d["state"] == "completed", "the configuration rollout's completion")
    assert doc["counts"]["succeeded"] == 10 and doc["finished_percent"] == 100, doc["counts"]
    canaries = {m["serial"] for m in doc["machines"] if m["phase"] == 1}
    assert len(canaries) == 2 and all(m["config_version"] == 1 for m in doc["machines"]), doc["machines"]
    for s in SERIALS:
        c = config_of(w, s)
        assert c["status"] == "in_sync" and c["version"] == 1, c
        assert c["desired"]["by"] == f"rollout:{rid}" and c["desired"]["why"] == "winter menu", c["desired"]

    # A dose the firmware cannot make: the canaries reject it, the rollout halts
    # after its first phase, and the others never get the document.
    status, ro2, _ = create(w, {"config": STRONG, "reason": "stronger espresso", "take_back": False,
                                "target": {"serials": SERIALS}, "phases": [20, 100], "soak": 0, "threshold": 20})
    assert status == 201, ro2
    rid2 = ro2["id"]
    # The first rejection may halt it (1 of 1 finished is over 20 %) before the
    # second canary's report is in: wait for both.
    doc = wait_rollout(w, rid2, lambda d: d["state"] == "halted" and d["counts"]["failed"] == 2,
                       "the halt on rejections, both canaries' reports in")
    assert doc["counts"]["failed"] == 2 and doc["counts"]["pending"] == 8, doc["counts"]
    assert doc["halt_reason"], doc
    rejected = {m["serial"] for m in doc["machines"] if m["state"] == "failed"}
    assert all(m["reason"] == "rejected" for m in doc["machines"] if m["state"] == "failed")
    for s in SERIALS:
        c = config_of(w, s)
        if s in rejected:
            assert c["status"] == "rejected" and c["version"] == 2, c
            assert c["reason"] == "grinder cannot dose that much", c
        else:
            assert c["status"] == "in_sync" and c["version"] == 1, c
    alerts = w["fleet"].ccj("alert", "list", "--rule", "rollout_halted")
    alerts = alerts["alerts"] if isinstance(alerts, dict) else alerts
    assert len(alerts) == 1 and alerts[0]["serial"] in rejected, alerts
    # Halted: the machines are freed only by an abort; then another change may start.
    status, doc, _ = w["people"].call("POST", f"/api/v1/rollouts/{rid2}/abort", token=w["admin"])
    assert status == 200 and doc["state"] == "aborted", doc

    # Audited, and the machine's timeline shows the version the rollout set.
    seen = {(r["action"], r["outcome"]) for r in w["fleet"].ccj("audit", "list")}
    assert {("rollout.create", "ok"), ("rollout.create", "error"), ("rollout.abort", "ok")} <= seen, seen
    s = sorted(rejected)[0]
    status, tl, _ = w["people"].call("GET", f"/api/v1/machines/{s}/timeline", token=w["tech"])
    assert status == 200, tl
    sets = [i for i in tl["items"] if i["kind"] == "config" and i["what"] == "set"]
    assert [i["version"] for i in sets] == [1, 2], sets


def test_cli_twin(world, tmp_path):
    w = world
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps({"settings": {"standby_min": 60}}))
    doc = w["fleet"].ccj("rollout", "create", "--config", menu, "--reason", "longer standby", "--serials",
                         ",".join(SERIALS[:3]), "--phases", "100", "--soak", "0")
    assert doc["kind"] == "config" and doc["machines_total"] == 3 and doc["config"] == {"settings": {"standby_min": 60}}
    wait_rollout(w, doc["id"], lambda d: d["state"] == "completed", "the CLI's rollout")
    shown = w["fleet"].cc("rollout", "show", doc["id"]).stdout
    assert "configuration rollout: longer standby" in shown and "succeeded" in shown, shown
    assert "(configuration)" in w["fleet"].cc("rollout", "list").stdout
    for s in SERIALS[:3]:
        assert config_of(w, s)["desired"]["config"]["settings"] == {"standby_min": 60}
    priced = tmp_path / "priced.json"
    priced.write_text(json.dumps({"settings": {"standby_min": 60, "unit_price_eur": 3}}))
    p = w["fleet"].cc("rollout", "create", "--config", priced, "--reason", "x", "--serials", SERIALS[0], rc=None)
    assert p.returncode != 0 and "financial" in p.stderr and "unit_price_eur" not in p.stderr, p.stderr
    actions = {r["action"] for r in w["fleet"].ccj("audit", "list") if r["actor"].startswith("cli:")}
    assert "rollout.create" in actions, actions


def post(w, path, body, token):
    return w["people"].call("POST", path, body, token=token)


def test_templates_inherited_and_customer_limits(world, tmp_path):
    w = world
    admin, tech, cust = w["admin"], w["tech"], w["cust"]
    for org, doc, token in (
            ("manufacturer", {"recipes": {"espresso": {"water_ml": 30, "brew_temp_c": 92}},
                              "settings": {"standby_min": 30}}, admin),
            ("dist-x", {"recipes": {"espresso": {"brew_temp_c": 93}}}, tech),
            ("cafe-d", {"settings": {"standby_min": 20}}, cust)):
        status, got, _ = post(w, "/api/v1/config/templates", {"org": org, "model": "espresso-one", "config": doc,
                                                               "reason": "house standard"}, token)
        assert status == 201 and got["templates"][0]["config"] == json.loads(json.dumps(doc).replace("92", "92.0")
                                                                               .replace("93", "93.0")), got
    # Prices are refused here too; so are values out of the model's range. Nothing is stored.
    for doc, part in (({"recipes": {"espresso": {"water_ml": 30, "price": 2}}}, "financial"),
                      ({"settings": {"payment_terminal": "on"}}, "financial"),
                      ({"recipes": {"espresso": {"water_ml": 1000}}}, "recipes.espresso.water_ml")):
        status, got, _ = post(w, "/api/v1/config/templates", {"org": "dist-x", "model": "espresso-one",
                                                               "config": doc, "reason": "x"}, admin)
        assert status == 400 and part in got["error"]["message"], got
    # A customer's people reach their own organisation only.
    status, got, _ = w["people"].call("GET", "/api/v1/config/templates?org=dist-x", token=cust)
    assert status == 404, got
    status, got, _ = w["people"].call("GET", "/api/v1/config/templates?org=dist-x", token=tech)
    assert status == 200 and got["kind"] == "distributor" and len(got["templates"]) == 1, got

    status, _, _ = post(w, "/api/v1/machines/D1/config", {"config": {"recipes": {"espresso": {"water_ml": 35}}},
                                                          "reason": "bigger cup"}, tech)
    assert status == 201
    status, eff, _ = w["people"].call("GET", "/api/v1/machines/D1/config/effective", token=tech)
    assert status == 200, eff
    assert eff["config"] == {"recipes": {"espresso": {"water_ml": 35, "brew_temp_c": 93.0}},
                             "settings": {"standby_min": 20}}, eff
    assert eff["sources"] == {"recipes.espresso.water_ml": "machine:1", "recipes.espresso.brew_temp_c":
                              "distributor:dist-x", "settings.standby_min": "customer:cafe-d"}, eff["sources"]
    assert [layer["source"] for layer in eff["layers"]] == ["manufacturer:manufacturer", "distributor:dist-x",
                                                            "customer:cafe-d", "machine:1"], eff["layers"]
    assert w["fleet"].ccj("config", "effective", "D1") == eff

    # Limits: the manufacturer's, never the customer's own; within the model's ranges.
    limits = {"products": ["espresso", "lungo"], "recipe": {"water_ml": {"min": 25, "max": 40}},
              "settings": {"standby_min": {"min": 0, "max": 60}}}
    status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                        "limits": limits}, cust)
    assert status == 403, got
    status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                        "limits": {"recipe": {"water_ml": {"min": 1, "max": 40}}}},
                          admin)
    assert status == 400 and "recipe.water_ml" in got["error"]["message"], got
    status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                        "limits": {"recipe": {"water_ml": {"min": 25, "max": 40}},
                                                                   "max_price_eur": 3}}, admin)
    assert status == 400 and "financial" in got["error"]["message"], got
    status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                        "limits": limits}, admin)
    assert status == 201 and got["limits"][0]["limits"] == limits, got

    def cust_sets(doc):
        return post(w, "/api/v1/machines/D1/config", {"config": doc, "reason": "our menu"}, cust)

    status, got, _ = cust_sets({"recipes": {"espresso": {"water_ml": 50}}})
    assert status == 403 and "recipes.espresso.water_ml: the manufacturer allows 25..40" in got["error"]["message"]
    status, got, _ = cust_sets({"recipes": {"ristretto": {"water_ml": 30}}})
    assert status == 403 and "recipes.ristretto" in got["error"]["message"], got
    status, got, _ = cust_sets({"recipes": {"espresso": {"water_ml": 30, "unit_price_eur": 2}}})
    assert status == 400 and "financial" in got["error"]["message"], got
    status, got, _ = post(w, "/api/v1/config/templates", {"org": "cafe-d", "model": "espresso-one", "config":
                                                           {"settings": {"standby_min": 90}}, "reason": "x"}, cust)
    assert status == 403 and "settings.standby_min" in got["error"]["message"], got
    assert config_of(w, "D1")["version"] == 1
    status, got, _ = cust_sets({"recipes": {"espresso": {"water_ml": 38}}})
    assert status == 201 and got["version"] == 2, got
    # The manufacturer's own people are not bound by what it sets for the customer.
    status, got, _ = post(w, "/api/v1/machines/D1/config", {"config": {"recipes": {"espresso": {"water_ml": 50}}},
                                                            "reason": "service visit"}, tech)
    assert status == 201 and got["version"] == 3, got
    seen = {(r["action"], r["outcome"]) for r in w["fleet"].ccj("audit", "list")}
    assert {("config.template.set", "ok"), ("config.limits.set", "ok"), ("config.limits.set", "denied"),
            ("config.set", "denied"), ("config.effective", "ok")} <= seen, seen

    # The CLI twins.
    doc = tmp_path / "lungo.json"
    doc.write_text(json.dumps({"recipes": {"lungo": {"water_ml": 110}}}))
    got = w["fleet"].ccj("config", "template-set", "--org", "cafe-d", "--model", "espresso-one", "--file", doc,
                         "--reason", "lungo for all")
    assert {t["model"] for t in got["templates"]} == {"espresso-one"}, got
    assert w["fleet"].ccj("config", "templates", "--org", "cafe-d")["templates"][0]["config"]["recipes"] == \
        {"lungo": {"water_ml": 110}}
    lim = tmp_path / "limits.json"
    lim.write_text(json.dumps({"products": ["espresso"]}))
    got = w["fleet"].ccj("config", "limits-set", "--customer", "cafe-d", "--model", "espresso-one", "--file", lim)
    assert got["limits"][0]["limits"] == {"products": ["espresso"]}, got
    assert w["fleet"].ccj("config", "effective", "D1")["sources"]["recipes.lungo.water_ml"] == "customer:cafe-d"


def test_quality_compliance_of_the_changed_machines_halts(world):
    """The canary applies the document but brews out of spec afterwards, the
    others in spec: at the end of the soak the rollout halts on quality
    compliance (compliance_margin), the alert on the canary, and the canary
    gets its previous desired configuration back."""
    w = world
    before = {"settings": {"standby_min": 50}}
    for s in QUALITY:
        status, got, _ = post(w, f"/api/v1/machines/{s}/config", {"config": before, "reason": "service"}, w["tech"])
        assert status == 201 and got["version"] == 1, got
    status, got, _ = create(w, {"config": MENU, "reason": "x", "target": {"serials": QUALITY},
                                "compliance_margin": 101})
    assert status == 400 and "compliance_margin" in got["error"]["message"], got
    status, ro, _ = create(w, {"config": MENU, "reason": "winter menu", "target": {"serials": QUALITY},
                               "phases": [25, 100], "soak": 1, "health_margin": 100})
    assert status == 201 and ro["compliance_margin"] == 10, ro
    rid = ro["id"]
    doc = wait_rollout(w, rid, lambda d: any(m["config_version"] > 0 for m in d["machines"]), "the canary's version")
    canary = [m["serial"] for m in doc["machines"] if m["config_version"] > 0]
    assert len(canary) == 1, doc["machines"]
    canary = canary[0]
    # Held: the canary has not applied yet, so the soak has not begun. Its brews
    # run cold (88 degC, below 90), the others' in spec; all counted first.
    for s, fw in w["held"].items():
        for seq in range(1, 7):
            fw.brew(seq, 88.0 if s == canary else 93.0)
    today = int(time.time() * 1000) // 86400000 * 86400000
    for s in QUALITY:
        poll_until(lambda: w["fleet"].ccj("report", "compliance", "--serial", s, "--from", str(today))
                   ["machines"][0]["brews"] == 6, f"{s}'s brews counted")
    w["held"][canary].release()
    doc = wait_rollout(w, rid, lambda d: d["state"] == "halted", "the halt on quality compliance")
    assert doc["halt_reason"] == ("phase 1: its changed machines brewed 0.0 % in spec over the soak's days, the "
                                  "rest 100.0 % (margin 10 points)"), doc
    # The take-back follows the halt's commit in a transaction of its own: the
    # canary reads as succeeded before it, rolled back after.
    assert doc["counts"]["succeeded"] + doc["counts"]["rolled_back"] == 1, doc["counts"]
    assert doc["counts"]["pending"] == 3, doc["counts"]
    alerts = w["fleet"].ccj("alert", "list", "--rule", "rollout_halted")
    alerts = alerts["alerts"] if isinstance(alerts, dict) else alerts
    assert (canary, f"rollout_halted:{rid}") in [(a["serial"], a["cause"]) for a in alerts], alerts
    # Taken back: version 3 is version 1's document again, and the firmware runs it.
    c = poll_until(lambda: (lambda c: c if c["version"] == 3 and c["status"] == "in_sync" else None)(
        config_of(w, canary)), "the canary's previous configuration again")
    assert c["desired"]["config"] == before and c["desired"]["by"] == f"rollout:{rid}", c
    assert c["desired"]["why"] == f"taken back: rollout {rid} halted", c
    doc = show(w, rid)
    assert [(m["serial"], m["state"], m["reason"]) for m in doc["machines"] if m["serial"] == canary] == \
        [(canary, "rolled_back", "taken back: version 3")], doc["machines"]
    for s in QUALITY:
        if s != canary:
            assert config_of(w, s)["version"] == 1, s


def test_effective_documents_rolled_out(world):
    """A rollout that applies the templates: each machine gets its own
    effective document; a machine whose effective document is invalid for
    its model (here: nothing sets anything) is left out and counted."""
    w = world
    status, got, _ = post(w, "/api/v1/config/templates", {"org": "cafe-a", "model": "espresso-one", "config":
                                                           {"settings": {"rinse_every_h": 6}}, "reason": "rinse"},
                          w["admin"])
    assert status == 201, got
    targets = [s for s in SERIALS[3:] if config_of(w, s)["status"] == "in_sync"][:3]
    assert len(targets) == 3
    status, got, _ = create(w, {"effective": True, "config": MENU, "reason": "x", "target": {"serials": targets}})
    assert status == 400 and "effective" in got["error"]["message"], got
    status, got, _ = create(w, {"effective": True, "reason": "house standard", "target": {"serials": ["B1"]}})
    assert status == 400 and got["error"]["message"].startswith(
        "no targeted machine has a valid effective document (B1: no template"), got
    p = w["fleet"].cc("rollout", "create", "--effective", "--reason", "x", "--serials", "B1", rc=None)
    assert p.returncode == 2 and "B1: no template" in p.stderr, p.stderr

    status, ro, _ = create(w, {"effective": True, "reason": "house standard", "target": {"serials": targets + ["B1"]},
                               "phases": [100], "soak": 0})
    assert status == 201, ro
    assert ro["effective"] is True and ro["config"] == {} and ro["machines_total"] == 3, ro
    assert ro["invalid"] == 1 and ro["invalid_machines"][0]["serial"] == "B1", ro
    expected = {}
    for s in targets:
        status, eff, _ = w["people"].call("GET", f"/api/v1/machines/{s}/config/effective", token=w["tech"])
        assert status == 200 and eff["config"]["settings"]["rinse_every_h"] == 6, eff
        expected[s] = eff["config"]
    wait_rollout(w, ro["id"], lambda d: d["state"] == "completed", "the effective rollout's completion")
    for s in targets:
        c = config_of(w, s)
        assert c["status"] == "in_sync" and c["desired"]["config"] == expected[s], c
        assert c["desired"]["by"] == f"rollout:{ro['id']}" and c["desired"]["why"] == "house standard", c
    assert w["fleet"].ccj("rollout", "show", str(ro["id"]))["effective"] is True


def test_customer_limits_on_enumerated_settings(world):
    """Which of the panel's languages a customer's own people may choose."""
    w = world
    for values, part in ((["en", "xx"], "settings.panel_language"), (["en", "en"], "settings.panel_language"),
                         ([], "settings.panel_language"), ("en", "settings.panel_language")):
        status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                            "limits": {"settings": {"panel_language":
                                                                                    {"values": values}}}}, w["admin"])
        assert status == 400 and part in got["error"]["message"], (values, got)
    limits = {"settings": {"panel_language": {"values": ["en", "de"]}, "standby_min": {"min": 0, "max": 60}}}
    status, got, _ = post(w, "/api/v1/config/limits", {"customer": "cafe-d", "model": "espresso-one",
                                                        "limits": limits}, w["admin"])
    assert status == 201 and got["limits"][0]["limits"] == limits, got
    before = config_of(w, "D1")["version"]
    status, got, _ = post(w, "/api/v1/machines/D1/config", {"config": {"settings": {"panel_language": "fr"}},
                                                            "reason": "our panel"}, w["cust"])
    assert status == 403, got
    assert got["error"]["message"].startswith(
        "settings.panel_language: the manufacturer allows en, de for this customer"), got
    status, got, _ = post(w, "/api/v1/config/templates", {"org": "cafe-d", "model": "espresso-one", "config":
                                                           {"settings": {"panel_language": "it"}}, "reason": "x"},
                          w["cust"])
    assert status == 403 and "settings.panel_language" in got["error"]["message"], got
    assert config_of(w, "D1")["version"] == before
    status, got, _ = post(w, "/api/v1/machines/D1/config", {"config": {"settings": {"panel_language": "de"}},
                                                            "reason": "our panel"}, w["cust"])
    assert status == 201 and got["version"] == before + 1, got
    # The manufacturer's own people are not bound by it.
    status, got, _ = post(w, "/api/v1/machines/D1/config", {"config": {"settings": {"panel_language": "fr"}},
                                                            "reason": "service visit"}, w["tech"])
    assert status == 201, got


def test_taken_back_when_aborted(world):
    """Aborted after its first phase: the machine that applied the document
    gets its previous desired version again; the others never had it."""
    w = world
    targets = [s for s in SERIALS[3:] if config_of(w, s)["status"] == "in_sync"][:3]
    assert len(targets) == 3
    previous = {s: config_of(w, s) for s in targets}
    status, ro, _ = create(w, {"config": {"settings": {"standby_min": 15}}, "reason": "shorter standby",
                               "target": {"serials": targets}, "phases": [34, 100], "soak": 3600})
    assert status == 201 and ro["take_back"] is True, ro
    doc = wait_rollout(w, ro["id"], lambda d: d["phase_progress"][0]["counts"]["succeeded"] ==
                       d["phase_progress"][0]["machines"], "the first phase applied")
    applied = {m["serial"]: m["config_version"] for m in doc["machines"] if m["state"] == "succeeded"}
    assert 1 <= len(applied) < len(targets), doc["machines"]
    for s in applied:
        assert config_of(w, s)["desired"]["config"]["settings"]["standby_min"] == 15
    got = w["fleet"].ccj("rollout", "abort", str(ro["id"]))
    assert got["state"] == "aborted", got
    for s, version in applied.items():
        c = poll_until(lambda: (lambda c: c if c["version"] == version + 1 and c["status"] == "in_sync" else None)(
            config_of(w, s)), f"{s}'s previous configuration again")
        assert c["desired"]["config"] == previous[s]["desired"]["config"], c
        assert c["desired"]["why"] == f"taken back: rollout {ro['id']} aborted", c
    doc = show(w, ro["id"])
    assert {m["serial"]: m["state"] for m in doc["machines"]} == {
        s: "rolled_back" if s in applied else "pending" for s in targets}, doc["machines"]
    for s in targets:
        if s not in applied:
            assert config_of(w, s)["version"] == previous[s]["version"], s
