"""Self-check of the fleet simulator (coffeecloud-sim) against Debian's mosquitto.

The simulator is a client: these tests give it a broker that is not the
CoffeeCloud daemon, so they check the simulator alone. Mosquitto listens on
free loopback ports: a plain listener (machines named by their username) and
a TLS 1.3 listener that requires the machines' fleet certificates. Its server
certificate comes from a throwaway CA made here, so machines trust it only
once that CA is added to their bundle's ca.crt. Its ACL lets a machine use
only cc/v1/<itself>/#, so a foreign-topic publish is refused (0x87) the way
the daemon must refuse it.

Nothing sleeps: each wait is for an event (a port that opens, a line, a
message, a file that fills) with a bounded timeout.
"""
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CC_BUILD_DIR") or REPO / "build")
SIM = BUILD_DIR / "coffeecloud-sim"
CLI = BUILD_DIR / "coffeecloud"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TIMEOUT = 30.0
PASSWORD = "Correct-Horse-Battery-Staple-42"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")

CATALOGUE = {
    "boiler_temp_c", "brew_temp_c", "steam_temp_c", "pump_pressure_bar", "flow_ml_s",
    "grinder_current_a", "milk_fridge_temp_c", "water_hardness_dh", "filter_used_pct",
    "bean_hopper_pct", "cup_counter", "brew_unit_cycles", "water_tank_pct", "drip_tray_pct",
}
EVENT_TYPES = {"brew", "error", "cleaning", "maintenance", "update", "power"}

assert SIM.is_file(), f"{SIM} is not built"


def env():
    e = {k: v for k, v in os.environ.items() if k != "CC_MASTER_KEY_FILE"}
    e["LC_ALL"] = "C"
    return e


def no_sanitizer_report(text, what):
    for marker in SANITIZER_MARKERS:
        assert marker not in text, f"sanitizer report from {what}:\n{text[-6000:]}"


def describe(argv, p):
    return (f"\n$ {' '.join(map(str, argv))}\nexit {p.returncode}\n"
            f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def luhn_ok(number):
    digits = [int(c) for c in number if c.isdigit()][::-1]
    total = 0
    for i, d in enumerate(digits):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


# ---------------------------------------------------------------- fixtures

def make_server_cert(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sim selfcheck CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "test-ca.crt").write_bytes(ca.public_bytes(pem))
    (directory / "server.crt").write_bytes(cert.public_bytes(pem))
    (directory / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(directory / "server.key", 0o600)
    return directory / "test-ca.crt"


class Broker:
    def __init__(self, root, data):
        self.root = root
        self.plain_port = free_port()
        self.tls_port = free_port()
        self.test_ca = make_server_cert(root)
        (root / "acl").write_text("topic readwrite cc/#\npattern readwrite cc/v1/%u/#\n")
        (root / "mosquitto.conf").write_text(
            "user root\nper_listener_settings false\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"acl_file {root / 'acl'}\n"
            f"listener {self.plain_port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {data / 'ca.crt'}\ncertfile {root / 'server.crt'}\n"
            f"keyfile {root / 'server.key'}\nrequire_certificate true\n"
            "use_identity_as_username true\ntls_version tlsv1.3\n")
        self.log = open(root / "mosquitto.log", "wb")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(root / "mosquitto.conf")],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.PIPE)
        # Mosquitto says "running" once every listener is open: read its log
        # as it comes (and keep a copy), no polling of the ports.
        self.running = threading.Event()
        self.reader = threading.Thread(target=self._copy_log, daemon=True)
        self.reader.start()
        assert self.running.wait(TIMEOUT) and self.proc.poll() is None, \
            "mosquitto did not start: " + (root / "mosquitto.log").read_text(errors="replace")[-2000:]

    def _copy_log(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()
            if b" running" in line:
                self.running.set()
        self.running.set()  # EOF: mosquitto is gone; the caller sees it exited

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
        self.reader.join(TIMEOUT)
        self.log.close()


class Observer:
    """A paho client on the plain port that records everything under cc/."""

    def __init__(self, port):
        import paho.mqtt.client as mqtt

        self.messages = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(client_id=f"observer-{os.getpid()}", protocol=mqtt.MQTTv311)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("cc/#", qos=1)
        assert subscribed.wait(TIMEOUT), "observer: no SUBACK"

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def wait_for(self, pred, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.messages if pred(*m)]
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"observer: no {what} within {timeout} s")
                self.cond.wait(left)

    def take(self, pred):
        with self.cond:
            return [m for m in self.messages if pred(*m)]

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("simcheck")
    data = root / "data"
    p = subprocess.run([str(CLI), "init", "--data", str(data), "--password-stdin"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=env(),
                       timeout=120)
    assert p.returncode == 0, describe(["coffeecloud", "init"], p)
    assert Path(MOSQUITTO).is_file(), "mosquitto is not installed (scripts/install-deps)"
    broker = Broker(root, data)
    observer = Observer(broker.plain_port)
    yield {"root": root, "data": data, "broker": broker, "observer": observer}
    observer.stop()
    broker.stop()


def sim(world, *args, rc=0, timeout=120):
    argv = [str(SIM), "--data", str(world["data"])] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, errors="replace", env=env(),
                       timeout=timeout)
    no_sanitizer_report(p.stderr, " ".join(argv))
    if rc is not None:
        assert p.returncode == rc, f"expected exit {rc}" + describe(argv, p)
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, "no JSON summary" + describe(argv, p)
    return json.loads(lines[-1]), p


