"""`coffeecloud backup` while the daemon runs and a fleet publishes, and
`coffeecloud restore` into a fresh directory (docs/SERVICE.md "Back up and
restore").

A backup taken mid-flood holds, for every machine, exactly a prefix of what
it sent (nothing lost between the inbox and the tables); one taken after the
flood holds exactly what the live directory holds. Restored with the master
key (held apart, never in the backup), a daemon starts on it, the audit
chain verifies and sealed telemetry opens through the API. The wrong key, or
a damaged file, restores nothing.
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

SERIALS = ("BK-000001", "BK-000002", "BK-000003")


def telemetry_seqs(data, serial, master_key=None):
    args = ["telemetry", "get", serial, "--data", data, "--json"]
    if master_key is not None:
        args += ["--master-key-file", master_key]
    doc = json.loads(ccdaemon.run_cli(*args).stdout)
    rows = doc["rows"] if isinstance(doc, dict) else doc
    return sorted(r["seq"] for r in rows)


class Flood:
    """Each machine publishes batches of telemetry (seq 1, 2, ...) with
    mosquitto_pub, one batch after the other, until stopped."""

    def __init__(self, d, fleet):
        self.d, self.fleet = d, fleet
        self.stop = threading.Event()
        self.sent = {s: 0 for s in SERIALS}
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(s,), daemon=True) for s in SERIALS]

    def run(self, serial):
        m = self.fleet.machines[serial]
        try:
            while not self.stop.is_set():
                t0 = int(time.time() * 1000)
                first = self.sent[serial] + 1
                batch = [{"seq": q, "ts": t0 - 5000 + (q - first), "m": {"boiler_temp_c": 90 + q % 7}}
                         for q in range(first, first + 20)]
                ccdaemon.publish(self.d, m, "telemetry", batch)
                self.sent[serial] += 20
        except Exception as e:  # reported by the test thread
            self.errors.append(e)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT * 3)
        assert not self.errors, self.errors


def api_telemetry(port, serial):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/auth/login", body=json.dumps({"login": "admin", "password": ccdaemon.PASSWORD}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    token = json.loads(r.read())["token"]
    assert r.status == 200
    rows, cursor = [], None
    while True:
        c.request("GET", f"/api/v1/machines/{serial}/telemetry?limit=1000" + (f"&cursor={cursor}" if cursor else ""),
                  headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        doc = json.loads(r.read())
        assert r.status == 200, doc
        assert not doc.get("damaged_skipped"), doc.get("damaged_skipped")
        rows += doc["telemetry"]
        cursor = doc.get("next_cursor")
        if not cursor:
            c.close()
            return rows


def test_backup_while_publishing_then_restore(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "live", machines=SERIALS)
    key = ccdaemon.master_key_of(fleet.data)
    mid, after = tmp_path / "backup-mid", tmp_path / "backup-after"
    with ccdaemon.Daemon(fleet) as d:
        with Flood(d, fleet) as flood:
            ccdaemon.poll_until(lambda: all(n >= 60 for n in flood.sent.values()), "the flood to start")
            b = fleet.ccj("backup", "--to", mid)
            assert flood.sent and not flood.stop.is_set()
        assert b["format"] == "coffeecloud-backup/1"
        names = {f["name"] for f in b["files"]}
        assert {"coffeecloud.db", "coffeecloud-inbox.db", "keyring", "ca.crt", "server.crt"} <= names, names
        sent = dict(flood.sent)
        fleet.ccj("backup", "--to", after)
        live = {s: telemetry_seqs(fleet.data, s) for s in SERIALS}
        for s in SERIALS:
            assert live[s] == list(range(1, sent[s] + 1)), f"{s}: the live directory lost messages"

    # The master key is in neither backup, under any name.
    secret = key.read_bytes()
    for backup in (mid, after):
        assert sorted(p.name for p in backup.iterdir()) == sorted(
            {f["name"] for f in json.loads((backup / "MANIFEST.json").read_text())["files"]} | {"MANIFEST.json"})
        for p in backup.iterdir():
            assert secret.strip() not in p.read_bytes(), f"{p.name} holds the master key"
            assert (p.stat().st_mode & 0o077) in (0, 0o044), p

    # Mid-flood: restored, each machine's telemetry is a prefix of what it sent, nothing lost between files.
    restored_mid = tmp_path / "restored-mid"
    r = json.loads(ccdaemon.run_cli("restore", "--from", mid, "--dir", restored_mid, "--master-key-file", key,
                                    "--json").stdout)
    assert r["restored"] == str(restored_mid) and r["audit_records"] > 0
    for s in SERIALS:
        got = telemetry_seqs(restored_mid, s, key)
        assert got == list(range(1, len(got) + 1)) and 0 < len(got) <= sent[s], (s, got[:5], len(got))

    # After the flood: the restored copy equals the live directory, and a daemon serves it.
    restored = tmp_path / "restored"
    ccdaemon.run_cli("restore", "--from", after, "--dir", restored, "--master-key-file", key)
    assert not (tmp_path / "restored.master.key").exists(), "restore must not create a key"
    os.link(key, str(restored) + ".master.key")  # the key, held apart, joins the new directory
    v = json.loads(ccdaemon.run_cli("audit", "verify", "--data", restored, "--json").stdout)
    assert v["intact"] is True and v["records"] > 0, v
    listed = json.loads(ccdaemon.run_cli("audit", "list", "--data", restored, "--json").stdout)
    assert "backup.restore" in json.dumps(listed)
    twin = ccdaemon.Fleet(tmp_path / "restored-root")
    twin.data = restored
    twin.root.mkdir()
    api = ccdaemon.free_port()
    with ccdaemon.Daemon(twin, settings={"https_plain_listen": f"127.0.0.1:{api}"}):
        for s in SERIALS:
            assert telemetry_seqs(restored, s) == live[s]
            rows = api_telemetry(api, s)
            assert sorted(x["seq"] for x in rows) == live[s]
            assert all(90 <= x["m"]["boiler_temp_c"] <= 96 for x in rows), rows[:2]
    assert json.loads(ccdaemon.run_cli("audit", "verify", "--data", restored, "--json").stdout)["intact"] is True


def test_restore_refuses_the_wrong_key_and_damage(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "a", machines=["BK-000009"])
    other = ccdaemon.Fleet.create(tmp_path / "b", machines=[])
    key = ccdaemon.master_key_of(fleet.data)
    backup = tmp_path / "backup"
    fleet.ccj("backup", "--to", backup)
    assert ccdaemon.run_cli("backup", "--data", fleet.data, "--to", backup, rc=4).returncode == 4

    target = tmp_path / "restored"
    p = ccdaemon.run_cli("restore", "--from", backup, "--dir", target, "--master-key-file",
                         ccdaemon.master_key_of(other.data), rc=6)
    assert "master key does not open this backup's keyring" in p.stderr, p.stderr
    assert not target.exists(), "a refused restore leaves nothing behind"

    # No key at all (none beside the new directory, none named).
    p = ccdaemon.run_cli("restore", "--from", backup, "--dir", target, rc=None)
    assert p.returncode != 0 and not target.exists(), p.stderr

    # A damaged file is caught by the manifest before anything is opened.
    db = backup / "coffeecloud.db"
    raw = bytearray(db.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    db.write_bytes(bytes(raw))
    p = ccdaemon.run_cli("restore", "--from", backup, "--dir", target, "--master-key-file", key, rc=7)
    assert "coffeecloud.db does not match the manifest" in p.stderr, p.stderr
    assert not target.exists()

    # Not a backup at all.
    p = ccdaemon.run_cli("restore", "--from", tmp_path / "a", "--dir", target, "--master-key-file", key, rc=3)
    assert "MANIFEST.json" in p.stderr and not target.exists()
