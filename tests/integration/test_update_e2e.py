"""The proof of issue 12, end to end: 200 simulated machines, each a
libcoffeecloud-agent (coffeecloud-sim --agent: the agent's external loop,
its worker for updates), against the real daemon.

A rollout in three phases of a poisoned artifact (its payload makes the
machines' install fail) halts by itself in its first phase, the failure
count in its halt reason; the next phases are never offered. A good
artifact then reaches every machine: 100 % succeeded, each machine
confirming the new slot after its reboot. A downgrade offered to one
machine and an artifact signed by a key the machines do not trust (the
server trusts it: a stolen or rogue release key) offered to another are
refused by the agents before a byte is downloaded, and reported: the
machine's update status and its timeline say so."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
from test_updates import keygen, sign  # noqa: E402

SIM = ccdaemon.BUILD_DIR / "coffeecloud-sim"
MACHINES = 200
CUSTOMER = "e2e-cafes"
POISON = b"CCSIM-FAIL-INSTALL"  # sim/agent_client.h: the pretended firmware fails to install it
PHASES = "10,50,100"
PHASE1 = MACHINES * 10 // 100


def serial(i):
    return f"SIM-{i:04d}"


def add_artifact(w, name, version, payload, key="rk"):
    f = w["tmp"] / name
    f.write_bytes(payload)
    sign(w["tmp"] / key / "release.key", f, version=version)
    return w["fleet"].ccj("artifact", "add", f, "--meta", str(f) + ".meta.json")["sha256"]


def show(w, rid):
    status, doc, _ = w["people"].call("GET", f"/api/v1/rollouts/{rid}", token=w["admin"])
    assert status == 200, doc
    return doc


def update_status(w, s):
    status, doc, _ = w["people"].call("GET", f"/api/v1/machines/{s}/update", token=w["admin"])
    assert status == 200, doc
    return doc["offer"]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    fleet = ccdaemon.Fleet.create(tmp / "f", machines=(), customer=CUSTOMER)
    keygen(tmp / "rk")
    keygen(tmp / "rogue")
    fleet.cc("release-key", "add", "--file", tmp / "rk" / "release.pub", "--label", "release")
    # The server trusts a key the machines were never given.
    fleet.cc("release-key", "add", "--file", tmp / "rogue" / "release.pub", "--label", "rogue")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", "rollouts_tick_ms": "100"})
    d.start()
    sim = None
    try:
        people = checked(Api(port, fleet.data / "ca.crt"))
        status, doc, _ = people.call("GET", "/api/v1/signing-key")
        assert status == 200, doc
        (tmp / "server.pub").write_text(doc["public_key_pem"])
        world = dict(tmp=tmp, fleet=fleet, daemon=d, people=people,
                     admin=people.login("admin", ccdaemon.PASSWORD))
        out = open(tmp / "sim.out", "w")
        mark = d.mark()
        sim = subprocess.Popen([str(SIM), "--agent", "--data", str(fleet.data), "--machines", str(MACHINES),
                                "--customer", CUSTOMER, "--port", str(d.tls_port), "--https-port", str(port),
                                "--release-key", str(tmp / "rk" / "release.pub"),
                                "--server-key", str(tmp / "server.pub"), "--update-every", "1",
                                "--rate", "0.2", "--duration", "600", "--quiet"],
                               stdout=out, stderr=subprocess.STDOUT, env=ccdaemon.base_env())
        # Provisioning 200 machines (a key and a certificate each) comes first: slow under ASan.
        d.wait_for(rf"{serial(MACHINES)} connected", since=mark, timeout=300)
        world["sim"] = sim
        yield world
    finally:
        if sim is not None and sim.poll() is None:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=60)
        d.stop()


def summary(w):
    """The simulator's last line, once it has stopped (SIGTERM: it drains, then reports)."""
    sim = w["sim"]
    if sim.poll() is None:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=60)
    text = (w["tmp"] / "sim.out").read_text()
    ccdaemon.assert_no_sanitizer_report(text, "coffeecloud-sim")
    return json.loads(text.strip().splitlines()[-1])


