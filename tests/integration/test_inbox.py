"""The inbox under a flood (docs/PERFORMANCE.md "The inbox"): records land
in the append-only inbox and are moved into their tables in rounds; when
more arrive than the tables take, the writer holds back at
inbox_backlog_max and machines are slowed down, never refused, and every
acknowledged message is stored once."""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
import storeview  # noqa: E402

LOADGEN = ccdaemon.BUILD_DIR / "coffeecloud-loadgen"
MACHINES, EACH = 4, 2500


def test_a_flood_is_held_back_at_the_backlog_and_nothing_is_lost(tmp_path):
    serials = ["LG-%04d" % (i + 1) for i in range(MACHINES)]
    f = ccdaemon.Fleet.create(tmp_path, machines=serials, customer="cafe-f")
    d = ccdaemon.Daemon(f, settings={"inbox_backlog_max": "1000"})
    d.start()
    try:
        p = subprocess.run([str(LOADGEN), "--certs", str(f.root / "machines"), "--prefix", "LG",
                            "--machines", str(MACHINES), "--count", str(EACH), "--port", str(d.tls_port),
                            "--timeout", "240"], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        run = json.loads(p.stdout.strip().splitlines()[-1])
        assert run["acked"] == MACHINES * EACH and run["refused"] == 0 and run["errors"] == 0, run
        # 10,000 messages arrive faster than a round a second moves 1,000.
        d.wait_for(r"the inbox holds more than 1000 records: new messages wait until they are moved")
        d.wait_for(r"the inbox is back under 1000 records")
        for serial in serials:
            seqs = [r["seq"] for r in f.telemetry(serial)]
            assert len(seqs) == EACH and len(set(seqs)) == EACH, serial
    finally:
        assert d.stop() == 0
    # Stopped, the daemon has moved everything: the inbox holds nothing unmoved.
    with storeview.open_store(f.data) as db:
        stored, waiting = db.count("telemetry"), db.unsettled()
    assert stored == MACHINES * EACH and waiting == 0, (stored, waiting)
