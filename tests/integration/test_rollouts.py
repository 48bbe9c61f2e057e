"""Staged rollouts (docs/UPDATES.md "Staged rollouts") with the real daemon:
phases offered in a stable order, the machines (Python clients with their
own certificates, acting as the agent) reporting their progress, soak,
completion; a poisoned phase halting the rollout with an alert; pause,
resume, abort; one active rollout per machine; maintenance windows in each
site's local time. The rollouts' timer runs every 100 ms here; every wait
polls the API until a state, within a bound."""
import datetime
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
from test_updates import artifact, keygen, machine_ctx, sign  # noqa: E402

TICK = {"rollouts_tick_ms": "100"}


def make_fleet(tmp, serials, *, versions=("1.5.0",)):
    """A fleet, a trusted release key, one stored artifact per version."""
    fleet = ccdaemon.Fleet.create(tmp / "f", machines=serials)
    keygen(tmp / "rk")
    fleet.cc("release-key", "add", "--file", tmp / "rk" / "release.pub", "--label", "r1")
    shas = []
    for i, v in enumerate(versions):
        f = artifact(tmp, f"fw-{i}.bin", 4000 + i)
        sign(tmp / "rk" / "release.key", f, version=v)
        fleet.cc("artifact", "add", f, "--meta", str(f) + ".meta.json")
        shas.append(hashlib.sha256(f.read_bytes()).hexdigest())
    return fleet, shas


class Agent:
    """A machine's side of the protocol: its offer, its progress reports."""

    def __init__(self, fleet, port, serial):
        self.serial = serial
        self.api = checked(Api(port, None, ctx=machine_ctx(fleet, fleet.machines[serial])))

    def offered(self):
        status, doc, _ = self.api.call("GET", "/api/v1/machine/update")
        assert status in (200, 404), doc
        return doc["artifact"].rsplit("/", 1)[1] if status == 200 else None

    def report(self, sha, state, percent=None, reason=None, expect=200):
        body = {"sha256": sha, "state": state}
        if percent is not None:
            body["percent"] = percent
        if reason is not None:
            body["reason"] = reason
        status, doc, _ = self.api.call("POST", "/api/v1/machine/update/progress", body)
        assert status == expect, (self.serial, state, status, doc)
        return doc


def show(people, token, rid):
    status, doc, _ = people.call("GET", f"/api/v1/rollouts/{rid}", token=token)
    assert status == 200, doc
    return doc


def states(doc):
    return {m["serial"]: m["state"] for m in doc["machines"]}


def wait_rollout(people, token, rid, cond, what):
    return ccdaemon.poll_until(lambda: (lambda d: d if cond(d) else None)(show(people, token, rid)), what)


def install(agent, sha, outcome="succeeded", reason=None):
    """The agent's way through: download, verify, install, reboot, the outcome."""
    agent.report(sha, "downloading", percent=40)
    agent.report(sha, "downloading", percent=100)
    agent.report(sha, "verifying")
    if outcome == "succeeded":
        agent.report(sha, "installing")
        agent.report(sha, "rebooting")
    agent.report(sha, outcome, reason=reason)


