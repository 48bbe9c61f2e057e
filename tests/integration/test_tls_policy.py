"""What TLS the machine listener speaks, checked with the openssl client.

TLS 1.3 always; TLS 1.2 only with ECDHE-ECDSA and an AEAD cipher, and only
while mqtt_tls12 is on; nothing older.
"""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402


def handshake(daemon, machine, *options):
    """Runs a TLS handshake with the machine's certificate; returns (ok, output)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{daemon.tls_port}", "-servername", "localhost",
            "-CAfile", str(machine.ca), "-cert", str(machine.cert), "-key", str(machine.key),
            "-verify_return_error", "-brief", *options]
    p = subprocess.run(argv, input=b"", capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return "Protocol version:" in out and p.returncode == 0, out


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    return ccdaemon.Fleet.create(tmp_path_factory.mktemp("tls"), machines=("T1",))


def test_tls13_and_restricted_tls12(fleet):
    m = fleet.machines["T1"]
    with ccdaemon.Daemon(fleet) as d:
        ok, out = handshake(d, m, "-tls1_3")
        assert ok and "TLSv1.3" in out, out
        ok, out = handshake(d, m, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert ok and "TLSv1.2" in out and "ECDHE-ECDSA-AES128-GCM-SHA256" in out, out
        ok, out = handshake(d, m, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
        assert ok, out
        # CBC suites and static key exchange are refused even in TLS 1.2.
        for cipher in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"):
            ok, out = handshake(d, m, "-tls1_2", "-cipher", cipher)
            assert not ok, cipher + ": " + out
        ok, out = handshake(d, m, "-tls1_1")
        assert not ok, out


def test_tls12_can_be_switched_off(fleet):
    m = fleet.machines["T1"]
    with ccdaemon.Daemon(fleet, settings={"mqtt_tls12": "false"}) as d:
        ok, out = handshake(d, m, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert not ok, out
        ok, out = handshake(d, m, "-tls1_3")
        assert ok and "TLSv1.3" in out, out


def test_no_session_tickets(fleet):
    """Sessions are never resumed (no cache), so none is offered: a TLS 1.3
    NewSessionTicket would cost a session copy per handshake for nothing."""
    import socket
    import ssl

    m = fleet.machines["T1"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(str(m.ca))
    ctx.load_cert_chain(str(m.cert), str(m.key))
    ctx.check_hostname = False
    client_id = m.serial.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    with ccdaemon.Daemon(fleet) as d:
        with socket.create_connection(("127.0.0.1", d.tls_port), timeout=30) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(bytes([0x10, len(body)]) + body)
                connack = s.recv(4)
                # Any ticket came before the CONNACK (sent when the handshake ended).
                assert connack == b"\x20\x02\x00\x00", connack
                assert s.session is None or not s.session.has_ticket
