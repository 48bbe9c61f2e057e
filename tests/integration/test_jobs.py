"""Jobs (src/fleet/jobs.h, docs/METRICS.md "Commands and jobs"): one command for
many machines, each target through queued -> sent -> acknowledged ->
succeeded | failed | timed out | cancelled, driven by real MQTT clients
(paho, MQTT 5 and 3.1.1, over TLS) against the real daemon, read back with
the admin CLI. Nothing sleeps: waits are for a paho callback, a log line or
a CLI answer, each bounded (ccdaemon.TIMEOUT).
"""
import json
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
SERIALS = ("J1", "J2", "J3", "J4", "J5", "J6", "J7", "J8")


class Machine:
    """A machine on paho (its loop thread), subscribed to its command topics."""

    def __init__(self, d, m, v5=True):
        self.m = m
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5 if v5 else paho.MQTTv311)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.messages = queue.Queue()
        self.acked = queue.Queue()
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.c.on_connect = lambda *a: self.connected.set()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.c.on_publish = lambda c, u, mid: self.acked.put(mid)
        self.c.connect("127.0.0.1", d.tls_port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        self.c.subscribe(f"cc/v1/{m.serial}/cmd/#", qos=1)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"

    def command(self):
        """The next command: (name, id, body)."""
        try:
            topic, payload = self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{self.m.serial}: no command within {TIMEOUT} s")
        match = re.fullmatch(rf"cc/v1/{self.m.serial}/cmd/([a-z-]+)/([1-9][0-9]*)", topic)
        assert match, topic
        return match.group(1), int(match.group(2)), json.loads(payload)

    def report(self, cid, state, reason=None, serial=None):
        """Publishes a result (QoS 1) and waits for its PUBACK."""
        doc = {"state": state} if reason is None else {"state": state, "reason": reason}
        info = self.c.publish(f"cc/v1/{serial or self.m.serial}/cmd/{cid}/result", json.dumps(doc), qos=1)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), "no PUBACK for the result"

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("jobs"), machines=SERIALS)
    f.add_customer("cafe-b")
    f.add_machine("K1", customer="cafe-b", model="barista-pro")
    return f


@pytest.fixture(scope="module")
def d(fleet):
    with ccdaemon.Daemon(fleet) as daemon:
        yield daemon


def create(fleet, *args):
    doc = fleet.ccj("job", "create", *args)
    assert isinstance(doc["id"], int) and doc["id"] > 0, doc
    return doc


def show(fleet, job):
    return fleet.ccj("job", "show", str(job))


def target(doc, serial):
    return next(t for t in doc["targets"] if t["serial"] == serial)


def states_are(fleet, job, want):
    """Polls until the job's targets are in the states of want (serial -> state)."""
    def check():
        doc = show(fleet, job)
        got = {t["serial"]: t["state"] for t in doc["targets"]}
        return doc if got == want else None
    return ccdaemon.poll_until(check, f"job {job} in states {want}")