def test_a_poisoned_rollout_halts_then_a_good_one_reaches_every_machine(w):
    fleet = w["fleet"]
    bad = add_artifact(w, "poisoned.bin", "5.0.0", POISON + os.urandom(4000))
    mark = w["daemon"].mark()
    rid = fleet.ccj("rollout", "create", "--artifact", bad, "--customer", CUSTOMER, "--phases", PHASES,
                    "--soak", "0", "--threshold", "20")["id"]
    # The daemon says when; the document follows its round's commit.
    w["daemon"].wait_for(rf"rollout {rid} halted", since=mark, timeout=120)
    doc = ccdaemon.poll_until(lambda: (lambda d: d if d["state"] == "halted" else None)(show(w, rid)),
                              "the poisoned rollout's halt")
    m = re.fullmatch(r"phase 1: (\d+) of (\d+) finished machines failed \(threshold 20 %\)", doc["halt_reason"])
    assert m and 0 < int(m[1]) == int(m[2]) <= PHASE1, doc["halt_reason"]
    # Only the first phase was ever offered; none of it installed.
    assert doc["counts"]["succeeded"] == 0 and doc["counts"]["failed"] >= int(m[1]), doc["counts"]
    assert doc["counts"]["pending"] == MACHINES - PHASE1, doc["counts"]
    failed = [x for x in doc["machines"] if x["state"] == "failed"]
    assert failed and all(x["reason"] == "install-failed" for x in failed), failed
    alerts = fleet.ccj("alert", "list", "--rule", "rollout_halted")
    alerts = alerts["alerts"] if isinstance(alerts, dict) else alerts
    assert [a["cause"] for a in alerts] == [f"rollout_halted:{rid}"], alerts
    fleet.cc("rollout", "abort", str(rid))

    good = add_artifact(w, "good.bin", "5.0.1", os.urandom(6000))
    mark = w["daemon"].mark()
    rid2 = fleet.ccj("rollout", "create", "--artifact", good, "--customer", CUSTOMER, "--phases", PHASES,
                     "--soak", "0", "--threshold", "20")["id"]
    w["daemon"].wait_for(rf"rollout {rid2} (completed|halted)", since=mark, timeout=240)
    doc = ccdaemon.poll_until(lambda: (lambda d: d if d["state"] in ("completed", "halted") else None)(show(w, rid2)),
                              "the good rollout's end")
    assert doc["state"] == "completed" and doc["counts"]["succeeded"] == MACHINES, (doc["state"], doc["counts"])
    assert all(x["state"] == "succeeded" for x in doc["machines"]) and len(doc["machines"]) == MACHINES
    # Each machine runs it now, and says so in its info.
    assert ccdaemon.poll_until(lambda: fleet.status(serial(MACHINES))["info"].get("sw") == "5.0.1" or None,
                               "the new version in the machine's info")

    # A downgrade to one machine, an artifact signed by the rogue key to another.
    old = add_artifact(w, "old.bin", "4.0.0", os.urandom(3000))
    rogue = add_artifact(w, "rogue.bin", "6.0.0", os.urandom(3000), key="rogue")
    fleet.cc("artifact", "offer", old, "--serial", serial(1))
    fleet.cc("artifact", "offer", rogue, "--serial", serial(2))
    for s, sha, reason in ((serial(1), old, "rollback"), (serial(2), rogue, "unknown-key")):
        offer = ccdaemon.poll_until(lambda: (lambda o: o if o["state"] == "failed" else None)(update_status(w, s)),
                                    f"{s}'s refusal")
        assert (offer["sha256"], offer["reason"]) == (sha, reason), offer
        status, tl, _ = w["people"].call("GET", f"/api/v1/machines/{s}/timeline", token=w["admin"])
        assert status == 200, tl
        steps = [(i["state"], i.get("reason")) for i in tl["items"]
                 if i["kind"] == "update_progress" and i["sha256"] == sha]
        assert steps == [("failed", reason)], steps  # refused before a byte was downloaded

    run = summary(w)
    assert run["agent"] and run["connected"] == MACHINES, run
    assert run["updates_installed"] == MACHINES and run["updates_failed"] >= int(m[1]), run
    assert run["updates_refused"] >= 2 and run["unexpected_refused"] == 0, run