def test_phases_complete_then_a_poisoned_phase_halts(tmp_path):
    good = [f"R{i:02d}" for i in range(1, 21)]
    bad = [f"B{i:02d}" for i in range(1, 11)]
    fleet, (sha, sha_bad) = make_fleet(tmp_path, good + bad, versions=("1.5.0", "1.6.0"))
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        agents = {s: Agent(fleet, port, s) for s in good + bad}
        # Refused plans say why; nothing is created.
        for body, part in (({"artifact": sha, "target": {"serials": good}, "phases": [10, 5, 100]}, "rising"),
                           ({"artifact": sha, "target": {"serials": good}, "phases": [10, 50]}, "100"),
                           ({"artifact": sha, "target": {"nobody": 1}}, "target"),
                           ({"artifact": sha, "target": {"serials": good}, "threshold": 101}, "threshold"),
                           ({"artifact": sha, "target": {"serials": good}, "window": "someday"}, "window")):
            status, doc, _ = people.call("POST", "/api/v1/rollouts", body, token=admin)
            assert status == 400 and part in doc["error"]["message"], doc
        status, doc, _ = people.call("POST", "/api/v1/rollouts", {"artifact": "0" * 64, "target": {"serials": good}},
                                     token=admin)
        assert status == 404, doc
        # A dynamic group of the 20 good machines' model would take all 30: a list here.
        status, ro, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha, "target": {"serials": good},
                                                                 "phases": [10, 50, 100], "soak": 0,
                                                                 "threshold": 20}, token=admin)
        assert status == 201, ro
        rid = ro["id"]
        assert ro["state"] == "running" and ro["machines_total"] == 20 and ro["skipped"] == 0, ro
        assert [p["machines"] for p in ro["phase_progress"]] == [2, 8, 10], ro["phase_progress"]

        # Phase 1, the canaries: 10 % of 20 = 2 machines offered, no more until they finish.
        doc = wait_rollout(people, admin, rid, lambda d: d["counts"]["offered"] == 2, "the canaries' offers")
        canaries = sorted(s for s, st in states(doc).items() if st == "offered")
        assert doc["counts"]["pending"] == 18 and doc["phase"] == 1
        for s in good:
            assert (agents[s].offered() == sha) == (s in canaries), s
        for s in canaries:
            install(agents[s], sha)
        # Soak 0: phase 2 follows at once, 8 more machines.
        doc = wait_rollout(people, admin, rid, lambda d: d["phase"] == 2 and d["counts"]["offered"] == 8,
                           "phase 2's offers")
        assert doc["counts"]["succeeded"] == 2 and doc["counts"]["pending"] == 10
        assert doc["phase_progress"][0]["counts"]["succeeded"] == 2
        # A download in progress shows its percent.
        second = sorted(s for s, st in states(doc).items() if st == "offered")
        agents[second[0]].report(sha, "downloading", percent=37)
        row = [m for m in show(people, admin, rid)["machines"] if m["serial"] == second[0]][0]
        assert row["state"] == "downloading" and row["percent"] == 37 and row["phase"] == 2, row
        for s in second:
            install(agents[s], sha)
        doc = wait_rollout(people, admin, rid, lambda d: d["phase"] == 3 and d["counts"]["offered"] == 10,
                           "phase 3's offers")
        for s in sorted(s for s, st in states(doc).items() if st == "offered"):
            install(agents[s], sha)
        doc = wait_rollout(people, admin, rid, lambda d: d["state"] == "completed", "completion")
        assert doc["counts"]["succeeded"] == 20 and doc["finished_percent"] == 100 and doc["ended_ms"] > 0, doc
        # The same canaries whoever asks: the order is the rollout's, kept.
        assert sorted(m["serial"] for m in doc["machines"] if m["phase"] == 1) == canaries
        # A completed rollout has freed its machines; the machine still holds the offer, whose
        # update has finished: a late report does not change it.
        agents[canaries[0]].report(sha, "failed", reason="hash-mismatch", expect=409)

        # The machine's timeline shows its progress.
        status, tl, _ = people.call("GET", f"/api/v1/machines/{canaries[0]}/timeline", token=admin)
        assert status == 200, tl
        progress = [i for i in tl["items"] if i["kind"] == "update_progress"]
        assert [i["state"] for i in progress] == ["downloading", "verifying", "installing", "rebooting",
                                                   "succeeded"], progress
        assert all(i["rollout"] == rid for i in progress)

        # A poisoned artifact: its canaries fail, the rollout halts by itself.
        status, ro2, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha_bad, "target": {"serials": bad},
                                                                  "phases": [20, 100], "soak": 0, "threshold": 0,
                                                                  "min_reports": 2},
                                     token=admin)
        assert status == 201 and ro2["machines_total"] == 10, ro2
        rid2 = ro2["id"]
        doc = wait_rollout(people, admin, rid2, lambda d: d["counts"]["offered"] == 2, "the bad canaries' offers")
        poisoned = sorted(s for s, st in states(doc).items() if st == "offered")
        a = agents[poisoned[0]]
        a.report(sha_bad, "exploded", expect=400)
        a.report(sha_bad, "failed", reason="no such refusal", expect=400)
        a.report(sha_bad, "failed", expect=400)  # failed names its reason
        a.report(sha_bad, "downloading", percent=101, expect=400)
        a.report(sha, "downloading", expect=404)  # not the artifact of its rollout
        # In no active rollout; the offer it holds from the completed one has finished.
        agents[good[0]].report(sha, "downloading", expect=409)
        for s in poisoned:
            install(agents[s], sha_bad, "failed", reason="hash-mismatch")
        doc = wait_rollout(people, admin, rid2, lambda d: d["state"] == "halted", "the halt")
        agents[poisoned[0]].report(sha_bad, "succeeded", expect=409)  # finished: the failure stands
        assert doc["halt_reason"] == "phase 1: 2 of 2 finished machines failed (threshold 0 %)", doc
        assert doc["counts"]["failed"] == 2 and doc["counts"]["pending"] == 8
        alerts = fleet.ccj("alert", "list", "--rule", "rollout_halted")
        alerts = alerts["alerts"] if isinstance(alerts, dict) else alerts
        assert len(alerts) == 1 and alerts[0]["serial"] in poisoned, alerts
        assert alerts[0]["cause"] == f"rollout_halted:{rid2}", alerts
        # No further offers: a round later (a third rollout's offer proves one ran), still 8 pending.
        status, ro3, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha, "target": {"serials": good[:1]},
                                                                  "phases": [100], "soak": 0}, token=admin)
        assert status == 201, ro3
        wait_rollout(people, admin, ro3["id"], lambda d: d["counts"]["offered"] == 1, "the witness's offer")
        doc = show(people, admin, rid2)
        assert doc["state"] == "halted" and doc["counts"]["pending"] == 8, doc
        assert all(agents[s].offered() is None for s in bad if s not in poisoned)
        # A halted rollout is not resumed; it is aborted.
        status, doc, _ = people.call("POST", f"/api/v1/rollouts/{rid2}/resume", token=admin)
        assert status == 409, doc
        status, doc, _ = people.call("POST", f"/api/v1/rollouts/{rid2}/abort", token=admin)
        assert status == 200 and doc["state"] == "aborted", doc
        status, doc, _ = people.call("GET", "/api/v1/rollouts?state=aborted", token=admin)
        assert status == 200 and [r["id"] for r in doc["rollouts"]] == [rid2], doc
    actions = {(r["action"], r["outcome"]) for r in fleet.ccj("audit", "list")}
    for what in ("rollout.create", "rollout.abort"):
        assert (what, "ok") in actions, what
    assert ("rollout.create", "error") in actions