def test_a_job_to_three_machines_goes_through_each_state(fleet, d):
    j = create(fleet, "--command", "diagnostics", "--body", '{"level":"full"}', "--serial", "J1,J2,J3")
    assert j["command"] == "diagnostics" and j["targets_total"] == 3 and j["target"] == "serials"
    assert j["counts"]["queued"] == 3
    audit = fleet.ccj("audit", "list", "--action", "job.create")
    assert audit[0]["machines"] == ["J1", "J2", "J3"] and audit[0]["actor"].startswith("cli:"), audit
    assert all(t["state"] == "queued" and ISO.fullmatch(t["queued"]) and "sent" not in t for t in j["targets"])
    machines = [Machine(d, fleet.machines[s]) for s in ("J1", "J2", "J3")]
    try:
        ids = {}
        for mc in machines:
            name, cid, body = mc.command()
            assert (name, body) == ("diagnostics", {"level": "full"})
            ids[mc.m.serial] = cid
        assert ids == {t["serial"]: t["command_id"] for t in j["targets"]}
        doc = states_are(fleet, j["id"], {"J1": "sent", "J2": "sent", "J3": "sent"})
        assert all(ISO.fullmatch(t["sent"]) for t in doc["targets"])
        for mc in machines:
            mc.report(ids[mc.m.serial], "accepted")
        doc = states_are(fleet, j["id"], {"J1": "acknowledged", "J2": "acknowledged", "J3": "acknowledged"})
        assert all(ISO.fullmatch(t["acknowledged"]) for t in doc["targets"])
        machines[0].report(ids["J1"], "succeeded", "boiler 93.5 C, pump ok")
        machines[1].report(ids["J2"], "failed", "grinder blocked")
        machines[2].report(ids["J3"], "succeeded")
        doc = states_are(fleet, j["id"], {"J1": "succeeded", "J2": "failed", "J3": "succeeded"})
    finally:
        for mc in machines:
            mc.close()
    assert target(doc, "J1")["result"] == "boiler 93.5 C, pump ok"
    assert target(doc, "J2")["reason"] == "grinder blocked"
    assert all(ISO.fullmatch(t["ended"]) for t in doc["targets"])
    assert doc["counts"] == {"queued": 0, "sent": 0, "acknowledged": 0, "succeeded": 2, "failed": 1,
                             "timed_out": 0, "cancelled": 0}
    listed = next(x for x in fleet.ccj("job", "list") if x["id"] == j["id"])
    assert listed["counts"] == doc["counts"] and "targets" not in listed
    # machine commands still lists them, with the job.
    rows = fleet.ccj("machine", "commands", "J2")
    assert [(r["job"], r["state"], r["reason"]) for r in rows] == [(j["id"], "failed", "grinder blocked")]


def test_a_machine_offline_at_creation_gets_it_when_it_connects(fleet, d):
    j = create(fleet, "--command", "config", "--body", '{"ref":"late"}', "--serial", "J4")
    assert show(fleet, j["id"])["targets"][0]["state"] == "queued"
    with Machine(d, fleet.machines["J4"], v5=False) as mc:  # MQTT 3.1.1 too
        name, cid, body = mc.command()
        assert (name, body) == ("config", {"ref": "late"})
        mc.report(cid, "succeeded")
        states_are(fleet, j["id"], {"J4": "succeeded"})


def test_machine_command_is_a_one_target_job(fleet, d):
    out = fleet.ccj("machine", "command", "J4", "--name", "update-offer", "--body", '{"offer":"winter"}')
    doc = show(fleet, out["job"])
    assert [t["command_id"] for t in doc["targets"]] == [out["id"]] and doc["command"] == "update-offer"
    with Machine(d, fleet.machines["J4"]) as mc:
        assert mc.command() == ("update-offer", out["id"], {"offer": "winter"})
        states_are(fleet, out["job"], {"J4": "sent"})


def test_a_filter_selects_at_creation_and_only_what_it_names(fleet, d):
    j = create(fleet, "--command", "diagnostics", "--customer", "cafe-b", "--model", "barista-pro")
    assert [t["serial"] for t in j["targets"]] == ["K1"] and j["target"] == "filter"
    none = fleet.cc("job", "create", "--command", "diagnostics", "--customer", "cafe-b", "--model", "nope",
                    rc=3)
    assert "no machine matches" in none.stderr
    assert fleet.cc("job", "create", "--command", "diagnostics", "--serial", "J1,NOPE", rc=3).stderr.count("NOPE")
    assert fleet.cc("job", "create", "--command", "reboot", "--serial", "J1", rc=2).returncode == 2
    assert fleet.cc("job", "create", "--command", "diagnostics", "--group", "espresso-bar", rc=2).returncode == 2


