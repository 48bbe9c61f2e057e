"""The simulator's scenarios (docs/SIMULATOR.md) against the real daemon:
30 hours of history made in seconds (--backfill-hours), four machines each
doing one thing wrong, a fifth doing nothing wrong; the quality and service
reports and the alerts find each one, and only where it happened."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402

SIM = ccdaemon.BUILD_DIR / "coffeecloud-sim"
HOURS = 30
STEP_S = 30  # model seconds per message (--speedup with --rate 0)
COUNT = HOURS * 3600 // STEP_S
SCENARIOS = ("out-of-spec", "warm-fridge", "skipped-cleaning", "worn-filter", "none")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("scenarios"), machines=(), customer="cafe-s")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}", "alerts_tick_ms": "200"})
    d.start()
    try:
        version = f.ccj("policy", "publish")["version"]
        p = subprocess.run([str(SIM), "--data", str(f.data), "--machines", str(len(SCENARIOS)), "--customer",
                            "cafe-s", "--port", str(d.tls_port), "--rate", "0", "--speedup", str(STEP_S),
                            "--count", str(COUNT), "--backfill-hours", str(HOURS), "--scenario",
                            ",".join(SCENARIOS), "--quiet"],
                           capture_output=True, text=True, timeout=600, env=ccdaemon.base_env())
        ccdaemon.assert_no_sanitizer_report(p.stderr, "sim")
        assert p.returncode == 0, p.stdout + p.stderr
        run = json.loads(p.stdout.splitlines()[-1])
        f.cc("user", "add", "--org", "cafe-s", "--login", "mgr-s", "--role", "customer_manager", "--email",
             "mgr-s@example.org", "--password-stdin", stdin=ccdaemon.password_of("mgr-s") + "\n")
        f.cc("consent", "record", "--customer", "cafe-s", "--version", str(version), "--by", "mgr-s")
        api = checked(Api(port, f.data / "ca.crt"))
        token = api.login("admin", ccdaemon.PASSWORD)
        yield {"fleet": f, "daemon": d, "api": api, "token": token, "run": run}
    finally:
        d.stop()


def get(w, path):
    status, doc, _ = w["api"].call("GET", path, token=w["token"])
    assert status == 200, (path, doc)
    return doc


def serial(i):
    return f"SIM-{i + 1:04d}"


def alerts(w, rule):
    """The open alerts of a rule, as {serial: [cause]}."""
    doc = get(w, f"/api/v1/alerts?rule={rule}&state=open&limit=200")
    out = {}
    for a in doc["alerts"]:
        out.setdefault(a["serial"], []).append(a["cause"])
    return out


def test_every_message_was_taken(world):
    run = world["run"]
    assert run["acked"] == COUNT * len(SCENARIOS), run


def test_compliance_finds_each_quality_scenario_and_only_there(world):
    w = world
    doc = get(w, "/api/v1/compliance?org=cafe-s")  # the last 7 days: the whole history
    machines = {m["serial"]: m for m in doc["machines"]}
    oos, fridge, skipped = machines[serial(0)], machines[serial(1)], machines[serial(2)]
    control = machines[serial(4)]
    # Every brew of the out-of-spec machine is too cold; the control machine's are nearly all in spec.
    assert oos["brews"] > 50 and oos["in_spec_pct"] < 5, oos
    assert control["brews"] > 50 and control["in_spec_pct"] > 85, control
    # The warm fridge is beyond its limit nearly all the time; any model's fridge may drift
    # warm now and then (for at most two hours at a time), so the control is held to less.
    def warm_hours(m):
        return sum(b["to_ms"] - b["from_ms"] for b in m["breaches"]) / 3600000
    assert fridge["telemetry_breaches"] >= 1 and warm_hours(fridge) > HOURS - 6, fridge["breaches"]
    assert warm_hours(control) < 12, control["breaches"]
    # The skipped cleaning is overdue; the control machine cleaned its milk system.
    milk = {m["serial"]: next(c for c in m["schedule"] if c["program"] == "milk_system")
            for m in (skipped, control)}
    assert milk[serial(2)]["done"] == 1 and milk[serial(2)]["overdue"] >= 1, milk
    assert milk[serial(4)]["done"] >= 1, milk


def test_the_alerts_of_each_scenario(world):
    w = world
    want = {"quality_breach": serial(0), "telemetry_breach": serial(1), "cleaning_overdue": serial(2),
            "consumable_low": serial(3)}

    def raised():
        got = {rule: alerts(w, rule) for rule in want}
        return got if all(s in got[rule] for rule, s in want.items()) else None
    got = ccdaemon.poll_until(raised, "each scenario's alert")
    assert got["telemetry_breach"][serial(1)] == ["telemetry_breach:milk_fridge_temp_c"]
    assert "cleaning_overdue:milk_system" in got["cleaning_overdue"][serial(2)]
    assert "consumable_low:water_filter" in got["consumable_low"][serial(3)]


def test_the_worn_filter_is_overdue_in_the_forecasts(world):
    doc = get(world, "/api/v1/forecasts?customer=cafe-s")
    services = {m["serial"]: {s["service"]: s for s in m["services"]} for m in doc["machines"]}
    assert services[serial(3)]["water_filter"]["status"] == "overdue", services[serial(3)]["water_filter"]
    assert any(o["serial"] == serial(3) and o["service"] == "water_filter" for o in doc["overdue"]), doc["overdue"]
