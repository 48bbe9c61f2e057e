"""Remote configuration (docs/CONFIGURATION-REMOTE.md), end to end against the
real daemon: a technician sets a machine's desired configuration over the
API; the machine (paho, real TLS with its certificate) receives the "config"
command with the version and the document, and publishes what it runs on
its retained cc/v1/{serial}/config/reported topic: in sync. A rejection
shows as rejected with the machine's reason; a change at the panel as
drifted. An out-of-range value, an unknown field and a price are refused at
the API with nothing stored; another customer's technician gets 404; a
document too large for the command is fetched over HTTPS with the machine's
certificate; reports with a price or for another machine are refused; the
audit log and the machine's timeline show the changes; the CLI twins agree."""
import json
import queue
import re
import ssl
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from ccdaemon import TIMEOUT, poll_until  # noqa: E402
from oas import checked  # noqa: E402

ESPRESSO = {"recipes": {"espresso": {"water_ml": 30, "grounds_g": 8.5, "brew_temp_c": 93, "preinfusion_s": 2,
                                     "size_scaling_pct": 100}},
            "settings": {"standby_min": 30, "panel_language": "en"}}
# What the machine runs: more than the desired document sets (those values stay its own).
RUNNING = {"recipes": {"espresso": {"water_ml": 30, "grounds_g": 8.5, "brew_temp_c": 93.0, "preinfusion_s": 2,
                                    "size_scaling_pct": 100},
                       "lungo": {"water_ml": 110}},
           "settings": {"standby_min": 30, "panel_language": "en", "rinse_every_h": 8}}


class Machine:
    """A machine on paho (MQTT 5, its own certificate), subscribed to its commands."""

    def __init__(self, d, m):
        self.m = m
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.messages = queue.Queue()
        subscribed, connected = threading.Event(), threading.Event()
        self.c.on_connect = lambda *a: connected.set()
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.c.connect("127.0.0.1", d.tls_port, keepalive=30)
        self.c.loop_start()
        assert connected.wait(TIMEOUT), "no CONNACK"
        self.c.subscribe(f"cc/v1/{m.serial}/cmd/#", qos=1)
        assert subscribed.wait(TIMEOUT), "no SUBACK"

    def command(self):
        try:
            topic, payload = self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{self.m.serial}: no command within {TIMEOUT} s")
        match = re.fullmatch(rf"cc/v1/{self.m.serial}/cmd/([a-z-]+)/([1-9][0-9]*)", topic)
        assert match, topic
        return match.group(1), json.loads(payload)

    def report(self, doc, serial=None):
        """Publishes (retained, QoS 1) and waits for the PUBACK: the report is stored by then."""
        info = self.c.publish(f"cc/v1/{serial or self.m.serial}/config/reported", json.dumps(doc), qos=1,
                              retain=True)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()
        return info

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    fleet = ccdaemon.Fleet.create(tmp_path_factory.mktemp("config"), machines=("C1",), model="espresso-one")
    fleet.add_machine("C2", model="barista-pro")
    fleet.add_customer("cafe-b")
    fleet.add_machine("B1", customer="cafe-b")
    for login, org, role in (("tech", "manufacturer", "technician"), ("tech-b", "cafe-b", "technician"),
                             ("seller", "manufacturer", "sales")):
        fleet.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
                 stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        people = checked(Api(port, fleet.data / "ca.crt"))
        yield {"fleet": fleet, "d": d, "port": port, "people": people,
               "tech": people.login("tech", ccdaemon.password_of("tech")),
               "tech-b": people.login("tech-b", ccdaemon.password_of("tech-b")),
               "seller": people.login("seller", ccdaemon.password_of("seller"))}


def config_of(w, serial, token=None):
    status, doc, _ = w["people"].call("GET", f"/api/v1/machines/{serial}/config", token=token or w["tech"])
    assert status == 200, (status, doc)
    return doc


def set_config(w, serial, config, reason="menu of the season", token=None):
    return w["people"].call("POST", f"/api/v1/machines/{serial}/config", {"config": config, "reason": reason},
                            token=token or w["tech"])


def history(w, serial):
    status, doc, _ = w["people"].call("GET", f"/api/v1/machines/{serial}/config/history", token=w["tech"])
    assert status == 200, (status, doc)
    return doc["versions"]


def status_becomes(w, serial, status):
    return poll_until(lambda: (lambda d: d if d["status"] == status else None)(config_of(w, serial)),
                      f"{serial} {status}")