def test_a_group_of_machines_listed_or_dynamic(fleet, d):
    """--group ID: a listed group's machines (its sub-groups' too), or those a
    dynamic group's filter selects when the job is made."""
    bar = fleet.ccj("group", "add", "--customer", "cafe-a", "--name", "bar")
    corner = fleet.ccj("group", "add", "--customer", "cafe-a", "--name", "corner", "--parent", "bar")
    fleet.cc("group", "add-machine", "--customer", "cafe-a", "--name", "bar", "--serial", SERIALS[0])
    fleet.cc("group", "add-machine", "--customer", "cafe-a", "--name", "corner", "--serial", SERIALS[1])
    j = create(fleet, "--command", "diagnostics", "--group", str(bar["id"]))
    assert sorted(t["serial"] for t in j["targets"]) == sorted(SERIALS[:2])
    j = create(fleet, "--command", "diagnostics", "--group", str(corner["id"]))
    assert [t["serial"] for t in j["targets"]] == [SERIALS[1]]
    dyn = fleet.ccj("group", "add", "--customer", "cafe-b", "--name", "pros", "--filter", '{"model": "barista-pro"}')
    j = create(fleet, "--command", "diagnostics", "--group", str(dyn["id"]))
    assert [t["serial"] for t in j["targets"]] == ["K1"]
    fleet.cc("job", "create", "--command", "diagnostics", "--group", "999999", rc=3)


def test_timeout_ends_open_commands_and_a_late_result_is_counted(fleet, d):
    j = create(fleet, "--command", "diagnostics", "--serial", "J5", "--timeout", "1")
    doc = states_are(fleet, j["id"], {"J5": "timed_out"})
    t = doc["targets"][0]
    assert ISO.fullmatch(t["ended"]) and "sent" not in t
    # Not delivered after it timed out; a result for it is ignored, counted.
    mark = d.mark()
    with Machine(d, fleet.machines["J5"]) as mc:
        fresh = fleet.ccj("machine", "command", "J5", "--name", "config")
        name, cid, _ = mc.command()
        assert (name, cid) == ("config", fresh["id"]), "the timed-out command was delivered"
        mc.report(t["command_id"], "succeeded")
        d.wait_for(r"result for command \d+ came after it ended", since=mark)
    doc = show(fleet, j["id"])
    assert doc["targets"][0]["state"] == "timed_out" and doc["targets"][0]["late_results"] == 1
    assert doc["late_results"] == 1


def test_cancel(fleet, d):
    j = create(fleet, "--command", "update-offer", "--serial", "J6,J7")
    with Machine(d, fleet.machines["J6"]) as mc:
        _, cid, _ = mc.command()
        mc.report(cid, "succeeded")
        states_are(fleet, j["id"], {"J6": "succeeded", "J7": "queued"})
    out = fleet.ccj("job", "cancel", str(j["id"]))
    assert out == {"id": j["id"], "cancelled": 1}, "only the open target is cancelled"
    doc = states_are(fleet, j["id"], {"J6": "succeeded", "J7": "cancelled"})
    assert ISO.fullmatch(doc["cancelled"]) and doc["cancelled_by"].startswith("cli:")
    with Machine(d, fleet.machines["J7"]) as mc:
        fresh = fleet.ccj("machine", "command", "J7", "--name", "config")
        assert mc.command()[1] == fresh["id"], "a cancelled command was delivered"
    assert fleet.cc("job", "cancel", "999999", rc=3).returncode == 3


def test_results_are_judged(fleet, d):
    """Another machine's command looks like none; a result on another
    machine's topic is not allowed; a malformed or personal one is refused."""
    j = create(fleet, "--command", "diagnostics", "--serial", "J8")
    theirs = j["targets"][0]["command_id"]
    with Machine(d, fleet.machines["J1"]) as mc:
        mark = d.mark()
        mc.report(theirs, "succeeded")
        d.wait_for(r"J1: refused a message: no such command for this machine", since=mark)
        mark = d.mark()
        mc.report(theirs, "succeeded", serial="J8")  # not its topic
        d.wait_for(r"J1: refused a publish outside its own topics", since=mark)
    with Machine(d, fleet.machines["J8"]) as mc:
        _, cid, _ = mc.command()
        assert cid == theirs
        for bad, why in (({"state": "done"}, "a result is"), ({"state": "failed", "extra": 1}, "a result is"),
                         ({"state": "failed", "reason": "x" * 81}, "at most 80 bytes"),
                         ({"state": "failed", "reason": "call me on +49 171 1234567"}, "personal or financial")):
            mark = d.mark()
            info = mc.c.publish(f"cc/v1/J8/cmd/{cid}/result", json.dumps(bad), qos=1)
            info.wait_for_publish(TIMEOUT)
            d.wait_for(r"J8: refused a message: .*" + why, since=mark)
        doc = states_are(fleet, j["id"], {"J8": "sent"})
        assert "reason" not in doc["targets"][0]
        mc.report(cid, "failed", "descaling needed")
        doc = states_are(fleet, j["id"], {"J8": "failed"})
        assert doc["targets"][0]["reason"] == "descaling needed"


