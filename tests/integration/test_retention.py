"""Retention as the policy states it: records older than the configured
days are deleted by the daemon, kind by kind; a kind kept "until erasure"
is left alone."""
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

DAY_MS = 86400 * 1000


publish = ccdaemon.publish


def test_records_past_their_retention_are_deleted(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("R1", "R2"), customer="cafe-r")
    d = ccdaemon.Daemon(f, settings={"retention_telemetry_days": "2", "retention_events_days": "0",
                                     "retention_sweep_s": "1"})
    d.start()
    try:
        now = int(time.time() * 1000)
        for serial in ("R1", "R2"):
            publish(d, f.machines[serial], "telemetry",
                    [{"seq": 1, "ts": now - 5 * DAY_MS, "m": {"boiler_temp_c": 91.0}},
                     {"seq": 2, "ts": now - 3 * DAY_MS, "m": {"boiler_temp_c": 92.0}},
                     {"seq": 3, "ts": now - DAY_MS, "m": {"boiler_temp_c": 93.0}}])
            publish(d, f.machines[serial], "event",
                    [{"seq": 4, "ts": now - 5 * DAY_MS, "type": "error", "code": "E042", "severity": "critical"}])
        # Both machines' two old messages go, in one sweep or several; the row count is the event.
        def old_rows_gone():
            return all([r["seq"] for r in f.telemetry(serial)] == [3] for serial in ("R1", "R2"))
        ccdaemon.poll_until(old_rows_gone, "telemetry older than 2 days to be deleted")
        line = d.wait_for(r"retention: deleted \d+ telemetry records older than 2 days")
        assert int(line.split("deleted ")[1].split()[0]) in (1, 2, 3, 4)
    finally:
        d.stop()
    for serial in ("R1", "R2"):
        assert [r["seq"] for r in f.telemetry(serial)] == [3], serial
    # The telemetry's summaries (charts) go with it: only those of the kept record stay.
    c = sqlite3.connect(f.data / "coffeecloud.db")
    widths = sorted(w for (w,) in c.execute("SELECT width_ms FROM rollups"))
    old = c.execute("SELECT count(*) FROM rollups WHERE start_ms + width_ms <= ?", (now - 2 * DAY_MS,)).fetchone()
    c.close()
    assert widths == [60000, 60000, 3600000, 3600000] and old == (0,), (widths, old)
    for serial in ("R1", "R2"):
        # Events are kept until erasure (0): untouched.
        assert [r["seq"] for r in f.events(serial)] == [4], serial
    assert "events records" not in d.log
