"""Beverage statistics and maintenance forecasts end to end
(docs/OPERATIONS.md): real machines publish over MQTT/TLS (paho) what the
test scripts; GET /api/v1/beverages counts their brews per product, local
day and hour, and reconciles them with the cup counter (a gap the test made
on purpose is shown); GET /api/v1/forecasts forecasts a worn water filter
from its usage rate, and the maintenance_due_soon alert opens. Who sees
what follows roles, scope and consent; the CLI twins agree."""
import sys
import time
from collections import Counter
from datetime import datetime, timezone
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
ZONE = "Europe/Budapest"


def now_ms():
    return int(time.time() * 1000)


# Beverages: two whole days (UTC) well before today.
D = (now_ms() // DAY - 3) * DAY
# Forecasts: a reading a day for 15 days, the last two hours ago; the first
# is just before the 14-day rate window, so the rate is measured from it.
T0 = now_ms() - 14 * DAY - 2 * HOUR


class Machine:
    """What one machine publishes, and its own record of it."""

    def __init__(self, serial):
        self.serial, self.seq = serial, 0
        self.events, self.telemetry = [], []
        self.brews = []  # (ts, product)

    def _next(self):
        self.seq += 1
        return self.seq

    def brew(self, ts, product):
        self.brews.append((ts, product))
        self.events.append({"seq": self._next(), "ts": ts, "type": "brew", "product": product, "volume_ml": 30,
                            "temp_c": 93.0, "brew_time_s": 25.0})

    def event(self, ts, **fields):
        self.events.append({"seq": self._next(), "ts": ts, **fields})

    def metrics(self, ts, **m):
        self.telemetry.append({"seq": self._next(), "ts": ts, "m": m})


def beverage_machines():
    u1, u2, b1 = Machine("U1"), Machine("U2"), Machine("B1")
    for i in range(5):
        u1.brew(D + 10 * HOUR + i * 5 * MIN, "espresso")
    for i in range(3):
        u1.brew(D + 10 * HOUR + 30 * MIN + i * 5 * MIN, "cappuccino")
    # 23:30 UTC is 00:30 the next day in Budapest: a local day and hour.
    u1.brew(D + 23 * HOUR + 30 * MIN, "espresso")
    for i in range(4):
        u1.brew(D + DAY + 8 * HOUR + i * 5 * MIN, "espresso")
    # The cup counter: 9 brews on day D, then 7 on D+1 of which only 4 were
    # told as events: 3 lost.
    u1.metrics(D + 9 * HOUR, cup_counter=1000)
    u1.metrics(D + 23 * HOUR + 45 * MIN, cup_counter=1009)
    u1.metrics(D + DAY + 7 * HOUR, cup_counter=1009)
    u1.metrics(D + DAY + 9 * HOUR, cup_counter=1016)
    for i in range(2):
        u2.brew(D + 12 * HOUR + i * MIN, "lungo")
    for i in range(7):
        b1.brew(D + 12 * HOUR + i * MIN, "espresso")
    return u1, u2, b1


def forecast_machine():
    f1 = Machine("F1")
    for k in range(15):
        f1.metrics(T0 + k * DAY, filter_used_pct=5.0 + 5 * k, water_hardness_dh=10.0,
                   brew_unit_cycles=45000 + 400 * k, water_used_l=1000.0 + 20 * k)
    f1.event(T0 + 5 * DAY + HOUR, type="maintenance", action="brew_unit_change", counter=47000)
    f1.event(T0 + 12 * DAY + HOUR, type="cleaning", program="descale", result="ok", duration_s=1200)
    return f1


USERS = (("eng-m", "manufacturer", "engineer"), ("tech-m", "manufacturer", "technician"),
         ("mgr-a", "cafe-a", "customer_manager"), ("mgr-b", "cafe-b", "customer_manager"),
         ("sales-m", "manufacturer", "sales"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("usage"), machines=("U1", "U2", "F1"), customer="cafe-a")
    f.cc("site", "add", "--customer", "cafe-a", "--name", "bar-1", "--timezone", ZONE)
    f.cc("machine", "move", "U1", "--site", "bar-1")
    f.cc("machine", "move", "F1", "--site", "bar-1")
    f.add_customer("cafe-b")
    f.add_machine("B1", customer="cafe-b")
    for login, org, role in USERS:
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}", "alerts_tick_ms": "200"})
    d.start()
    api = checked(Api(port, f.data / "ca.crt"))
    tokens = {login: api.login(login, ccdaemon.password_of(login)) for login, _, _ in USERS}
    tokens["admin"] = api.login("admin", ccdaemon.PASSWORD)
    status, doc, _ = api.call("POST", "/api/v1/policy/versions", {}, token=tokens["admin"])
    assert status == 201, doc
    for mgr, customer in (("mgr-a", "cafe-a"), ("mgr-b", "cafe-b")):
        status, body, _ = api.call("POST", "/api/v1/consents", {"customer": customer, "version": doc["version"]},
                                   token=tokens[mgr])
        assert status == 201, body
    machines = beverage_machines() + (forecast_machine(),)
    for m in machines:
        p = Paho(d, f.machines[m.serial])
        p.connect()
        for e in m.events:
            p.publish("event", e)
        for t in m.telemetry:
            p.publish("telemetry", t)
        p.disconnect()
    w = {"fleet": f, "daemon": d, "api": api, "tokens": tokens, "machines": {m.serial: m for m in machines}}
    yield w
    d.stop()


def call(w, who, path):
    status, doc, _ = w["api"].call("GET", path, None, token=w["tokens"][who])
    return status, doc


def beverages(w, who="eng-m", **query):
    query.setdefault("from", D)
    query.setdefault("to", D + 2 * DAY)
    status, doc = call(w, who, "/api/v1/beverages?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert status == 200, doc
    return doc


def settled(w):
    """Every brew published is counted, the counter read."""
    def ready():
        doc = beverages(w, group_by="machine")
        got = {r["machine"]: r["beverages"] for r in doc["rows"]}
        u1 = next(m for m in doc["machines"] if m["serial"] == "U1")
        return doc if got == {"U1": 13, "U2": 2, "B1": 7} and u1["counter_total"] == 16 else None
    return ccdaemon.poll_until(ready, "the brews counted")


def local(ts, serial):
    zone = ZoneInfo(ZONE) if serial in ("U1", "F1") else timezone.utc
    t = datetime.fromtimestamp(ts / 1000, zone)
    return t.strftime("%Y-%m-%d"), t.hour


def expected(w, serials, keys):
    c = Counter()
    for s in serials:
        for ts, product in w["machines"][s].brews:
            day, hour = local(ts, s)
            row = {"product": product, "machine": s, "day": day, "hour": hour}
            c[tuple(row[k] for k in keys)] += 1
    return c


def rows_of(doc, keys):
    return Counter({tuple(r[k] for k in keys): r["beverages"] for r in doc["rows"]})


def test_counts_per_product_and_local_day(world):
    settled(world)
    doc = beverages(world, group_by="product,day")
    assert doc["group_by"] == ["product", "day"]
    want = expected(world, ("U1", "U2", "B1"), ("product", "day"))
    assert rows_of(doc, ("product", "day")) == want
    # The 23:30 UTC espresso is the next local day at the Budapest site.
    day0, day1 = local(D + 10 * HOUR, "U1")[0], local(D + DAY + 8 * HOUR, "U1")[0]
    assert want[("espresso", day1)] == 5 and want[("espresso", day0)] == 5 + 7
    assert doc["total"]["beverages"] == 22 and doc["total"]["event_total"] == 22
    # Only the keys asked for, never a price.
    assert all(set(r) == {"product", "day", "beverages"} for r in doc["rows"])


def test_counts_per_local_hour_of_one_machine(world):
    settled(world)
    doc = beverages(world, group_by="day,hour", machine="U1")
    assert rows_of(doc, ("day", "hour")) == expected(world, ("U1",), ("day", "hour"))
    hours = {r["hour"] for r in doc["rows"]}
    assert 11 in hours and 0 in hours and 10 not in hours  # 10:00 UTC is 11:00 in Budapest in winter
    doc = beverages(world, group_by="site,product")
    assert {(r["site"], r["product"]): r["beverages"] for r in doc["rows"]} == {
        ("bar-1", "espresso"): 10, ("bar-1", "cappuccino"): 3, (None, "lungo"): 2, (None, "espresso"): 7}


def test_the_gap_is_shown(world):
    doc = settled(world)
    u1 = {m["serial"]: m for m in doc["machines"]}
    assert (u1["U1"]["event_total"], u1["U1"]["counter_total"], u1["U1"]["gap"]) == (13, 16, 3)
    # A machine that sends no cup counter has nothing to reconcile.
    assert (u1["U2"]["event_total"], u1["U2"]["counter_total"], u1["U2"]["gap"]) == (2, None, None)
    assert doc["total"]["gap"] == 3 and doc["total"]["counter_total"] == 16
    assert doc["total"]["machines_with_counter"] == 1


def test_who_sees_beverages(world):
    settled(world)
    # A customer's manager: its own machines only, whatever it asks for.
    doc = beverages(world, "mgr-a", group_by="machine")
    assert {r["machine"] for r in doc["rows"]} == {"U1", "U2"}
    assert {m["serial"] for m in doc["machines"]} == {"U1", "U2", "F1"}
    status, _ = call(world, "mgr-a", f"/api/v1/beverages?customer=cafe-b&from={D}&to={D + 2 * DAY}")
    assert status == 404
    # The manufacturer's sales: the whole fleet's.
    doc = beverages(world, "sales-m", group_by="product")
    assert sum(r["beverages"] for r in doc["rows"]) == 22
    # A role without the usage class is refused.
    status, doc = call(world, "tech-m", f"/api/v1/beverages?from={D}&to={D + 2 * DAY}")
    assert status == 403, doc
    for bad in ("group_by=price", "group_by=day,day", f"from={D}&to={D - 1}", f"from={D - 100 * DAY}"):
        status, _ = call(world, "eng-m", "/api/v1/beverages?" + bad)
        assert status == 400, bad


def test_beverages_cli_twin(world):
    api = beverages(world, group_by="product,day")
    cli = world["fleet"].ccj("report", "beverages", "--group-by", "product,day", "--from", D, "--to", D + 2 * DAY)
    assert cli["rows"] == api["rows"] and cli["total"] == api["total"]
    text = world["fleet"].cc("report", "beverages", "--serial", "U1", "--from", D, "--to", D + 2 * DAY).stdout
    assert "GAP" in text and "U1" in text


def forecasts(w, who="eng-m", **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    status, doc = call(w, who, "/api/v1/forecasts" + ("?" + q if q else ""))
    assert status == 200, doc
    return doc


def f1_services(w, **query):
    def ready():
        doc = forecasts(w, machine="F1", **query)
        svc = {s["service"]: s for s in doc["machines"][0]["services"]}
        basis = svc["brew_unit"]["last_service"], svc["descaling"]["last_service"]
        return (doc, svc) if svc["water_filter"]["counter"]["value"] == 75.0 and all(basis) else None
    return ccdaemon.poll_until(ready, "the forecast read")


def test_worn_filter_forecast(world):
    doc, svc = f1_services(world)
    now = doc["now"]
    f = svc["water_filter"]
    # 150 l at 10 dH; 75 % used: 112.5 l; 5 % a day: 7.5 l a day; 37.5 l left: 5 days.
    assert (f["interval"], f["used"], f["remaining"], f["rate_per_day"]) == (150.0, 112.5, 37.5, 7.5)
    assert f["unit"] == "l" and f["hardness_dh"] == 10.0
    assert f["due_ms"] == now + int(37.5 / 7.5 * DAY) and f["status"] == "due_soon"
    # Listed for the service company: cafe-a is served by the manufacturer itself.
    assert doc["due_soon"] == [{"serial": "F1", "site": "bar-1", "customer": "cafe-a", "service": "water_filter",
                                "due_ms": f["due_ms"], "service_company": "manufacturer"}]
    # The brew unit counts from its change (the maintenance event's counter).
    b = svc["brew_unit"]
    assert b["last_service"]["counter"] == 47000 and b["last_service"]["source"] == "maintenance"
    assert (b["used"], b["rate_per_day"], b["status"]) == (50600 - 47000, 400.0, "ok")
    assert b["due_ms"] == now + int((50000 - 3600) / 400.0 * DAY)
    # Descaling: water drawn since the descaling program ran, 450 l at 10 dH.
    s = svc["descaling"]
    assert s["last_service"]["source"] == "cleaning" and s["interval"] == 450.0
    assert (s["used"], s["rate_per_day"], s["status"]) == (20.0, 20.0, "ok")
    # No grinder counter: no forecast, said so.
    assert svc["grinder_burrs"]["status"] == "unknown" and svc["grinder_burrs"]["due_ms"] is None
    # Within 2 days nothing is due; within 30 the descaling too.
    assert forecasts(world, machine="F1", due_within_days=2)["due_soon"] == []
    assert {x["service"] for x in forecasts(world, machine="F1", due_within_days=30)["due_soon"]} == {
        "water_filter", "descaling"}
    assert doc["overdue"] == []


def test_who_sees_forecasts(world):
    f1_services(world)
    assert {m["serial"] for m in forecasts(world, "mgr-a")["machines"]} == {"U1", "U2", "F1"}
    assert {m["serial"] for m in forecasts(world, "mgr-b")["machines"]} == {"B1"}
    status, _ = call(world, "sales-m", "/api/v1/forecasts")
    assert status == 403
    status, _ = call(world, "eng-m", "/api/v1/forecasts?due_within_days=400")
    assert status == 400


def test_forecasts_cli_twin(world):
    doc, _ = f1_services(world)
    cli = world["fleet"].ccj("report", "forecasts", "--serial", "F1")
    assert [s["service"] for s in cli["machines"][0]["services"]] == [
        s["service"] for s in doc["machines"][0]["services"]]
    assert [x["service"] for x in cli["due_soon"]] == ["water_filter"]
    text = world["fleet"].cc("report", "forecasts", "--serial", "F1").stdout
    assert "water_filter" in text and "due_soon" in text


def test_due_soon_alert(world):
    f1_services(world)

    def opened():
        status, doc = call(world, "eng-m", "/api/v1/alerts?serial=F1&rule=maintenance_due_soon&state=open")
        assert status == 200, doc
        return doc["alerts"] or None
    alerts = ccdaemon.poll_until(opened, "the due-soon alert")
    assert [a["cause"] for a in alerts] == ["maintenance_due_soon:water_filter"]
    assert alerts[0]["severity"] == "warning"


def test_descaling_from_brews_without_a_water_counter(world):
    """The simulator sends no water counter: descaling counts the water of
    the brews (U1: 13 brews of 30 ml, no descaling seen)."""
    settled(world)
    doc = forecasts(world, machine="U1")
    s = {x["service"]: x for x in doc["machines"][0]["services"]}["descaling"]
    assert s["counter"]["metric"] == "brew.volume_ml" and s["last_service"] is None
    assert s["used"] == pytest.approx(13 * 0.030) and s["interval"] == 450.0
    first = D + 10 * HOUR
    assert s["rate_per_day"] == pytest.approx(13 * 0.030 / ((doc["now"] - first) / DAY), rel=1e-3)
    assert s["status"] == "ok" and s["due_ms"] > doc["now"]