def window_around_now():
    """Maintenance hours holding now in UTC, and not twelve hours away."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=3), now + datetime.timedelta(hours=3)
    fmt = "%H:%M"
    if start.date() == end.date():
        return f"mon-sun {start.strftime(fmt)}-{end.strftime(fmt)}"
    return f"mon-sun 00:00-{end.strftime(fmt)},{start.strftime(fmt)}-24:00"


def test_pause_resume_abort_one_rollout_per_machine_and_windows(tmp_path):
    near = [f"W{i:02d}" for i in range(1, 7)]
    far = [f"W{i:02d}" for i in range(7, 13)]
    paused = [f"P{i:02d}" for i in range(1, 11)]
    fleet, (sha,) = make_fleet(tmp_path, near + far + paused)
    fleet.cc("site", "add", "--customer", "cafe-a", "--name", "near", "--timezone", "UTC")
    # Twelve hours ahead: the window around now in UTC is closed there.
    fleet.cc("site", "add", "--customer", "cafe-a", "--name", "far", "--timezone", "Etc/GMT-12")
    for s in near:
        fleet.cc("machine", "move", "--serial", s, "--site", "near")
    for s in far:
        fleet.cc("machine", "move", "--serial", s, "--site", "far")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        agents = {s: Agent(fleet, port, s) for s in near + far + paused}
        # The window, in each site's local time: the near site's machines now, the far ones not.
        status, wa, _ = people.call("POST", "/api/v1/rollouts",
                                    {"artifact": sha, "target": {"filter": {"site": "near"}}, "phases": [100],
                                     "soak": 0, "window": window_around_now()}, token=admin)
        assert status == 201 and wa["machines_total"] == 6, wa
        status, wb, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha, "target": {"serials": far},
                                                                 "phases": [100], "soak": 0,
                                                                 "window": window_around_now()}, token=admin)
        assert status == 201 and wb["machines_total"] == 6, wb
        wait_rollout(people, admin, wa["id"], lambda d: d["counts"]["offered"] == 6, "the near site's offers")

        # One active rollout per machine: those in one are skipped, and counted.
        created = fleet.ccj("rollout", "create", "--artifact", sha, "--serials", ",".join(paused + near[:3]),
                            "--phases", "10,100", "--soak", "0")
        rid = created["id"]
        assert created["machines_total"] == 10 and created["skipped"] == 3, created
        assert {m["serial"] for m in created["machines"]} == set(paused)
        status, doc, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha, "target": {"serials": near[:2]}},
                                     token=admin)
        assert status == 409 and "another active rollout" in doc["error"]["message"], doc
        doc = wait_rollout(people, admin, rid, lambda d: d["counts"]["offered"] == 1, "the canary's offer")
        canary = [s for s, st in states(doc).items() if st == "offered"][0]
        # Paused: the canary finishes, and nothing more is offered.
        status, doc, _ = people.call("POST", f"/api/v1/rollouts/{rid}/pause", token=admin)
        assert status == 200 and doc["state"] == "paused", doc
        status, doc, _ = people.call("POST", f"/api/v1/rollouts/{rid}/pause", token=admin)
        assert status == 409, doc
        install(agents[canary], sha)

        # The far site's window opens (its zone now the near one's): offered at the next round,
        # which is also a round the paused rollout sat through.
        far_doc = show(people, admin, wb["id"])
        assert far_doc["counts"]["pending"] == 6 and all(agents[s].offered() is None for s in far), far_doc
        fleet.cc("site", "update", "--customer", "cafe-a", "--name", "far", "--timezone", "UTC")
        wait_rollout(people, admin, wb["id"], lambda d: d["counts"]["offered"] == 6, "the far site's offers")
        doc = show(people, admin, rid)
        assert doc["state"] == "paused" and doc["counts"]["succeeded"] == 1 and doc["counts"]["pending"] == 9, doc

        fleet.cc("rollout", "resume", str(rid))
        doc = wait_rollout(people, admin, rid, lambda d: d["counts"]["offered"] == 9, "phase 2 after resuming")
        assert doc["state"] == "running" and doc["phase"] == 2
        # Abort: offers not yet taken are withdrawn, a machine downloading goes on; the machines are free.
        downloading = [s for s in paused if s != canary][0]
        agents[downloading].report(sha, "downloading", percent=10)
        out = fleet.ccj("rollout", "abort", str(rid))
        assert out["state"] == "aborted", out
        assert agents[downloading].offered() == sha
        assert all(agents[s].offered() is None for s in paused if s not in (canary, downloading))
        status, again, _ = people.call("POST", "/api/v1/rollouts", {"artifact": sha,
                                                                    "target": {"serials": paused[:3]}}, token=admin)
        assert status == 201 and again["skipped"] == 0, again
        listed = fleet.ccj("rollout", "list")
        assert [r["id"] for r in listed["rollouts"]][:2] == [again["id"], rid], listed
        text = fleet.cc("rollout", "show", str(rid)).stdout
        assert "aborted" in text and canary in text
    actions = {(r["action"], r["outcome"]) for r in fleet.ccj("audit", "list")}
    for what in ("rollout.create", "rollout.pause", "rollout.resume", "rollout.abort"):
        assert (what, "ok") in actions, what


def test_progress_needs_the_machine_certificate(tmp_path):
    fleet, (sha,) = make_fleet(tmp_path, ("C1",))
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        body = {"sha256": sha, "state": "downloading"}
        status, doc, _ = people.call("POST", "/api/v1/machine/update/progress", body, token=admin)
        assert status == 401 and doc["error"]["code"] == "certificate_required", doc
        anon = Api(port, None, ctx=machine_ctx(fleet))
        status, doc, _ = anon.call("POST", "/api/v1/machine/update/progress", body)
        assert status == 401, doc
        fleet.revoke("C1")
        status, doc, _ = Agent(fleet, port, "C1").api.call("POST", "/api/v1/machine/update/progress", body)
        assert status == 403, doc
        assert json.dumps(doc).find(sha) < 0


def test_a_phase_whose_machines_run_worse_halts_after_its_soak(tmp_path):
    """Machines over MQTT (paho) stay online, except one rollout's canary:
    it goes down while installing and stays down, though it reports
    success. At the end of the soak its rollout halts on availability (the
    machines updated so far against the rest, health_margin), the alert on
    the canary; the twin rollout, whose canary came back, goes on to its
    next phase."""
    from test_downtime import Paho

    worse = [f"H{i}" for i in range(1, 5)]
    fine = [f"K{i}" for i in range(1, 5)]
    fleet, (sha,) = make_fleet(tmp_path, worse + fine)
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}) as d:
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        links = {s: Paho(d, fleet.machines[s]) for s in worse + fine}
        for link in links.values():
            link.connect()
        agents = {s: Agent(fleet, port, s) for s in worse + fine}
        plan = {"artifact": sha, "phases": [25, 100], "soak": 2}
        status, doc, _ = people.call("POST", "/api/v1/rollouts", {**plan, "target": {"serials": worse},
                                                                  "health_margin": 101}, token=admin)
        assert status == 400 and "health_margin" in doc["error"]["message"], doc
        rids = {}
        for name, serials in (("worse", worse), ("fine", fine)):
            status, ro, _ = people.call("POST", "/api/v1/rollouts", {**plan, "target": {"serials": serials}},
                                        token=admin)
            assert status == 201 and ro["health_margin"] == 5, ro
            rids[name] = ro["id"]
        canary = {}
        for name, rid in rids.items():
            doc = wait_rollout(people, admin, rid, lambda d: d["counts"]["offered"] == 1, f"{name}'s canary")
            canary[name] = [s for s, st in states(doc).items() if st == "offered"][0]
        # The canary of "worse" goes down while it installs and does not come back.
        a = agents[canary["worse"]]
        a.report(sha, "downloading", percent=100)
        a.report(sha, "installing")
        a.report(sha, "rebooting")
        links[canary["worse"]].disconnect()
        ccdaemon.poll_until(lambda: not fleet.status(canary["worse"])["online"], "the canary offline")
        a.report(sha, "succeeded")
        install(agents[canary["fine"]], sha)

        doc = wait_rollout(people, admin, rids["fine"], lambda d: d["phase"] == 2 and d["counts"]["offered"] == 3,
                           "the fine rollout's second phase")
        assert doc["state"] == "running" and doc["halt_reason"] == "", doc
        doc = wait_rollout(people, admin, rids["worse"], lambda d: d["state"] == "halted", "the halt on health")
        assert doc["halt_reason"] == ("phase 1: its updated machines were available 0.0 % of the soak, the rest "
                                      "100.0 % (margin 5 points)"), doc
        assert doc["phase"] == 1 and doc["counts"]["succeeded"] == 1 and doc["counts"]["pending"] == 3, doc
        alerts = fleet.ccj("alert", "list", "--rule", "rollout_halted")
        alerts = alerts["alerts"] if isinstance(alerts, dict) else alerts
        assert [(x["serial"], x["cause"]) for x in alerts] == [(canary["worse"], f"rollout_halted:{rids['worse']}")]
        for link in links.values():
            if link.c.is_connected():
                link.disconnect()
    assert fleet.ccj("rollout", "show", str(rids["worse"]))["health_margin"] == 5
