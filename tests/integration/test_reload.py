"""SIGHUP: the listeners' certificate rotates without dropping anyone.

`coffeecloud ca rotate-server` replaces the installation's server
certificate and key; after SIGHUP a new MQTT connection (a machine, mutual
TLS) and a new HTTPS connection get the new certificate, while a machine
connected before keeps its session (and the old certificate) and is still
acknowledged. A configuration file that does not load on SIGHUP changes
nothing."""
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")


def der_of(pem_path):
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


class Machine:
    def __init__(self, d, m):
        self.c = paho.Client(client_id=m.serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(m.ca), certfile=str(m.cert), keyfile=str(m.key))
        self.connected, self.gone = threading.Event(), threading.Event()
        self.c.on_connect = lambda c, u, fl, rc, p: rc == 0 and self.connected.set()
        self.c.on_disconnect = lambda c, u, rc, p=None: self.gone.set()
        self.c.connect("localhost", d.tls_port, keepalive=60)
        self.c.loop_start()
        assert self.connected.wait(TIMEOUT), "CONNACK"
        self.serial = m.serial

    def peer_cert(self):
        return self.c.socket().getpeercert(binary_form=True)

    def publish(self, seq):
        import json
        import time
        info = self.c.publish(f"cc/v1/{self.serial}/telemetry",
                              json.dumps({"seq": seq, "ts": int(time.time() * 1000), "m": {"boiler_temp_c": 92}}),
                              qos=1)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def https_cert(port, ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def test_sighup_rotates_the_certificate_and_keeps_connections(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=["RL-000001", "RL-000002"])
    crt = fleet.data / "server.crt"
    old = der_of(crt)
    https = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{https}"}) as d:
        before = Machine(d, fleet.machines["RL-000001"])
        try:
            assert before.peer_cert() == old
            assert https_cert(https, fleet.data / "ca.crt") == old
            fleet.ccj("ca", "rotate-server", "--san", "localhost,127.0.0.1")
            new = der_of(crt)
            assert new != old
            # Not yet reloaded: still the old one.
            assert https_cert(https, fleet.data / "ca.crt") == old
            mark = d.mark()
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for(r"SIGHUP: reloaded", since=mark)
            assert https_cert(https, fleet.data / "ca.crt") == new
            after = Machine(d, fleet.machines["RL-000002"])
            try:
                assert after.peer_cert() == new
                after.publish(1)
            finally:
                after.close()
            # The machine connected before is still there, on the old certificate, and acknowledged.
            assert not before.gone.is_set()
            assert before.peer_cert() == old
            before.publish(1)
            assert "RL-000001 went away" not in "".join(d.lines(mark))

            # A configuration that no longer loads: nothing changes, the daemon runs on.
            good = d.config.read_text()
            d.config.write_text(good + "no_such_setting = 1\n")
            mark = d.mark()
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for(r"SIGHUP: the configuration file does not load: nothing reloaded", since=mark)
            d.config.write_text(good)
            assert https_cert(https, fleet.data / "ca.crt") == new
            before.publish(2)
        finally:
            before.close()
    doc = fleet.telemetry("RL-000001")
    rows = doc["rows"] if isinstance(doc, dict) else doc
    assert sorted(r["seq"] for r in rows) == [1, 2], rows
