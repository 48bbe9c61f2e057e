"""Exactly once in the store, across kill -9.

The simulator's raw clients (`--raw`: libmosquitto alone, an MQTT client
independent of the product's agent library) stream QoS 1
telemetry from 100 machines while the daemon is killed with SIGKILL at
random points at least 20 times and restarted. Afterwards every message the
simulator saw acknowledged is stored, nothing is stored twice, and the
database passes its integrity check.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storeview  # noqa: E402

BUILD = os.environ.get("CC_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
CLI = os.path.join(BUILD, "coffeecloud")
DAEMON = os.path.join(BUILD, "coffeecloudd")
SIM = os.path.join(BUILD, "coffeecloud-sim")
MACHINES = 100
PER_MACHINE = 1000            # 100,000 messages in all
KILLS = 20
TIMEOUT = 600                 # seconds, generous for the sanitizer build


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """Lines arriving on a stream, collected by a thread; waits wake on each new line."""

    def __init__(self, stream, copy_to=None):
        self.lines = []
        self.done = False
        self.cond = threading.Condition()
        self.copy_to = copy_to
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            if self.copy_to is not None:
                self.copy_to.write(line)
                self.copy_to.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait(self, predicate, what, timeout=TIMEOUT):
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self) or self.done, timeout):
                raise AssertionError("timed out waiting for " + what)
            return predicate(self)


class Daemon:
    def __init__(self, data, conf, log):
        self.data, self.conf, self.log_path = data, conf, log
        self.proc = None

    def start(self, env=None):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([DAEMON, "--data", self.data, "--config", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        out = Lines(self.proc.stderr, copy_to=self.log)
        if not out.wait(lambda l: any("daemon: info: ready" in x for x in l.lines), "the daemon to be ready"):
            raise AssertionError("daemon exited: " + "".join(out.lines)[-2000:])

    def _end(self, sig, timeout):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stderr.close()
        self.log.close()
        return rc

    def kill9(self):
        self._end(signal.SIGKILL, 60)

    def stop(self):
        return self._end(signal.SIGTERM, 120)


def test_acknowledged_messages_survive_kill9(tmp_path):
    data = str(tmp_path / "data")
    subprocess.run([CLI, "init", "--data", data, "--password-stdin"], input=b"a long test password\n",
                   check=True, capture_output=True)
    port = free_port()
    conf = tmp_path / "conf"
    conf.write_text("user = root\nmqtt_listen = 127.0.0.1:%d\nfleet_poll_ms = 100\nhttps_listen =\n" % port)
    # The simulator's acknowledgement log is a FIFO: each acknowledgement is
    # an event this test reads as it happens.
    acks = str(tmp_path / "acks.fifo")
    os.mkfifo(acks)
    daemon = Daemon(data, str(conf), str(tmp_path / "daemon.log"))
    daemon.start()

    sim_out = open(tmp_path / "sim.out", "w")
    sim = subprocess.Popen([SIM, "--data", data, "--machines", str(MACHINES), "--port", str(port),
                            "--raw", "--qos", "1", "--count", str(PER_MACHINE), "--rate", "0",
                            "--ack-log", acks, "--timeout", str(TIMEOUT), "--quiet"],
                           stdout=sim_out, stderr=subprocess.STDOUT)
    acked_lines = Lines(open(acks, "rb"))  # opening waits for the simulator to open its end
    seed = int(os.environ.get("CC_CRASH_SEED", "20261128"))
    rng = random.Random(seed)
    kills = 0
    total = MACHINES * PER_MACHINE
    while kills < KILLS and sim.poll() is None:
        # Kill at a random point of the stream: after a random number of new acknowledgements.
        target = len(acked_lines.lines) + rng.randint(200, max(201, total // (KILLS * 2)))
        if not acked_lines.wait(lambda l: len(l.lines) >= target, "acknowledgements"):
            break  # the simulator finished and closed its end
        daemon.kill9()
        kills += 1
        daemon.start()
    sim_rc = sim.wait(timeout=TIMEOUT)
    sim_out.close()
    assert daemon.stop() == 0
    summary = open(tmp_path / "sim.out").read()
    assert kills >= KILLS, "only %d kills before the simulator finished (seed %d)" % (kills, seed)
    assert sim_rc == 0, summary

    acked_lines.wait(lambda l: False, "the end of the acknowledgement log")  # returns at EOF
    acked = set()
    for line in acked_lines.lines:
        serial, seq = line.split()
        acked.add((serial, int(seq)))
    assert len(acked) == total, "the simulator saw %d of %d acknowledged" % (len(acked), total)

    with storeview.open_store(data) as db:
        stored = db.machine_records()
    stored_set = set(stored)
    missing = acked - stored_set
    assert not missing, "%d acknowledged messages are not stored, e.g. %s" % (len(missing), sorted(missing)[:5])
    assert len(stored) == len(stored_set), "a message is stored twice"
    assert len(stored) == total, "stored %d rows for %d messages" % (len(stored), total)

    check = subprocess.run([CLI, "init", "--check", "--data", data], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    log = open(tmp_path / "daemon.log").read()
    for report in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert report not in log