def plain(world):
    return ["--plain", "--port", world["broker"].plain_port]


# ---------------------------------------------------------------- tests

def test_usage_errors(tmp_path):
    for args in ([], ["--data", tmp_path], ["--data", tmp_path, "--machines", "0"],
                 ["--data", tmp_path, "--machines", "20001"],
                 ["--data", tmp_path, "--machines", "2", "--count", "3", "--duration", "2"],
                 ["--data", tmp_path, "--machines", "2", "--fault", "bogus"],
                 ["--data", tmp_path, "--machines", "2", "--qos", "3"],
                 ["--data", tmp_path, "--machines", "2", "--mqtt", "4"],
                 ["--data", tmp_path, "--machines", "2", "--prefix", "a/b"],
                 ["--data", tmp_path, "--machines", "2", "--rate", "-1"]):
        argv = [str(SIM)] + [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=30)
        assert p.returncode == 2, describe(argv, p)
    p = subprocess.run([str(SIM), "--help"], capture_output=True, text=True, env=env(), timeout=30)
    assert p.returncode == 0 and "--machines N" in p.stdout


def test_plain_run_traffic_and_ack_log(world):
    ack = world["root"] / "ack-plain.log"
    j, p = sim(world, "--machines", 3, "--prefix", "PLN", "--count", 12, "--rate", 50,
               "--speedup", 120, "--ack-log", ack, *plain(world))
    assert "3 provisioned now" in p.stdout
    assert (j["machines"], j["sent"], j["acked"], j["refused"]) == (3, 36, 36, 0)
    assert j["unresolved"] == 0 and j["ok"] is True and j["errors"] == 0
    assert j["telemetry"] + j["events"] == 36

    # Bundles as the CLI writes them: key 0600.
    for n in (1, 2, 3):
        d = world["root"] / "data.sim-certs" / f"PLN-{n:04d}"
        assert {f.name for f in d.iterdir()} == {"machine.crt", "machine.key", "ca.crt"}
        assert (d / "machine.key").stat().st_mode & 0o777 == 0o600

    lines = ack.read_text().splitlines()
    assert len(lines) == 36 and len(set(lines)) == 36
    acked = {}
    for line in lines:
        serial, seq = line.split(" ")
        acked.setdefault(serial, set()).add(int(seq))
    start = j["seq_start"]
    assert acked == {f"PLN-{n:04d}": set(range(start, start + 12)) for n in (1, 2, 3)}

    # What went over the wire: one seq counter per machine across both
    # topics, catalogue metrics only, telemetry of 150-250 bytes.
    obs = world["observer"]
    data_topic = re.compile(r"cc/v1/(PLN-\d{4})/(telemetry|event)$")
    obs.wait_for(lambda t, b: data_topic.match(t) and json.loads(b)["seq"] == start + 11
                 and t.startswith("cc/v1/PLN-0003/"), "the last message of PLN-0003")
    seen = {}
    for topic, body in obs.take(lambda t, b: data_topic.match(t)):
        serial, kind = data_topic.match(topic).groups()
        msg = json.loads(body)
        if msg["seq"] < start:
            continue
        seen.setdefault(serial, []).append(msg["seq"])
        assert isinstance(msg["ts"], int) and abs(msg["ts"] / 1000 - time.time()) < 600
        if kind == "telemetry":
            assert 150 <= len(body) <= 250, body
            assert set(msg["m"]) <= CATALOGUE and len(msg["m"]) == 8, body
            assert all(isinstance(v, (int, float)) for v in msg["m"].values())
        else:
            assert msg["type"] in EVENT_TYPES, body
            if msg["type"] == "brew":
                assert 85 <= msg["temp_c"] <= 100 and msg["volume_ml"] > 0
    assert {s: sorted(v) for s, v in seen.items()} == \
        {f"PLN-{n:04d}": list(range(start, start + 12)) for n in (1, 2, 3)}
    # Retained status and info.
    obs.wait_for(lambda t, b: t == "cc/v1/PLN-0001/info" and json.loads(b)["model"] == "barista-pro",
                 "info")
    obs.wait_for(lambda t, b: t == "cc/v1/PLN-0001/status" and b == b"online", "online status")
    # MQTT 5 DISCONNECT with reason 0x04: the broker publishes the will.
    obs.wait_for(lambda t, b: t == "cc/v1/PLN-0001/status" and b == b"offline", "offline will")


