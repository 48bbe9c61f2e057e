"""Starting the CoffeeCloud daemon (coffeecloudd) for integration tests.

A small shared helper: test files do `import ccdaemon` (with this directory on
sys.path) and then

    fleet = ccdaemon.Fleet.create(tmp_path, machines=["M1"])
    with ccdaemon.Daemon(fleet, plain=True) as d:
        ...  # d.tls_port, d.plain_port, d.wait_for(r"M1 connected")
    # stopped here: exit 0, "daemon: info: stopped", no sanitizer report

Binaries come from $CC_BUILD_DIR (absolute), default <repo>/build. Nothing
here sleeps: everything waits for an event (a line on the daemon's stderr, a
process exit) with a bounded timeout, and fails the test when it expires.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CC_BUILD_DIR") or REPO / "build")
CLI = BUILD_DIR / "coffeecloud"
DAEMON = BUILD_DIR / "coffeecloudd"

#: Generous bound for anything the daemon does (the ASan build is slow).
TIMEOUT = 20.0
PASSWORD = "Correct-Horse-Battery-Staple-42"


def password_of(login):
    """A test account's password: passes the quality rules (crypto/password.h),
    which refuse a password containing its login."""
    import hashlib
    return "Kettle Crema %012d" % (int(hashlib.sha256(login.encode()).hexdigest(), 16) % 10 ** 12)
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")


def base_env():
    env = {k: v for k, v in os.environ.items() if k != "CC_MASTER_KEY_FILE"}
    env["LC_ALL"] = "C"
    return env


def assert_no_sanitizer_report(text, what):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for marker in SANITIZER_MARKERS:
        assert marker not in text, f"sanitizer report ({marker!r}) from {what}:\n{text[-6000:]}"


def describe(argv, p):
    return (f"\n$ {' '.join(map(str, argv))}\nexit {p.returncode}\n"
            f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")


def run_cli(*args, rc=0, stdin="", timeout=120):
    """Runs `coffeecloud args...`; asserts the exit code (unless rc is None)."""
    assert CLI.is_file(), f"{CLI} is not built (set CC_BUILD_DIR)"
    argv = [str(CLI)] + [str(a) for a in args]
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, errors="replace",
                       env=base_env(), timeout=timeout)
    assert_no_sanitizer_report(p.stderr, " ".join(argv))
    if rc is not None:
        assert p.returncode == rc, f"expected exit {rc}" + describe(argv, p)
    return p


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (bind to port 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Machine:
    """A provisioned machine: its serial and certificate bundle."""

    def __init__(self, serial, directory):
        self.serial = serial
        self.dir = Path(directory)
        self.cert = self.dir / "machine.crt"
        self.key = self.dir / "machine.key"
        self.ca = self.dir / "ca.crt"

    def __repr__(self):
        return f"Machine({self.serial!r})"


class Fleet:
    """A data directory made with the admin CLI (init, customers, machines)."""

    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "data"
        self.machines = {}

    @classmethod
    def create(cls, root, machines=("M1",), customer="cafe-a", model="barista-pro"):
        f = cls(root)
        f.root.mkdir(parents=True, exist_ok=True)
        run_cli("init", "--data", f.data, "--password-stdin", stdin=PASSWORD + "\n")
        f.add_customer(customer)
        for serial in machines:
            f.add_machine(serial, customer=customer, model=model)
        return f

    def cc(self, *args, **kw):
        return run_cli(*args, "--data", self.data, **kw)

    def ccj(self, *args, **kw):
        p = self.cc(*args, "--json", **kw)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise AssertionError(f"not one JSON document: {e}\n{p.stdout}")

    def add_customer(self, name, parent="manufacturer"):
        self.cc("org", "add", "--name", name, "--kind", "customer", "--parent", parent)

    def add_machine(self, serial, customer="cafe-a", model="barista-pro"):
        out = self.root / "machines" / serial
        out.parent.mkdir(parents=True, exist_ok=True)
        self.cc("machine", "add", "--serial", serial, "--model", model, "--customer", customer,
                "--out", out)
        m = Machine(serial, out)
        assert m.cert.is_file() and m.key.is_file() and m.ca.is_file()
        self.machines[serial] = m
        return m

    def telemetry(self, serial):
        return self.ccj("telemetry", "get", serial)

    def events(self, serial):
        return self.ccj("events", "get", serial)

    def status(self, serial):
        return self.ccj("machine", "status", serial)

    def command(self, serial, name, body):
        self.cc("machine", "command", serial, "--name", name, "--body", body)

    def revoke(self, serial):
        self.cc("machine", "revoke", serial)


def master_key_of(data):
    """Where init puts a data directory's master key by default: beside it,
    DIR.master.key, never inside it (src/vault/vault.h)."""
    return Path(str(data).rstrip("/") + ".master.key")


def publish(d, m, topic, docs):
    """Sends each JSON document of docs on cc/v1/{serial}/{topic} with one
    mosquitto_pub (MQTT 5, QoS 1): each is acknowledged after it is stored."""
    p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                        "--cert", str(m.cert), "--key", str(m.key), "-i", m.serial, "-V", "mqttv5", "-q", "1",
                        "-t", f"cc/v1/{m.serial}/{topic}", "-l"],
                       input="".join(json.dumps(x) + "\n" for x in docs), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr


def poll_until(fn, what, timeout=TIMEOUT):
    """Calls fn (a slow call: a CLI run) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


