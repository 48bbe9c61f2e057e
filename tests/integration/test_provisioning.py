"""Factory-line provisioning and the certificate lifecycle (src/fleet/provision.h):
`machine import` of a CSV in all-or-nothing batches, registration over the API
(CSRs only), certificate validity, renewal, and the certificate audit. Driven
through the real CLI, the real daemon (HTTPS, MQTT over TLS with paho) and
checked with python3-cryptography."""
import datetime
import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from ccdaemon import TIMEOUT  # noqa: E402

import paho.mqtt.client as paho  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")


def make_csr(serial, cn=None, curve=None):
    """A machine's own key and CSR (PEM), as the factory line makes them."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or serial)]))
           .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def not_after(cert):
    """notAfter as an aware UTC time (older python3-cryptography has only the naive one)."""
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def not_after_days(cert_path):
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return (not_after(cert) - datetime.datetime.now(datetime.timezone.utc)).days


def fingerprint(pem):
    cert = x509.load_pem_x509_certificate(pem)
    return cert.fingerprint(hashes.SHA256()).hex()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("prov")
    f = ccdaemon.Fleet.create(root, machines=("A1",), customer="cafe-a")
    f.cc("site", "add", "--customer", "cafe-a", "--name", "line-1")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    f.cc("user", "add", "--org", "dist-b", "--login", "admin-b", "--role", "admin", "--email",
         "admin-b@example.org", "--password-stdin", stdin=ccdaemon.password_of("admin-b") + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    yield {"fleet": f, "daemon": d, "api": Api(port, f.data / "ca.crt"), "root": root}
    d.stop()


def write_csv(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def connect(port, ca, cert, key, serial):
    """Connects with paho over TLS; returns the CONNACK reason code."""
    done = threading.Event()
    result = {}
    c = paho.Client(client_id=serial, protocol=paho.MQTTv5)
    c.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc.value if hasattr(rc, "value") else int(rc)
        done.set()

    def on_disconnect(client, userdata, rc, props=None):
        result.setdefault("rc", rc.value if hasattr(rc, "value") else int(rc))
        done.set()

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    try:
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        assert done.wait(TIMEOUT), "no CONNACK within the timeout"
    finally:
        c.disconnect()
        c.loop_stop()
    return result["rc"]


def test_import_with_csrs_and_generated_keys_then_connect(world):
    f, root = world["fleet"], world["root"]
    csrs = root / "csrs"
    csrs.mkdir()
    keys = {}
    rows = []
    for i in range(300):
        serial = f"F{i:04d}"
        key, csr = make_csr(serial)
        keys[serial] = key
        (csrs / f"{serial}.csr").write_bytes(csr)
        rows.append((serial, "barista-pro", "cafe-a", "line-1" if i % 2 else "", f"{serial}.csr"))
    for i in range(20):
        rows.append((f"G{i:04d}", "barista-pro", "cafe-a", "", ""))
    csv = write_csv(root / "line.csv", "serial,model,customer,site,csr", rows)
    out = root / "bundles"
    doc = f.ccj("machine", "import", "--csv", csv, "--csr-dir", csrs, "--out", out, "--batch", "100")
    assert doc["imported"] == 320 and doc["batches"] == 4, doc
    # A CSR's machine gets only its certificate; a generated key stays on disk 0600.
    assert not (out / "F0001" / "machine.key").exists()
    assert (out / "G0001" / "machine.key").stat().st_mode & 0o777 == 0o600
    shown = f.ccj("machine", "show", "F0001")
    assert shown["site"] == "line-1" and shown["cert_state"] == "valid"
    assert shown["cert_sha256"] == fingerprint((out / "F0001" / "machine.crt").read_bytes())
    listed = {m["serial"] for m in f.ccj("machine", "list")}
    assert {"F0000", "F0299", "G0019"} <= listed
    # The machine's own key and the certificate it got connect over MQTT/TLS.
    key_path = root / "F0007.key"
    key_path.write_bytes(keys["F0007"])
    d = world["daemon"]
    ccdaemon.poll_until(lambda: connect(d.tls_port, out / "F0007" / "ca.crt", out / "F0007" / "machine.crt",
                                        key_path, "F0007") == 0, "F0007 connects")
    g = out / "G0003"
    assert connect(d.tls_port, g / "ca.crt", g / "machine.crt", g / "machine.key", "G0003") == 0


def test_a_bad_row_aborts_its_file_and_names_the_line(world):
    f, root = world["fleet"], world["root"]
    _, csr = make_csr("H0002")
    (root / "H0002.csr").write_bytes(csr)
    _, wrong_cn = make_csr("H0003", cn="SOMEONE-ELSE")
    (root / "H0003.csr").write_bytes(wrong_cn)
    _, p384 = make_csr("H0006", curve=ec.SECP384R1())
    (root / "H0006.csr").write_bytes(p384)
    rows = [("H0001", "barista-pro", "cafe-a", ""),
            ("H0002", "barista-pro", "cafe-a", str(root / "H0002.csr")),
            ("H0003", "barista-pro", "cafe-a", str(root / "H0003.csr")),  # line 4: CN is not the serial
            ("H0004", "barista-pro", "no-such-cafe", ""),                 # line 5
            ("H0001", "barista-pro", "cafe-a", ""),                       # line 6: twice
            ("4111111111111111", "barista-pro", "cafe-a", ""),            # line 7: a card number
            ("F0001", "barista-pro", "cafe-a", ""),                       # line 8: registered already
            ("H0006", "barista-pro", "cafe-a", str(root / "H0006.csr"))]  # line 9: P-384
    csv = write_csv(root / "bad.csv", "serial,model,customer,csr", rows)
    p = f.cc("machine", "import", "--csv", csv, "--out", root / "bad-out", "--json", rc=None)
    assert p.returncode != 0
    doc = json.loads(p.stdout)
    got = {(e["line"], e["field"]) for e in doc["errors"]}
    assert got == {(4, "csr"), (5, "customer"), (6, "serial"), (7, "serial"), (8, "serial"), (9, "csr")}, doc
    assert doc["imported"] == 0
    assert "bad.csv line 4: csr: refused: its subject CN is not the machine serial" in p.stderr
    assert "4111111111111111" not in p.stderr  # a card number is not echoed
    listed = {m["serial"] for m in f.ccj("machine", "list")}
    assert not listed & {"H0001", "H0002"}, "nothing of a failed file is stored"
    assert not (root / "bad-out" / "H0001").exists()


def test_api_single_and_batch_take_csrs_only(world):
    f, api = world["fleet"], world["api"]
    admin = api.login("admin", ccdaemon.PASSWORD)
    key, csr = make_csr("API-1")
    status, doc, _ = api.call("POST", "/api/v1/machines", {"serial": "API-1", "model": "barista-pro",
                                                          "customer": "cafe-a", "csr": csr.decode(),
                                                          "validity_days": 90}, token=admin)
    assert status == 201, doc
    assert "PRIVATE KEY" not in json.dumps(doc)
    assert doc["cert_sha256"] == fingerprint(doc["certificate"].encode())
    assert doc["ca"] == (f.data / "ca.crt").read_text()
    assert 88 <= not_after_days_of_pem(doc["certificate"]) <= 90
    # No CSR: refused, the server makes no keys for HTTP.
    status, doc, _ = api.call("POST", "/api/v1/machines", {"serial": "API-2", "model": "barista-pro",
                                                          "customer": "cafe-a"}, token=admin)
    assert status == 400 and doc["error"]["rows"][0]["field"] == "csr", doc
    # Duplicate: 409.
    status, doc, _ = api.call("POST", "/api/v1/machines", {"serial": "API-1", "model": "barista-pro",
                                                          "customer": "cafe-a", "csr": make_csr("API-1")[1].decode()},
                              token=admin)
    assert status == 409, doc
    batch = [{"serial": f"APB-{i}", "model": "barista-pro", "customer": "cafe-a",
              "csr": make_csr(f"APB-{i}")[1].decode()} for i in range(5)]
    status, doc, _ = api.call("POST", "/api/v1/machines/batch", {"machines": batch}, token=admin)
    assert status == 201 and doc["registered"] == 5, doc
    assert [m["serial"] for m in doc["machines"]] == [f"APB-{i}" for i in range(5)]
    # One bad item: nothing of the batch, and the item named.
    bad = [{"serial": f"APC-{i}", "model": "barista-pro", "customer": "cafe-a",
            "csr": make_csr(f"APC-{i}")[1].decode()} for i in range(3)]
    bad[1]["csr"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    status, doc, _ = api.call("POST", "/api/v1/machines/batch", {"machines": bad}, token=admin)
    assert status == 400 and [(r["line"], r["field"]) for r in doc["error"]["rows"]] == [(2, "csr")], doc
    assert not {m["serial"] for m in f.ccj("machine", "list")} & {"APC-0", "APC-2"}
    # Another distributor's admin: cafe-a is outside its subtree, as if absent.
    admin_b = api.login("admin-b", ccdaemon.password_of("admin-b"))
    status, doc, _ = api.call("POST", "/api/v1/machines", {"serial": "APD-1", "model": "barista-pro",
                                                          "customer": "cafe-a", "csr": make_csr("APD-1")[1].decode()},
                              token=admin_b)
    assert status == 404, doc
    status, doc, _ = api.call("POST", "/api/v1/machines", {"serial": "APD-1", "model": "barista-pro",
                                                          "customer": "cafe-b", "csr": make_csr("APD-1")[1].decode()},
                              token=admin_b)
    assert status == 201, doc
    # Audited with the serials.
    records = f.ccj("audit", "list", "--action", "machine.import")
    assert any("APB-0" in r["machines"] and "APB-4" in r["machines"] for r in records), records


def not_after_days_of_pem(pem):
    cert = x509.load_pem_x509_certificate(pem.encode())
    return (not_after(cert) - datetime.datetime.now(datetime.timezone.utc)).days


def test_validity_default_option_and_setting(world):
    f, root = world["fleet"], world["root"]
    assert f.ccj("machine", "cert-validity")["days"] == 730
    m = f.add_machine("V1")
    assert 728 <= not_after_days(m.cert) <= 730
    out = root / "v2"
    f.cc("machine", "add", "--serial", "V2", "--model", "barista-pro", "--customer", "cafe-a", "--out", out,
         "--validity-days", "30")
    assert 28 <= not_after_days(out / "machine.crt") <= 30
    assert f.ccj("machine", "cert-validity", "--days", "400")["days"] == 400
    m3 = f.add_machine("V3")
    assert 398 <= not_after_days(m3.cert) <= 400
    f.cc("machine", "cert-validity", "--days", "730")
    shown = f.ccj("machine", "show", "V2")
    expiry = datetime.datetime.fromisoformat(shown["cert_not_after"].replace("Z", "+00:00"))
    cert = x509.load_pem_x509_certificate((out / "machine.crt").read_bytes())
    assert abs((expiry - not_after(cert)).total_seconds()) < 1
    text = f.cc("machine", "show", "V2").stdout
    assert "cert_not_after" in text and shown["cert_sha256"] in text and "valid" in text


def test_renewal_over_https_then_both_certificates_connect(world):
    f, api, d, root = world["fleet"], world["api"], world["daemon"], world["root"]
    m = f.add_machine("R1")
    admin = api.login("admin", ccdaemon.PASSWORD)
    # The same key again: refused.
    same = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "R1")])).sign(
        serialization.load_pem_private_key(m.key.read_bytes(), None), hashes.SHA256())
    status, doc, _ = api.call("POST", "/api/v1/machines/R1/certificate",
                              {"csr": same.public_bytes(serialization.Encoding.PEM).decode()}, token=admin)
    assert status == 400 and "new key" in doc["error"]["message"], doc
    key, csr = make_csr("R1")
    status, doc, _ = api.call("POST", "/api/v1/machines/R1/certificate", {"csr": csr.decode()}, token=admin)
    assert status == 200, doc
    new_cert, new_key = root / "R1-new.crt", root / "R1-new.key"
    new_cert.write_text(doc["certificate"])
    new_key.write_bytes(key)
    shown = f.ccj("machine", "show", "R1")
    assert shown["cert_sha256"] == fingerprint(new_cert.read_bytes()) == doc["cert_sha256"]
    assert shown["prev_cert_sha256"] == fingerprint(m.cert.read_bytes())
    ccdaemon.poll_until(lambda: connect(d.tls_port, m.ca, new_cert, new_key, "R1") == 0, "the new certificate")
    # During the overlap the old certificate is still the machine's.
    assert connect(d.tls_port, m.ca, m.cert, m.key, "R1") == 0
    assert f.ccj("audit", "list", "--action", "machine.renew")[0]["machines"] == ["R1"]
    # A revoked machine is not renewed, and neither certificate connects.
    f.revoke("R1")
    _, csr2 = make_csr("R1")
    status, doc, _ = api.call("POST", "/api/v1/machines/R1/certificate", {"csr": csr2.decode()}, token=admin)
    assert status == 409, doc
    ccdaemon.poll_until(lambda: connect(d.tls_port, m.ca, new_cert, new_key, "R1") != 0, "revocation")
    assert connect(d.tls_port, m.ca, m.cert, m.key, "R1") != 0
    # The CRL lists both: the previous certificate was still accepted.
    crl = x509.load_pem_x509_crl((f.data / "ca.crl").read_bytes())
    for path in (m.cert, new_cert):
        serial = x509.load_pem_x509_certificate(path.read_bytes()).serial_number
        assert crl.get_revoked_certificate_by_serial_number(serial) is not None, path


def test_renewal_with_the_cli(world):
    f, root = world["fleet"], world["root"]
    f.add_machine("R2")
    _, csr = make_csr("R2")
    (root / "R2.csr").write_bytes(csr)
    doc = f.ccj("machine", "renew", "R2", "--csr", root / "R2.csr", "--out", root / "R2-new.crt",
                "--validity-days", "60")
    assert doc["cert_sha256"] == fingerprint((root / "R2-new.crt").read_bytes())
    assert 58 <= not_after_days(root / "R2-new.crt") <= 60


def test_certificate_audit(world):
    f, api = world["fleet"], world["api"]
    f.add_machine("AUD-1")
    f.cc("machine", "add", "--serial", "AUD-2", "--model", "barista-pro", "--customer", "cafe-a",
         "--out", world["root"] / "aud2", "--validity-days", "5")
    doc = f.ccj("machine", "certs", "--expiring-days", "10")
    by = {m["serial"]: m for m in doc["machines"]}
    assert by["AUD-2"]["findings"] == ["expiring", "never_seen"], by["AUD-2"]
    assert by["AUD-1"]["findings"] == ["never_seen"]
    assert "F0007" not in by  # connected: seen, and valid for two years
    assert "R1" not in by  # revoked, and not connected
    # A renewed row (its MAC covers the previous certificate) reads back in the fleet list.
    assert by["R2"]["findings"] == ["never_seen"]
    # The daemon cuts revoked machines off, so none is revoked-but-connected.
    assert not [m for m in doc["machines"] if "revoked_connected" in m["findings"]]
    admin = api.login("admin", ccdaemon.PASSWORD)
    status, got, _ = api.call("GET", "/api/v1/certificates/audit?expiring_days=10", token=admin)
    assert status == 200
    api_by = {m["serial"]: m for m in got["machines"]}
    assert api_by["AUD-2"]["findings"] == ["expiring", "never_seen"]
    assert api_by["AUD-2"]["cert_sha256"] == by["AUD-2"]["cert_sha256"]
    admin_b = api.login("admin-b", ccdaemon.password_of("admin-b"))
    status, got, _ = api.call("GET", "/api/v1/certificates/audit", token=admin_b)
    assert status == 200 and {m["customer"] for m in got["machines"]} <= {"cafe-b"}, got
    # Every access row, renewed and revoked ones included, still verifies.
    assert f.cc("init", "--check", rc=None).returncode == 0


class Session:
    """A machine's live MQTT 5 session over TLS (paho), recording messages."""

    def __init__(self, port, ca, cert, key, serial):
        import queue
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.c = paho.Client(client_id=serial, protocol=paho.MQTTv5)
        self.c.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        self.c.on_connect = lambda c, u, f, rc, p: self.connected.set()
        self.c.on_disconnect = lambda c, u, rc, p=None: self.disconnected.set()
        self.c.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"

    def subscribe(self, topic):
        done = threading.Event()
        self.c.on_subscribe = lambda c, u, mid, codes, p: done.set()
        self.c.subscribe(topic, 1)
        assert done.wait(TIMEOUT), "no SUBACK"

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_renewal_over_the_live_mqtt_session(world):
    f, d, root = world["fleet"], world["daemon"], world["root"]
    m = f.add_machine("R3")
    ccdaemon.poll_until(lambda: connect(d.tls_port, m.ca, m.cert, m.key, "R3") == 0, "R3 registered")
    s = Session(d.tls_port, m.ca, m.cert, m.key, "R3")
    try:
        # Another machine's renewal topics are not its own.
        assert s.c.subscribe("cc/v1/R1/cert/issued", 1)[0] == paho.MQTT_ERR_SUCCESS
        s.subscribe("cc/v1/R3/cert/issued")
        key, csr = make_csr("R3")
        s.publish("cc/v1/R3/cert/csr", csr)
        topic, cert_pem = s.messages.get(timeout=TIMEOUT)
        assert topic == "cc/v1/R3/cert/issued"
        cert = x509.load_pem_x509_certificate(cert_pem)
        assert cert.public_key().public_numbers() == serialization.load_pem_private_key(key, None) \
            .public_key().public_numbers()
        assert f.ccj("machine", "show", "R3")["cert_sha256"] == fingerprint(cert_pem)
        # Rate-limited: a second CSR within the hour is refused, and the certificate stays.
        mark = d.mark()
        s.publish("cc/v1/R3/cert/csr", make_csr("R3")[1])
        d.wait_for(r"R3: certificate renewal refused: renewed less than an hour ago", since=mark)
        assert s.messages.empty()
        assert f.ccj("machine", "show", "R3")["cert_sha256"] == fingerprint(cert_pem)
        # The session that asked, on its old certificate, is not cut off by the renewal.
        assert not s.disconnected.is_set()
    finally:
        s.close()
    (root / "R3-new.crt").write_bytes(cert_pem)
    (root / "R3-new.key").write_bytes(key)
    assert connect(d.tls_port, m.ca, root / "R3-new.crt", root / "R3-new.key", "R3") == 0
    assert f.ccj("audit", "list", "--action", "machine.renew", "--serial", "R3")[0]["actor"] == "machine:R3"