def test_set_delivered_reported_in_sync_then_rejected_then_drifted(world):
    w, fleet = world, world["fleet"]
    assert config_of(w, "C1")["status"] == "unset"
    c1 = Machine(w["d"], fleet.machines["C1"])
    try:
        status, doc, _ = set_config(w, "C1", ESPRESSO, reason="new espresso standard")
        assert status == 201, doc
        assert doc["status"] == "pending" and doc["version"] == 1, doc
        assert doc["desired"]["by"] == "user:tech" and doc["desired"]["why"] == "new espresso standard", doc
        name, body = c1.command()
        assert name == "config", name
        # The version and the document, in its canonical form.
        assert body["version"] == 1 and body["config"]["recipes"]["espresso"]["water_ml"] == 30, body
        assert body["config"]["recipes"]["espresso"]["brew_temp_c"] == 93.0, body
        assert "fetch" not in body
        c1.report({"version": 1, "state": "applied", "config": RUNNING})
        doc = status_becomes(w, "C1", "in_sync")
        assert doc["reported"]["state"] == "applied" and doc["reported"]["version"] == 1, doc
        assert doc["reported"]["config"]["settings"]["rinse_every_h"] == 8, doc

        # The firmware refuses version 2: rejected, with its reason.
        bigger = json.loads(json.dumps(ESPRESSO))
        bigger["recipes"]["espresso"]["grounds_g"] = 28
        status, doc, _ = set_config(w, "C1", bigger, reason="stronger")
        assert status == 201 and doc["version"] == 2 and doc["status"] == "pending", doc
        name, body = c1.command()
        assert name == "config" and body["version"] == 2 and body["config"]["recipes"]["espresso"]["grounds_g"] == 28
        c1.report({"version": 2, "state": "rejected", "reason": "grinder cannot dose 28 g", "config": RUNNING})
        doc = status_becomes(w, "C1", "rejected")
        assert doc["reason"] == "grinder cannot dose 28 g", doc

        # Version 3 applied, then someone changes the standby time at the panel: drifted.
        status, doc, _ = set_config(w, "C1", ESPRESSO, reason="back to the standard")
        assert status == 201 and doc["version"] == 3, doc
        assert c1.command()[1]["version"] == 3
        c1.report({"version": 3, "state": "applied", "config": RUNNING})
        status_becomes(w, "C1", "in_sync")
        panel = json.loads(json.dumps(RUNNING))
        panel["settings"]["standby_min"] = 5
        c1.report({"version": 3, "state": "applied", "config": panel})
        doc = status_becomes(w, "C1", "drifted")
        assert doc["drift"] == "settings.standby_min", doc
        # A panel change of a value the desired document leaves to the machine is no drift.
        other = json.loads(json.dumps(RUNNING))
        other["settings"]["rinse_every_h"] = 4
        c1.report({"version": 3, "state": "applied", "config": other})
        status_becomes(w, "C1", "in_sync")
    finally:
        c1.close()

    versions = history(w, "C1")
    assert [v["version"] for v in versions] == [3, 2, 1], versions
    assert [v["why"] for v in versions] == ["back to the standard", "stronger", "new espresso standard"]
    assert all(v["by"] == "user:tech" and v["job"] > 0 for v in versions), versions
    assert versions[1]["config"]["recipes"]["espresso"]["grounds_g"] == 28

    # The machine's timeline shows each version set and its last report.
    status, tl, _ = w["people"].call("GET", "/api/v1/machines/C1/timeline", token=w["tech"])
    assert status == 200, tl
    items = [i for i in tl["items"] if i["kind"] == "config"]
    assert [(i["what"], i["version"]) for i in items if i["what"] == "set"] == [("set", 1), ("set", 2), ("set", 3)]
    assert ("applied", 3) in {(i["what"], i["version"]) for i in items}, items
    assert all(i["data_class"] == "technical" for i in items)