def test_state_survives_a_daemon_restart(tmp_path):
    """Targets keep their states across a restart; a deadline that passed
    while the daemon was down times its command out once it is back."""
    f = ccdaemon.Fleet.create(tmp_path, machines=("R1", "R2"))
    with ccdaemon.Daemon(f) as d:
        j = create(f, "--command", "diagnostics", "--serial", "R1")
        with Machine(d, f.machines["R1"]) as mc:
            _, cid, _ = mc.command()
            mc.report(cid, "accepted")
            before = states_are(f, j["id"], {"R1": "acknowledged"})
        d.stop()
        short = create(f, "--command", "config", "--serial", "R2", "--timeout", "1")
        assert show(f, j["id"]) == before
        d.start()
        states_are(f, short["id"], {"R2": "timed_out"})
        with Machine(d, f.machines["R1"]) as mc:
            mc.report(cid, "succeeded", "all good")
            doc = states_are(f, j["id"], {"R1": "succeeded"})
            assert mc.messages.empty(), "an acknowledged command was sent again"
    assert target(doc, "R1")["acknowledged"] == target(before, "R1")["acknowledged"]
    assert target(doc, "R1")["result"] == "all good"


def test_the_simulator_completes_jobs(fleet, d):
    """coffeecloud-sim answers what it receives: accepted, then a diagnostics
    result, or (at --fail-rate 1) an update-offer's failure."""
    def sim(*args):
        argv = [str(ccdaemon.BUILD_DIR / "coffeecloud-sim"), "--data", str(fleet.data), "--port", str(d.tls_port),
                "--customer", "sim-jobs", "--prefix", "SJ", "--machines", "3", "--quiet", *map(str, args)]
        p = subprocess.run(argv, capture_output=True, text=True, env=ccdaemon.base_env(), timeout=120)
        ccdaemon.assert_no_sanitizer_report(p.stderr, "coffeecloud-sim")
        assert p.returncode == 0, ccdaemon.describe(argv, p)
        return json.loads(p.stdout.strip().splitlines()[-1])
    sim("--count", 1)  # provisions SJ-0001..3
    diag = create(fleet, "--command", "diagnostics", "--customer", "sim-jobs")
    offer = create(fleet, "--command", "update-offer", "--customer", "sim-jobs", "--body", '{"offer":"x"}')
    serials = ["SJ-0001", "SJ-0002", "SJ-0003"]
    assert sorted(t["serial"] for t in diag["targets"]) == serials
    summary = sim("--count", 3, "--rate", 3, "--fail-rate", 1)
    assert summary["commands_received"] == 6 and summary["commands_answered"] == 6, summary
    doc = states_are(fleet, diag["id"], {s: "succeeded" for s in serials})
    assert all(t["result"].startswith("boiler") for t in doc["targets"])
    doc = states_are(fleet, offer["id"], {s: "failed" for s in serials})
    assert all(t["reason"] == "offer rejected: product not on this machine" for t in doc["targets"])