class Daemon:
    """coffeecloudd on free loopback ports, as a context manager.

    settings: extra `name = value` lines (they win over the defaults here).
    tls / plain: which listeners to configure.
    """

    _count = 0

    def __init__(self, fleet, *, tls=True, plain=False, plain_acl="machine", settings=None):
        Daemon._count += 1
        self.fleet = fleet
        self.name = f"coffeecloudd-{Daemon._count}"
        self.tls_port = free_port() if tls else None
        self.plain_port = free_port() if plain else None
        cfg = {
            "user": "root",
            "log_level": "info",
            "mqtt_listen": f"127.0.0.1:{self.tls_port}" if tls else "",
            "mqtt_connect_timeout_s": "2",
            "fleet_poll_ms": "100",
            "https_listen": "",
        }
        if plain:
            cfg["mqtt_plain_listen"] = f"127.0.0.1:{self.plain_port}"
            cfg["mqtt_plain_acl"] = plain_acl
        cfg.update(settings or {})
        self.config = Path(fleet.root) / f"{self.name}.conf"
        self.config.write_text("".join(f"{k} = {v}\n" for k, v in cfg.items()))
        self.log_path = Path(fleet.root) / f"{self.name}.log"
        self.proc = None
        self._raw = bytearray()
        self._lines = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None

    # ---- life

    def start(self):
        assert DAEMON.is_file(), f"{DAEMON} is not built (set CC_BUILD_DIR)"
        # A restart appends to the log: look for this run's "ready" only.
        with self._cond:
            since = len(self._lines)
            self._eof = False
        self.proc = subprocess.Popen([str(DAEMON), "--data", str(self.fleet.data), "--config",
                                      str(self.config)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=base_env())
        self._reader = threading.Thread(target=self._read, name=self.name + "-stderr", daemon=True)
        self._reader.start()
        self.wait_for(r"daemon: info: ready", since=since)
        return self

    def _read(self):
        with open(self.log_path, "ab") as log:
            for raw in iter(self.proc.stderr.readline, b""):
                log.write(raw)
                log.flush()
                with self._cond:
                    self._raw += raw
                    self._lines.append(raw.decode("utf-8", "replace"))
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, expect_rc=0):
        """SIGTERM, wait for the exit, check how it ended. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
            raise AssertionError(f"{self.name} did not stop within {TIMEOUT + 10} s of SIGTERM:\n"
                                 + self.log[-4000:])
        finally:
            if self._reader is not None:
                self._reader.join(timeout=TIMEOUT)
        log = self.log
        assert_no_sanitizer_report(log, self.name)
        if expect_rc is not None:
            assert rc == expect_rc, f"{self.name} exited {rc}, expected {expect_rc}:\n{log[-4000:]}"
            if expect_rc == 0:
                assert "daemon: info: stopped" in log, f"{self.name}: no 'stopped' line:\n{log[-4000:]}"
        return rc

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self._kill()
            raise

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # The test failed already: stop without hiding its error.
            try:
                self.stop(expect_rc=None)
            except Exception:
                self._kill()
            return False
        self.stop()
        return False

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)

    # ---- the log

    @property
    def log(self):
        with self._cond:
            return "".join(self._lines)

    @property
    def raw_log(self):
        with self._cond:
            return bytes(self._raw)

    def mark(self):
        """A position in the log: wait_for(..., since=mark) looks only after it."""
        with self._cond:
            return len(self._lines)

    def lines(self, since=0):
        with self._cond:
            return list(self._lines[since:])

    def wait_for(self, pattern, timeout=TIMEOUT, since=0):
        """Waits until a log line (after `since`) matches the regex; returns the line."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[since:]:
                    if rx.search(line):
                        return line
                since = max(since, len(self._lines))
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    what = "exited" if self._eof else f"timed out after {timeout} s"
                    raise AssertionError(f"{self.name} {what} waiting for a log line /{pattern}/:\n"
                                         + "".join(self._lines)[-4000:])
                self._cond.wait(left)
