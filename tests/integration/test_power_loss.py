"""A power cut, not only kill -9 (docs/SERVICE.md "Power loss").

kill -9 leaves the kernel's page cache behind: every write() the daemon
made survives it, synced or not. A power cut does not. The daemon runs
here with tests/support/powercut.c preloaded, which keeps beside each file
of the data directory the image only fsync() made durable; after kill -9
the test puts those images in place of the files, as a machine that lost
power at that instant would find its disk, and starts the daemon again.

Every message the simulator (libmosquitto) saw acknowledged must then be
stored, once, in a store that passes its integrity check: the daemon
acknowledges only what its group commit made durable. The first test
shows the model has teeth: a write not synced is gone after the cut.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_crash import CLI, DAEMON, SIM, TIMEOUT, Daemon, Lines, free_port  # noqa: E402

BUILD = Path(DAEMON).parent
PRELOAD = BUILD / "libpowercut.so"
MACHINES = 20
PER_MACHINE = 300  # 6,000 messages; the power goes after about a third


def preload_env(data, shadow):
    env = dict(os.environ)
    env["LD_PRELOAD"] = str(PRELOAD)
    env["POWERCUT_DIR"] = str(data)
    env["POWERCUT_SHADOW"] = str(shadow)
    # In the sanitizer build the preloaded library comes before ASan's runtime.
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), "verify_asan_link_order=0") if x)
    return env


def cut_power(data, shadow):
    """What the disk holds after the cut: each file as last synced; the
    shared-memory index is lost with the machine's memory."""
    images = sorted(p.name for p in Path(shadow).iterdir())
    for name in images:
        shutil.copyfile(Path(shadow) / name, Path(data) / name)
    for shm in Path(data).glob("*-shm"):
        shm.unlink()
    return images


def test_the_model_loses_what_was_not_synced(tmp_path):
    data, shadow = tmp_path / "disk", tmp_path / "shadow"
    data.mkdir()
    shadow.mkdir()
    (data / "old").write_bytes(b"before the process")
    script = (
        "import os, sys\n"
        "d = sys.argv[1]\n"
        "fd = os.open(d + '/kept', os.O_CREAT | os.O_WRONLY, 0o600)\n"
        "os.write(fd, b'synced'); os.fsync(fd)\n"
        "os.write(fd, b' and not')\n"
        "fd2 = os.open(d + '/kept', os.O_WRONLY)\n"
        "os.pwrite(fd2, b'S', 0); os.fdatasync(fd2)\n"  # a sync through another descriptor covers both
        "os.write(fd2, b'lost')\n"
        "g = os.open(d + '/never', os.O_CREAT | os.O_WRONLY, 0o600)\n"
        "os.write(g, b'never synced')\n"
        "h = os.open(d + '/old', os.O_WRONLY | os.O_APPEND)\n"
        "os.write(h, b', then more')\n"
        "os.kill(os.getpid(), 9)\n")
    p = subprocess.run([sys.executable, "-c", script, str(data)], env=preload_env(data, shadow))
    assert p.returncode == -signal.SIGKILL
    # Before the cut the page cache has everything.
    assert (data / "kept").read_bytes() == b"losted and not"
    assert (data / "never").read_bytes() == b"never synced"
    assert cut_power(data, shadow) == ["kept", "never", "old"]
    assert (data / "kept").read_bytes() == b"Synced and not"
    assert (data / "never").read_bytes() == b""
    assert (data / "old").read_bytes() == b"before the process"


def test_acknowledged_messages_survive_a_power_cut(tmp_path):
    assert PRELOAD.is_file(), f"{PRELOAD} is not built"
    data, shadow = tmp_path / "data", tmp_path / "shadow"
    shadow.mkdir()
    subprocess.run([CLI, "init", "--data", str(data), "--password-stdin"], input=b"a long test password\n",
                   check=True, capture_output=True)
    port = free_port()
    conf = tmp_path / "conf"
    conf.write_text("user = root\nmqtt_listen = 127.0.0.1:%d\nfleet_poll_ms = 100\nhttps_listen =\n" % port)
    acks = str(tmp_path / "acks.fifo")
    os.mkfifo(acks)
    daemon = Daemon(str(data), str(conf), str(tmp_path / "daemon.log"))
    daemon.start(env=preload_env(data, shadow))

    with open(tmp_path / "sim.out", "w") as sim_out:
        sim = subprocess.Popen([SIM, "--data", str(data), "--machines", str(MACHINES), "--port", str(port),
                                "--qos", "1", "--count", str(PER_MACHINE), "--rate", "0", "--ack-log", acks,
                                "--timeout", str(TIMEOUT), "--quiet"], stdout=sim_out, stderr=subprocess.STDOUT,
                               env=preload_env(data, shadow))  # it provisions its machines in the store
        acked_lines = Lines(open(acks, "rb"))
        total = MACHINES * PER_MACHINE
        assert acked_lines.wait(lambda l: len(l.lines) >= total // 3, "a third of the acknowledgements")
        daemon.kill9()  # the power goes: nothing after this instant reaches the disk
        sim.send_signal(signal.SIGKILL)
        sim.wait(timeout=60)
    acked_lines.wait(lambda l: False, "the end of the acknowledgement log")
    # The simulator was killed too: its last line may be cut short.
    acked = {(s, int(q)) for s, q in (line.split() for line in acked_lines.lines if line.endswith("\n"))}
    assert len(acked) >= total // 3

    images = cut_power(data, shadow)
    assert "coffeecloud.db" in images and "coffeecloud.db-wal" in images, images
    daemon.start()  # no model now: the machine rebooted
    assert daemon.stop() == 0

    db = sqlite3.connect(data / "coffeecloud.db")
    stored = db.execute("SELECT m.serial, t.seq FROM telemetry t JOIN machines m ON m.id = t.machine_id "
                        "UNION ALL SELECT m.serial, e.seq FROM events e JOIN machines m ON m.id = e.machine_id"
                        ).fetchall()
    db.close()
    missing = acked - set(stored)
    assert not missing, "%d acknowledged messages lost in the power cut, e.g. %s" % (len(missing),
                                                                                     sorted(missing)[:5])
    assert len(stored) == len(set(stored)), "a message is stored twice"
    check = subprocess.run([CLI, "init", "--check", "--data", str(data)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    log = open(tmp_path / "daemon.log").read()
    for report in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert report not in log
