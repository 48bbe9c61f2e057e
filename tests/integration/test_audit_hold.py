"""People's reads are audited off the event loop (src/api/audit_queue.h):
the record goes to the audit thread and the reply waits for it. What must
hold: no reply leaves before its record is in the store; a record that
cannot be appended turns the reply into 503 with no data; many requests at
once land as one unbroken chain."""
import concurrent.futures
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
import storeview  # noqa: E402
from ccapi import Api  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("audit-hold"), machines=("AH1",), customer="cafe-h")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    api = Api(port, f.data / "ca.crt")
    yield {"fleet": f, "daemon": d, "api": api, "token": api.login("admin", ccdaemon.PASSWORD)}
    d.stop()


def machine_reads(f):
    with storeview.open_store(f.data) as c:
        return c.count("audit", "action = 'machine.get' AND outcome = 'ok'")


def test_the_record_is_stored_before_the_reply_leaves(world):
    w = world
    for n in range(1, 6):
        before = machine_reads(w["fleet"])
        status, doc, _ = w["api"].call("GET", "/api/v1/machines/AH1", token=w["token"])
        assert status == 200 and doc["serial"] == "AH1", doc
        # Read at once, no waiting: the reply was held until the record was committed.
        assert machine_reads(w["fleet"]) == before + 1, n


def test_many_reads_at_once_are_one_chain(world):
    w = world
    before = machine_reads(w["fleet"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda _: w["api"].call("GET", "/api/v1/machines/AH1", token=w["token"])[0],
                            range(64)))
    assert got == [200] * 64
    assert machine_reads(w["fleet"]) == before + 64
    doc = w["fleet"].ccj("audit", "verify")
    assert doc["intact"] is True and doc["records"] >= 64, doc


def test_a_read_that_cannot_be_recorded_is_refused_without_its_data(world):
    w = world
    with storeview.open_store(w["fleet"].data, write=True) as c:
        head = c.meta("audit-head")
        seq, h, mac = head.split(":")
        # An older seq under the same MAC: the checkpoint no longer authenticates.
        c.execute("UPDATE meta SET value = ? WHERE key = 'audit-head'", (f"{int(seq) - 1}:{h}:{mac}",))
    try:
        status, doc, resp = w["api"].call("GET", "/api/v1/machines/AH1", token=w["token"])
        assert status == 503 and doc == {"error": {"code": "audit_unavailable",
                                                   "message": "the access could not be recorded, so it is refused"}}
        assert resp.getheader("Content-Type") == "application/json"
        status, doc, _ = w["api"].call("GET", "/api/v1/machines/AH1/telemetry", token=w["token"])
        assert status == 503 and "telemetry" not in doc, doc
    finally:
        with storeview.open_store(w["fleet"].data, write=True) as c:
            c.execute("UPDATE meta SET value = ? WHERE key = 'audit-head'", (head,))
    status, doc, _ = w["api"].call("GET", "/api/v1/machines/AH1", token=w["token"])
    assert status == 200 and doc["serial"] == "AH1"
