"""The agent's configuration side (docs/AGENT.md "Remote configuration")
against the real daemon: a barista-pro built on libcoffeecloud-agent
(tests/agent/agent_config_driver.c, one process per boot, its flash a
directory) receives the desired configuration people set, checks it again
against what its firmware declares, applies it through the firmware's
callback and reports what it runs, retained; or reports the refusal with
its reason: the agent's own bounds (narrower than the model's), then the
firmware's. A full menu too large for a command is fetched over HTTPS with
the machine's certificate. The last version handled survives a reboot, and a
setting changed at the panel shows as drift. One daemon for the module;
every wait polls the API."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from ccdaemon import poll_until  # noqa: E402
from oas import checked  # noqa: E402

DRIVER = ccdaemon.BUILD_DIR / "cc-agent-config-test"
PRODUCTS = ["espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme", "cappuccino",
            "latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_water", "hot_milk",
            "milk_foam", "chocolate", "tea"]
MILK = {"cappuccino", "latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_milk",
        "milk_foam", "chocolate"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agent-config")
    fleet = ccdaemon.Fleet.create(tmp / "f", machines=("A1",), model="barista-pro")
    fleet.cc("user", "add", "--org", "manufacturer", "--login", "tech", "--role", "technician",
             "--password-stdin", stdin=ccdaemon.password_of("tech") + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        people = checked(Api(port, fleet.data / "ca.crt"))
        yield {"tmp": tmp, "fleet": fleet, "daemon": d, "port": port, "people": people,
               "tech": people.login("tech", ccdaemon.password_of("tech"))}


class Machine:
    """One boot of the simulated machine, running until stopped."""

    def __init__(self, w, *extra):
        m = w["fleet"].machines["A1"]
        self.p = subprocess.Popen(
            [str(DRIVER), "--dir", str(w["tmp"] / "dev"), "--serial", "A1", "--model", "barista-pro",
             "--factory", "1.0.0", "--url", f"https://localhost:{w['port']}", "--ca", str(m.ca), "--cert",
             str(m.cert), "--key", str(m.key), "--mqtt", f"localhost:{w['daemon'].tls_port}",
             "--water-max", "100", "--grinder-max", "20", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ccdaemon.base_env())
        self.start = json.loads(self.p.stdout.readline())
        assert self.start["op"] == "start" and self.start["rc"] == "ok", self.start

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)
        out, err = self.p.communicate()
        ccdaemon.assert_no_sanitizer_report(err, "cc-agent-config-test")
        return out


def set_config(w, doc, reason="service"):
    status, got, _ = w["people"].call("POST", "/api/v1/machines/A1/config", {"config": doc, "reason": reason},
                                      token=w["tech"])
    assert status == 201, got
    return got["version"]


def job_of(w, version):
    status, doc, _ = w["people"].call("GET", "/api/v1/machines/A1/config/history", token=w["tech"])
    assert status == 200, doc
    return [v["job"] for v in doc["versions"] if v["version"] == version][0]


def config_of(w):
    status, doc, _ = w["people"].call("GET", "/api/v1/machines/A1/config", token=w["tech"])
    assert status == 200, doc
    return doc


def settled(w, version):
    """The machine's report of version, once it came."""
    return poll_until(lambda: (lambda c: c if c.get("reported", {}).get("version") == version else None)(
        config_of(w)), f"the machine's report of version {version}")


def test_received_checked_applied_reported_kept_across_reboots(world):
    w = world
    m = Machine(w)
    assert (m.start["version"], m.start["applied"]) == (0, 0), m.start
    try:
        v1 = set_config(w, {"recipes": {"espresso": {"water_ml": 30, "grounds_g": 9.0}},
                            "settings": {"panel_language": "de", "standby_min": 30}})
        c = settled(w, v1)
        assert c["status"] == "in_sync" and c["reported"]["state"] == "applied", c
        assert c["reported"]["config"] == {"recipes": {"espresso": {"water_ml": 30, "grounds_g": 9.0}},
                                           "settings": {"panel_language": "de", "standby_min": 30}}, c

        # Within the model's range (5..500 ml), beyond what this firmware declares (100).
        v2 = set_config(w, {"recipes": {"lungo": {"water_ml": 200}}})
        c = settled(w, v2)
        assert c["status"] == "rejected" and c["reason"] == "recipes.lungo.water_ml: out of range 5..100", c
        # The firmware's own refusal, in its words.
        v3 = set_config(w, {"recipes": {"espresso": {"grounds_g": 24.0}}})
        c = settled(w, v3)
        assert c["status"] == "rejected" and c["reason"] == "grinder cannot dose that much", c
        assert c["reported"]["config"]["recipes"]["espresso"]["grounds_g"] == 9.0, c  # still what it runs

        # A full menu: too large for a command, fetched with the machine's certificate.
        menu = {"recipes": {p: {"water_ml": 40, "grounds_g": 9.5, "brew_temp_c": 93.5, "preinfusion_s": 2.5,
                                "size_scaling_pct": 100, **({"milk_foam_ratio": 0.5} if p in MILK else {})}
                            for p in PRODUCTS},
                "settings": {"standby_min": 45, "boiler_temp_c": 95.5, "steam_temp_c": 125.5, "rinse_every_h": 8,
                             "milk_clean_every_h": 24, "descale_every_l": 400, "panel_language": "fr"}}
        assert len(json.dumps(menu, separators=(",", ":"))) > 2048
        v4 = set_config(w, menu, "full menu")
        c = settled(w, v4)
        assert c["status"] == "in_sync", c
        assert c["reported"]["config"]["recipes"]["tea"] == menu["recipes"]["tea"], c
    finally:
        out = m.stop()
    assert [json.loads(x)["op"] for x in out.splitlines()].count("config") >= 2, out

    # Reboot: the version handled is kept; at the panel someone shortens the standby.
    m = Machine(w, "--panel", "standby_min=5")
    try:
        assert (m.start["version"], m.start["applied"]) == (v4, 1), m.start
        c = poll_until(lambda: (lambda c: c if c["status"] == "drifted" else None)(config_of(w)),
                       "the panel's change as drift")
        assert c["drift"] == "settings.standby_min" and c["version"] == v4, c
        # Set again from here: in sync again.
        v5 = set_config(w, {"settings": {"standby_min": 45}})
        assert settled(w, v5)["status"] == "in_sync"
    finally:
        m.stop()
    # Each config command ended with the machine's result: the refusals' reasons too.
    v3_job = w["fleet"].ccj("job", "show", str(job_of(w, v3)))["targets"][0]
    assert (v3_job["state"], v3_job["reason"]) == ("failed", "grinder cannot dose that much"), v3_job