def test_refused_at_the_api_nothing_stored(world):
    w = world
    before = len(history(w, "C2"))
    cases = [
        ({"recipes": {"espresso": {"water_ml": 900}}}, "recipes.espresso.water_ml: out of range 5..500 ml"),
        ({"recipes": {"espresso": {"size_scaling_pct": 200}}}, "recipes.espresso.size_scaling_pct: out of range"),
        ({"settings": {"boiler_temp_c": 212}}, "settings.boiler_temp_c: out of range"),
        ({"recipes": {"espresso": {"water_ml": 30, "flavour": 3}}}, "recipes.espresso.flavour: unknown field"),
        ({"recipes": {"mocha_deluxe": {"water_ml": 30}}}, "recipes.mocha_deluxe: not a product of this model"),
        ({"recipes": {"espresso": {"water_ml": 30, "price": 2.5}}}, "refused by the privacy filter: financial"),
        ({"settings": {"standby_min": 30}, "currency": "EUR"}, "refused by the privacy filter: financial"),
        ({"settings": {"paymentTerminal": 1}}, "refused by the privacy filter: financial"),
    ]
    for config, message in cases:
        status, doc, _ = set_config(w, "C2", config)
        assert status == 400, (config, status, doc)
        assert doc["error"]["code"] == "invalid" and message in doc["error"]["message"], (config, doc)
        assert "900" not in doc["error"]["message"] and "EUR" not in doc["error"]["message"], doc
    # A reason naming a person is refused like ticket text.
    status, doc, _ = set_config(w, "C2", {"settings": {"standby_min": 30}}, reason="as Mr Miller asked")
    assert status == 400 and "privacy" in doc["error"]["message"], doc
    status, doc, _ = w["people"].call("POST", "/api/v1/machines/C2/config", {"config": {"settings": {}}},
                                      token=w["tech"])
    assert status == 400, doc
    assert len(history(w, "C2")) == before
    assert config_of(w, "C2")["status"] == "unset"
    # The milk settings of a model with a milk system are accepted.
    status, doc, _ = set_config(w, "C2", {"recipes": {"cappuccino": {"milk_foam_ratio": 0.6, "water_ml": 40}},
                                          "settings": {"steam_temp_c": 125}})
    assert status == 201 and doc["status"] == "pending", doc


def test_scope_and_roles(world):
    w = world
    # Another customer's technician: as if the machine did not exist, reading or writing.
    for method, path, body in (("GET", "/api/v1/machines/C1/config", None),
                               ("GET", "/api/v1/machines/C1/config/history", None),
                               ("POST", "/api/v1/machines/C1/config",
                                {"config": {"settings": {"standby_min": 1}}, "reason": "x"})):
        status, doc, _ = w["people"].call(method, path, body, token=w["tech-b"])
        assert status == 404 and doc["error"]["code"] == "not_found", (path, status, doc)
    # Its own machine is fine.
    status, doc, _ = set_config(w, "B1", {"settings": {"standby_min": 15}}, token=w["tech-b"])
    assert status == 201, doc
    # A role without the technical class.
    status, doc, _ = set_config(w, "C1", {"settings": {"standby_min": 1}}, token=w["seller"])
    assert status == 403, doc
    assert config_of(w, "C1")["version"] != 0


def test_large_document_fetched_with_the_certificate(world):
    w, fleet = world, world["fleet"]
    recipe = {"water_ml": 120, "grounds_g": 10.25, "brew_temp_c": 92.5, "preinfusion_s": 2.5,
              "milk_foam_ratio": 0.55, "size_scaling_pct": 110}
    milk = {"cappuccino", "latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_milk",
            "milk_foam"}
    products = ["espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme", "cappuccino",
                "latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_milk", "milk_foam",
                "chocolate", "tea"]
    big = {"recipes": {p: {k: v for k, v in recipe.items() if k != "milk_foam_ratio" or p in milk}
                       for p in products},
           "settings": {"standby_min": 60, "boiler_temp_c": 94.5, "steam_temp_c": 125, "rinse_every_h": 8,
                        "milk_clean_every_h": 24, "descale_every_l": 400, "panel_language": "de"}}
    assert len(json.dumps(big, separators=(",", ":"))) > 2048
    # Set while the machine is away: the earlier version's command, never delivered, is withdrawn, so
    # the machine gets only the newest when it comes back.
    status, doc, _ = set_config(w, "C2", big, reason="winter menu")
    assert status == 201 and doc["version"] == 2, doc
    c2 = Machine(w["d"], fleet.machines["C2"])
    try:
        name, body = c2.command()
    finally:
        c2.close()
    assert name == "config" and body == {"version": doc["version"], "fetch": "/api/v1/machine/config"}, body

    def machine_api(serial):
        ctx = ssl.create_default_context(cafile=str(fleet.data / "ca.crt"))
        if serial is not None:
            ctx.load_cert_chain(str(fleet.machines[serial].cert), str(fleet.machines[serial].key))
        return checked(Api(w["port"], None, ctx=ctx))

    status, got, _ = machine_api("C2").call("GET", "/api/v1/machine/config")
    assert status == 200 and got["serial"] == "C2" and got["version"] == doc["version"], got
    assert got["config"]["recipes"]["flat_white"]["milk_foam_ratio"] == 0.55, got
    # No certificate: 401; a person's token is no certificate.
    status, err, _ = machine_api(None).call("GET", "/api/v1/machine/config", token=w["tech"])
    assert status == 401, err
    # Another machine gets its own (B1 has one) and never C2's.
    status, other, _ = machine_api("B1").call("GET", "/api/v1/machine/config")
    assert status == 200 and other["serial"] == "B1" and "recipes" not in other["config"], other