def test_rerun_reuses_machines_and_seq_moves_on(world):
    j1, _ = sim(world, "--machines", 2, "--prefix", "RUN", "--count", 3, "--rate", 50,
                *plain(world))
    j2, p = sim(world, "--machines", 2, "--prefix", "RUN", "--count", 3, "--rate", 50,
                "--mqtt", 3, "--qos", 2, *plain(world))
    assert "0 provisioned now, 2 reused" in p.stdout
    # seq stays within ingest's 12 digits (no seq can be a card number) and
    # moves on across runs: the second run starts where the first one ended.
    assert 1 <= j1["seq_start"] < j2["seq_start"] <= 999_999_999_999
    assert j2["seq_start"] >= j1["seq_start"] + 3
    state = world["root"] / "data.sim-certs" / "seq-next"
    assert int(state.read_text()) == j2["seq_start"] + 3
    assert j2["ok"] and j2["acked"] == 6 and j2["sessions_resumed"] == 2


def test_foreign_topic_is_refused_and_expected(world):
    j, _ = sim(world, "--machines", 2, "--prefix", "FRN", "--count", 4, "--rate", 50,
               "--fault", "foreign-topic", *plain(world))
    assert j["refused"] == 2 and j["refused_reasons"] == {"0x87": 2}
    assert j["hostile_sent"] == 2 and j["hostile_refused"] == 2 and j["unexpected_refused"] == 0
    assert j["acked"] == 6 and j["ok"] is True


def test_card_number_acked_by_a_plain_broker_fails_the_run(world, tmp_path):
    ack = tmp_path / "ack.log"
    j, _ = sim(world, "--machines", 2, "--prefix", "CRD", "--count", 4, "--rate", 50,
               "--fault", "card", "--ack-log", ack, *plain(world), rc=1)
    assert j["hostile_sent"] == 2 and j["hostile_acked"] == 2 and j["ok"] is False
    # Hostile messages never enter the ack log: it lists what must be stored.
    assert len(ack.read_text().splitlines()) == 6
    cards = world["observer"].wait_for(
        lambda t, b: t.startswith("cc/v1/CRD-") and b"card" in b, "a card number")
    for _, body in cards:
        number = re.search(rb"card ([0-9 ]+)", body).group(1).decode()
        assert luhn_ok(number) and len(number.replace(" ", "")) == 16