# ---------------------------------------------------------------- the API

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from ccapi import Api
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("jobs-api"), machines=("A1", "A2"), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    f.add_machine("B1", customer="cafe-b", model="barista-pro")
    for login, org, role in (("tech-a", "cafe-a", "technician"), ("tech-b", "dist-b", "technician"),
                             ("sales-a", "cafe-a", "sales")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        api = Api(port, f.data / "ca.crt")
        tokens = {"admin": api.login("admin", ccdaemon.PASSWORD)}
        tokens.update({who: api.login(who, ccdaemon.password_of(who)) for who in ("tech-a", "tech-b", "sales-a")})
        yield {"fleet": f, "daemon": d, "api": api, "tokens": tokens}


def call(world, who, method, path, body=None):
    status, doc, _ = world["api"].call(method, path, body, token=world["tokens"][who])
    return status, doc


def test_api_jobs_are_scoped_and_audited(world):
    f, d = world["fleet"], world["daemon"]
    # Another customer's machine looks like none; a role without the technical class is refused.
    status, doc = call(world, "tech-a", "POST", "/api/v1/jobs",
                       {"command": "diagnostics", "target": {"serials": ["A1", "B1"]}})
    assert (status, doc["error"]["message"] if doc.get("error") else doc) == (404, "no such machine (serials[1])"), doc
    assert call(world, "sales-a", "POST", "/api/v1/jobs",
                {"command": "diagnostics", "target": {"serial": "A1"}})[0] == 403
    assert call(world, "tech-a", "POST", "/api/v1/jobs", {"command": "reboot", "target": {"serial": "A1"}})[0] == 400
    assert call(world, "tech-a", "POST", "/api/v1/jobs",
                {"command": "diagnostics", "target": {"serial": "A1", "filter": {}}})[0] == 400
    assert call(world, "tech-a", "POST", "/api/v1/jobs",
                {"command": "diagnostics", "target": {"group": "bar"}})[0] == 400  # a group's id, a number
    # A filter of everything is everything the caller sees.
    status, job = call(world, "tech-a", "POST", "/api/v1/jobs",
                       {"command": "config", "body": {"ref": "api"}, "target": {"filter": {}}, "timeout_s": 600})
    assert status == 201, job
    assert sorted(t["serial"] for t in job["targets"]) == ["A1", "A2"] and job["timeout_s"] == 600
    assert job["created_by"] == "user:tech-a" and ISO.fullmatch(job["created"])
    jid = job["id"]
    # The machine gets it and says it is done.
    with Machine(d, f.machines["A1"]) as mc:
        name, cid, body = mc.command()
        assert (name, body) == ("config", {"ref": "api"})
        mc.report(cid, "succeeded")
        ccdaemon.poll_until(lambda: call(world, "tech-a", "GET", f"/api/v1/jobs/{jid}")[1]["counts"]["succeeded"] == 1,
                            "A1 succeeded")
    assert call(world, "tech-b", "GET", f"/api/v1/jobs/{jid}")[0] == 404
    assert call(world, "tech-b", "POST", f"/api/v1/jobs/{jid}/cancel")[0] == 404
    assert jid not in [j["id"] for j in call(world, "tech-b", "GET", "/api/v1/jobs")[1]["jobs"]]
    status, listed = call(world, "admin", "GET", "/api/v1/jobs")
    assert status == 200 and listed["jobs"][0]["id"] == jid and listed["jobs"][0]["counts"]["succeeded"] == 1
    status, doc = call(world, "tech-a", "POST", f"/api/v1/jobs/{jid}/cancel")
    assert status == 200 and doc["cancelled_now"] == 1, doc
    states = {t["serial"]: t["state"] for t in doc["targets"]}
    assert states == {"A1": "succeeded", "A2": "cancelled"}
    assert ISO.fullmatch(doc["cancelled"]) and doc["cancelled_by"] == "user:tech-a"
    audit = f.ccj("audit", "list", "--action", "job.create")
    assert [(r["actor"], r["machines"], r["outcome"]) for r in audit if r["outcome"] == "ok"] == \
        [("user:tech-a", ["A1", "A2"], "ok")], audit
    assert f.ccj("audit", "list", "--action", "job.cancel")[0]["machines"] == ["A1", "A2"]