def test_reports_refused(world):
    w, fleet, d = world, world["fleet"], world["d"]
    before = config_of(w, "C1")
    c1 = Machine(d, fleet.machines["C1"])
    try:
        # A price in a report: refused by the privacy filter, nothing stored, nothing of it logged.
        mark = d.mark()
        c1.report({"version": 3, "state": "applied", "config": {"settings": {"standby_min": 30, "price_eur": 2}}})
        d.wait_for(r"C1: refused a message: refused by the privacy filter: financial", since=mark)
        # Out of range: refused by the schema, the member named.
        mark = d.mark()
        c1.report({"version": 3, "state": "applied", "config": {"settings": {"standby_min": 9999}}})
        d.wait_for(r"C1: refused a message: config: settings.standby_min: out of range", since=mark)
        # Another machine's topic: outside its own.
        mark = d.mark()
        c1.report({"version": 0, "state": "applied", "config": {"settings": {"standby_min": 1}}}, serial="C2")
        d.wait_for(r"C1: refused a publish outside its own topics", since=mark)
    finally:
        c1.close()
    after = config_of(w, "C1")
    assert after["reported"] == before["reported"], (before, after)
    assert config_of(w, "C2").get("reported") is None
    assert "price_eur" not in d.log and "9999" not in d.log


def test_audited_and_cli_twins(world, tmp_path):
    w, fleet = world, world["fleet"]
    audit = fleet.ccj("audit", "list")
    seen = {(r["action"], r["outcome"]) for r in audit}
    for line in (("config.set", "ok"), ("config.set", "denied"), ("config.get", "ok"), ("config.history", "ok")):
        assert line in seen, line
    doc = tmp_path / "config.json"
    doc.write_text(json.dumps({"settings": {"standby_min": 45}}))
    out = fleet.ccj("config", "set", "--serial", "C1", "--file", doc, "--reason", "longer standby")
    assert out["status"] == "pending" and out["desired"]["by"].startswith("cli:"), out
    assert out["desired"]["config"] == {"settings": {"standby_min": 45}}, out
    shown = fleet.ccj("config", "show", "C1")
    assert shown["version"] == out["version"] and shown == config_of(w, "C1"), shown
    versions = fleet.ccj("config", "history", "C1")["versions"]
    assert versions[0]["why"] == "longer standby" and versions == history(w, "C1"), versions
    doc.write_text(json.dumps({"settings": {"standby_min": 45, "vat_rate": 20}}))
    p = fleet.cc("config", "set", "--serial", "C1", "--file", doc, "--reason", "x", rc=None)
    assert p.returncode != 0 and "privacy filter" in p.stderr and "20" not in p.stderr, p.stderr
    assert fleet.ccj("config", "history", "C1")["versions"] == versions
    actions = {r["action"] for r in fleet.ccj("audit", "list") if r["actor"].startswith("cli:")}
    assert {"config.set", "config.show", "config.history"} <= actions, actions


def test_store_holds_ciphertext_only(world):
    import sqlite3
    fleet = world["fleet"]
    c = sqlite3.connect(f"file:{fleet.data / 'coffeecloud.db'}?mode=ro", uri=True)
    try:
        rows = c.execute("SELECT doc, why FROM machine_config_desired").fetchall()
        reports = c.execute("SELECT body FROM machine_config_reported").fetchall()
    finally:
        c.close()
    assert rows and reports
    for blob in [b for r in rows for b in r] + [r[0] for r in reports]:
        assert b"water_ml" not in blob and b"standby" not in blob and b"espresso" not in blob