def test_disconnect_fault_queues_and_resends(world, tmp_path):
    ack = tmp_path / "ack.log"
    j, _ = sim(world, "--machines", 4, "--prefix", "DSC", "--count", 8, "--rate", 4,
               "--fault", "disconnect", "--ack-log", ack, *plain(world))
    assert j["reconnects"] == 4 and j["disconnects"] == 4
    assert j["queued_while_down"] >= 4
    assert j["sent"] == j["acked"] == 32 and j["unresolved"] == 0 and j["ok"] is True
    assert len(set(ack.read_text().splitlines())) == 32


def test_tls_verifies_the_server_then_runs(world):
    broker = world["broker"]
    # The server certificate is not from the fleet CA: no machine connects.
    j, p = sim(world, "--machines", 2, "--prefix", "TLS", "--count", 2, "--port", broker.tls_port,
               "--timeout", 2, rc=1)
    assert j["connected"] == 0 and j["connect_errors"] > 0 and j["acked"] == 0
    # Trusting the broker's CA too, the same machines connect with TLS 1.3.
    for n in (1, 2):
        ca = world["root"] / "data.sim-certs" / f"TLS-{n:04d}" / "ca.crt"
        ca.write_bytes(ca.read_bytes() + broker.test_ca.read_bytes())
    j, _ = sim(world, "--machines", 2, "--prefix", "TLS", "--count", 5, "--rate", 50,
               "--port", broker.tls_port)
    assert j["tls"] is True and j["connected"] == 2 and j["acked"] == 10 and j["ok"] is True


def test_database_is_closed_during_traffic(world):
    argv = [str(SIM), "--data", str(world["data"]), "--machines", 2, "--prefix", "DBC",
            "--duration", 1, "--rate", 10, *plain(world)]
    argv = [str(a) for a in argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    try:
        line = proc.stdout.readline()  # printed after the vault is closed
        assert line.startswith("fleet"), line
        data = str(world["data"].resolve())
        held = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        # The data directory itself: not its sibling DATA.sim-certs, whose seq-next the
        # simulator may be writing at this moment.
        assert not [h for h in held if h == data or h.startswith(data + os.sep)], held
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    no_sanitizer_report(err, "sim")
    assert proc.returncode == 0, out + err


def test_sigterm_stops_publishing_and_drains(world, tmp_path):
    ack = tmp_path / "ack.log"
    argv = [str(a) for a in [SIM, "--data", world["data"], "--machines", 2, "--prefix", "SIG",
                             "--duration", 120, "--rate", 20, "--ack-log", ack, "--quiet",
                             *plain(world)]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    try:
        world["observer"].wait_for(lambda t, b: t == "cc/v1/SIG-0002/telemetry", "SIG telemetry")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    no_sanitizer_report(err, "sim")
    j = json.loads(out.splitlines()[-1])
    assert j["interrupted"] is True and j["unresolved"] == 0 and proc.returncode == 0
    assert len(ack.read_text().splitlines()) == j["acked"] > 0


def test_registered_machine_without_bundle_is_an_error(world):
    sim(world, "--machines", 1, "--prefix", "GONE", "--count", 1, *plain(world))
    shutil.rmtree(world["root"] / "data.sim-certs" / "GONE-0001")
    argv = [str(SIM), "--data", str(world["data"]), "--machines", "1", "--prefix", "GONE",
            "--count", "1", "--plain", "--port", str(world["broker"].plain_port)]
    p = subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=60)
    assert p.returncode == 1, describe(argv, p)
    assert "GONE-0001 is registered but its bundle is not in" in p.stderr