def csv_body(rows):
    """text/csv, RFC 4180: the CSR PEMs in double quotes across lines. Returns
    the body and the line each record starts on."""
    text, starts = "serial,model,customer,csr\r\n", []
    for serial, customer, csr in rows:
        starts.append(text.count("\n") + 1)
        text += f'{serial},barista-pro,{customer},"{csr}"\r\n'
    return text.encode(), starts


def test_api_batch_as_csv(world):
    f, api = world["fleet"], world["api"]
    admin = api.login("admin", ccdaemon.PASSWORD)
    body, _ = csv_body([(f"CSV-{i}", "cafe-a", make_csr(f"CSV-{i}")[1].decode()) for i in range(3)])
    status, doc, _ = api.call("POST", "/api/v1/machines/batch?validity_days=100", token=admin, raw=body,
                              headers={"Content-Type": "text/csv"})
    assert status == 201 and doc["registered"] == 3, doc
    assert 98 <= not_after_days_of_pem(doc["machines"][2]["certificate"]) <= 100
    rows = [(f"CSV-B{i}", "cafe-a", make_csr(f"CSV-B{i}")[1].decode()) for i in range(3)]
    rows[2] = ("CSV B2", "cafe-a", rows[2][2])
    body, starts = csv_body(rows)
    status, doc, _ = api.call("POST", "/api/v1/machines/batch", token=admin, raw=body,
                              headers={"Content-Type": "text/csv"})
    assert status == 400, doc
    assert [(r["line"], r["field"]) for r in doc["error"]["rows"]] == [(starts[2], "serial")], (doc, starts)
    assert not {m["serial"] for m in f.ccj("machine", "list")} & {"CSV-B0", "CSV-B1"}
    status, doc, _ = api.call("POST", "/api/v1/machines/batch", token=admin, raw=b'serial,model,customer,csr\nX,"a"b,c,d\n',
                              headers={"Content-Type": "text/csv"})
    assert status == 400 and "line 2" in doc["error"]["message"], doc
    status, doc, _ = api.call("POST", "/api/v1/machines/batch", {"machines": [], "owner": "x"}, token=admin)
    assert status == 400 and doc["error"]["message"] == "unknown field", doc
    # Only the batch route reads CSV; the others still want JSON.
    status, doc, _ = api.call("POST", "/api/v1/machines", token=admin, raw=body, headers={"Content-Type": "text/csv"})
    assert status == 415, doc


def test_a_batch_that_fails_on_its_files_leaves_none(world):
    f, root = world["fleet"], world["root"]
    out = root / "undo"
    (out / "U0002").mkdir(parents=True)
    (out / "U0002" / "machine.crt").write_text("someone else's\n")
    csv = write_csv(root / "undo.csv", "serial,model,customer",
                    [("U0001", "barista-pro", "cafe-a"), ("U0002", "barista-pro", "cafe-a")])
    p = f.cc("machine", "import", "--csv", csv, "--out", out, rc=None)
    assert p.returncode != 0 and "exists already" in p.stderr, p.stderr
    assert not (out / "U0001").exists(), "the failed batch's bundle is removed"
    assert (out / "U0002" / "machine.crt").read_text() == "someone else's\n"
    assert not {m["serial"] for m in f.ccj("machine", "list")} & {"U0001", "U0002"}
