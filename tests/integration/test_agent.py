"""libcoffeecloud-agent (docs/AGENT.md) against the real daemon: a simulated
machine built from the library (tests/agent/agent_driver.c, one process per
boot, its flash a directory) takes an update through a staged rollout,
resumes a download cut short, confirms the new slot, and reports each step;
each attack of the TUF specification is refused and reported.

Where the daemon cannot produce an attack (it verifies what it stores and
signs each offer fresh), a local HTTPS server stands in for a compromised
server or a man in the middle holding a certificate the agent trusts: it
serves the daemon's real documents replayed, swapped between machines,
edited, or an endless download (`Impostor` below)."""
import hashlib
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
from test_updates import artifact, keygen, machine_ctx, sign  # noqa: E402

AGENT = ccdaemon.BUILD_DIR / "cc-agent-test"
TICK = {"rollouts_tick_ms": "100"}


def make(tmp, serials, sizes=(1_500_000,), versions=("1.5.0",)):
    fleet = ccdaemon.Fleet.create(tmp / "f", machines=serials)
    keygen(tmp / "rk")
    fleet.cc("release-key", "add", "--file", tmp / "rk" / "release.pub", "--label", "r1")
    arts = []
    for i, (size, v) in enumerate(zip(sizes, versions)):
        f = artifact(tmp, f"fw-{i}.bin", size)
        sign(tmp / "rk" / "release.key", f, version=v)
        fleet.cc("artifact", "add", f, "--meta", str(f) + ".meta.json")
        arts.append((f, hashlib.sha256(f.read_bytes()).hexdigest()))
    return fleet, arts


def signing_key(tmp, port, fleet):
    status, doc, _ = Api(port, fleet.data / "ca.crt").call("GET", "/api/v1/signing-key")
    assert status == 200, doc
    p = tmp / "server.pub"
    p.write_text(doc["public_key_pem"])
    return p


def run_agent(tmp, fleet, url, serial, op="update", *, ca=None, release=None, revoked=(), server=None,
              model="barista-pro", factory="1.0.0", extra=(), rc=0, dev=None):
    """One boot of the simulated machine: the JSON lines it printed."""
    m = fleet.machines[serial]
    args = [str(AGENT), op, "--dir", str(dev or tmp / "dev" / serial), "--serial", serial, "--model", model,
            "--factory", factory, "--url", url, "--ca", str(ca or m.ca), "--cert", str(m.cert),
            "--key", str(m.key), "--server-key", str(server or tmp / "server.pub")]
    for k in (release if release is not None else [tmp / "rk" / "release.pub"]):
        args += ["--release-key", str(k)]
    for k in revoked:
        args += ["--revoked-key", str(k)]
    args += [str(x) for x in extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, env=ccdaemon.base_env())
    ccdaemon.assert_no_sanitizer_report(p.stderr, "cc-agent-test")
    assert p.returncode == rc, (p.returncode, p.stdout, p.stderr)
    return [json.loads(x) for x in p.stdout.splitlines()]


def by_op(lines, op):
    found = [x for x in lines if x.get("op") == op]
    assert len(found) == 1, lines
    return found[0]


def rollout(fleet, people, admin, sha, serials):
    created = fleet.ccj("rollout", "create", "--artifact", sha, "--serials", ",".join(serials),
                        "--phases", "100", "--soak", "0", "--threshold", "100")
    ccdaemon.poll_until(lambda: machines(people, admin, created["id"]) if all(
        m["state"] == "offered" for m in machines(people, admin, created["id"]).values()) else None,
        "the offers")
    return created["id"]


def machines(people, admin, rid):
    status, doc, _ = people.call("GET", f"/api/v1/rollouts/{rid}", token=admin)
    assert status == 200, doc
    return {m["serial"]: m for m in doc["machines"]}


def test_update_resumed_installed_confirmed(tmp_path):
    fleet, [(fw, sha)] = make(tmp_path, ("A1",))
    port = ccdaemon.free_port()
    url = f"https://localhost:{port}"
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        signing_key(tmp_path, port, fleet)
        # Nothing offered yet.
        assert by_op(run_agent(tmp_path, fleet, url, "A1"), "update")["rc"] == "no update offered"
        rid = rollout(fleet, people, admin, sha, ["A1"])
        # A power cut in the middle of the download.
        out = run_agent(tmp_path, fleet, url, "A1", extra=["--die-after-bytes", 700_000], rc=9)
        assert out[-1]["died_at"] >= 700_000
        # Reported as it went: a slice of 256 KiB at a time, the percent after each.
        row = machines(people, admin, rid)["A1"]
        assert row["state"] == "downloading" and row["percent"] == 512 * 1024 * 100 // fw.stat().st_size, row
        # The next boot resumes where the stored progress says (a Range request), not from 0.
        out = run_agent(tmp_path, fleet, url, "A1")
        up = by_op(out, "update")
        assert up["rc"] == "installed: reboot" and out[-1] == {"reboot": True}, out
        assert 512 * 1024 <= up["resumed_at"] <= 700_000 and up["fetched"] == fw.stat().st_size - up["resumed_at"]
        assert (tmp_path / "dev" / "A1" / "slot-b").read_bytes() == fw.read_bytes()
        assert machines(people, admin, rid)["A1"]["state"] == "rebooting"
        # The bootloader runs the new slot once; healthy, the agent confirms it.
        start = by_op(run_agent(tmp_path, fleet, url, "A1", "start"), "start")
        assert start["state"] == "succeeded" and start["installed"] == "1.5.0", start
        assert (tmp_path / "dev" / "A1" / "boot").read_text() == "b -\n"
        assert machines(people, admin, rid)["A1"]["state"] == "succeeded"
        # Installed now: the same artifact again would be a rollback.
        up = by_op(run_agent(tmp_path, fleet, url, "A1"), "update")
        assert up["rc"] in ("no update offered", "update refused"), up
        if up["rc"] == "update refused":
            assert up["reason"] == "rollback"


def test_each_refusal_against_the_daemon(tmp_path):
    """Attacks the real daemon can carry: metadata signed by a key the
    machine does not trust (arbitrary software) or revoked, a downgrade, a
    wrong model, expired metadata (freeze: the machine's clock past the
    expiry), an offer not signed by the installation. Each refused before
    a byte is downloaded, and reported as failed with its reason."""
    serials = ("K1", "K2", "K3", "K4", "K5", "K6")
    fleet, [(fw, sha)] = make(tmp_path, serials, sizes=(50_000,))
    keygen(tmp_path / "stranger")
    stranger = tmp_path / "stranger" / "release.pub"
    port = ccdaemon.free_port()
    url = f"https://localhost:{port}"
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        signing_key(tmp_path, port, fleet)
        rid = rollout(fleet, people, admin, sha, list(serials))
        cases = {
            "K1": ("unknown-key", dict(release=[stranger])),
            # Listed as trusted and as revoked (an old trust list, a newer revocation): revoked.
            "K2": ("revoked-key", dict(revoked=[tmp_path / "rk" / "release.pub"])),
            "K3": ("rollback", dict(factory="1.5.0")),
            "K4": ("wrong-model", dict(model="espresso-one")),
            "K5": ("expired", dict(extra=["--clock-offset", 80 * 365 * 86400])),
            "K6": ("offer-bad-signature", dict(server=stranger)),
        }
        for serial, (reason, kw) in cases.items():
            up = by_op(run_agent(tmp_path, fleet, url, serial, **kw), "update")
            assert up["rc"] == "update refused" and up["reason"] == reason, (serial, up)
            assert up["fetched"] == 0 and not (tmp_path / "dev" / serial / "slot-b").exists(), up
            assert up["installed"] == kw.get("factory", "1.0.0")
        got = machines(people, admin, rid)
        for serial, (reason, _) in cases.items():
            assert (got[serial]["state"], got[serial]["reason"]) == ("failed", reason), got[serial]


def test_power_cut_mid_install_boots_the_old_slot(tmp_path):
    serials = ("P1", "P2", "P3")
    fleet, [(fw, sha)] = make(tmp_path, serials, sizes=(80_000,))
    port = ccdaemon.free_port()
    url = f"https://localhost:{port}"
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", **TICK}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        server = signing_key(tmp_path, port, fleet)
        rid = rollout(fleet, people, admin, sha, list(serials))
        # P1: killed while installing to the inactive slot.
        m = fleet.machines["P1"]
        p = subprocess.Popen([str(AGENT), "update", "--dir", str(tmp_path / "dev" / "P1"), "--serial", "P1",
                              "--model", "barista-pro", "--factory", "1.0.0", "--url", url, "--ca", str(m.ca),
                              "--cert", str(m.cert), "--key", str(m.key), "--server-key", str(server),
                              "--release-key", str(tmp_path / "rk" / "release.pub"), "--hang-in-install"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ccdaemon.base_env())
        try:
            for line in p.stdout:
                if json.loads(line).get("installing"):
                    break
            else:
                raise AssertionError("the agent never reached the install: " + p.stderr.read())
            assert machines(people, admin, rid)["P1"]["state"] == "installing"
            p.send_signal(signal.SIGKILL)
        finally:
            p.kill()
            p.wait(timeout=30)
            p.stdout.close()
            p.stderr.close()
        start = by_op(run_agent(tmp_path, fleet, url, "P1", "start"), "start")
        assert (start["state"], start["reason"], start["installed"]) == ("failed", "install-failed", "1.0.0"), start
        assert (tmp_path / "dev" / "P1" / "boot").read_text() == "a -\n"
        # P2: installed, but the new slot does not boot: the bootloader goes back.
        assert by_op(run_agent(tmp_path, fleet, url, "P2"), "update")["rc"] == "installed: reboot"
        start = by_op(run_agent(tmp_path, fleet, url, "P2", "start", extra=["--no-boot"]), "start")
        assert (start["state"], start["reason"], start["installed"]) == ("rolled_back", "boot-failed", "1.0.0")
        # P3: it boots but fails its health check: rolled back, and the next boot is the old slot.
        assert by_op(run_agent(tmp_path, fleet, url, "P3"), "update")["rc"] == "installed: reboot"
        out = run_agent(tmp_path, fleet, url, "P3", "start", extra=["--unhealthy"])
        start = by_op(out, "start")
        assert (start["state"], start["reason"]) == ("rolled_back", "health-check-failed") and out[-1] == {
            "reboot": True}, out
        assert (tmp_path / "dev" / "P3" / "boot").read_text() == "a -\n"
        assert by_op(run_agent(tmp_path, fleet, url, "P3", "start"), "start")["installed"] == "1.0.0"
        got = machines(people, admin, rid)
        assert (got["P1"]["state"], got["P1"]["reason"]) == ("failed", "install-failed"), got["P1"]
        assert (got["P2"]["state"], got["P2"]["reason"]) == ("rolled_back", "boot-failed"), got["P2"]
        assert (got["P3"]["state"], got["P3"]["reason"]) == ("rolled_back", "health-check-failed"), got["P3"]


def impostor_tls(tmp):
    """A CA and a localhost certificate: what an attacker holding a
    certificate the agent trusts would present."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "impostor-ca.crt", tmp / "impostor.crt", tmp / "impostor.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class Impostor:
    """An HTTPS server speaking the machine routes with documents it was
    given (answer), an artifact body of its choice (download: bytes, or
    "endless"), and the progress reports it receives kept (reports)."""

    def __init__(self, tmp):
        ca, cert, key = impostor_tls(tmp)
        self.ca = ca
        self.answer = b""
        self.download = b""
        self.sent = 0
        self.reports = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/api/v1/machine/update":
                    self._send(200, outer.answer)
                elif self.path.startswith("/api/v1/machine/artifacts/"):
                    if outer.download == "endless":
                        # No length, no end: the agent has to stop reading itself.
                        self.send_response(200)
                        self.send_header("Connection", "close")
                        self.end_headers()
                        chunk = os.urandom(64 * 1024)
                        try:
                            while outer.sent < 256 * 1024 * 1024:
                                self.wfile.write(chunk)
                                outer.sent += len(chunk)
                        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                            pass
                        self.close_connection = True
                    else:
                        self._send(200, outer.download)
                else:
                    self._send(404, b"{}")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.reports.append(json.loads(self.rfile.read(n)))
                self._send(200, b"{}")

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        return False


def test_attacks_a_compromised_server_would_carry(tmp_path):
    """Replayed, swapped, edited documents and bad downloads, from the
    impostor: the daemon's own documents as an attacker would reuse them."""
    fleet, [(fw, sha), (fw_b, sha_b)] = make(tmp_path, ("U1", "U2"), sizes=(300_000, 1000),
                                             versions=("1.5.0", "1.6.0"))
    port = ccdaemon.free_port()
    url = f"https://localhost:{port}"
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"}):
        signing_key(tmp_path, port, fleet)

        def answer(serial):
            s, doc, _ = Api(port, None, ctx=machine_ctx(fleet, fleet.machines[serial])).call(
                "GET", "/api/v1/machine/update")
            assert s == 200, doc
            return doc

        fleet.cc("artifact", "offer", sha_b, "--serial", "U1")
        b_to_u1 = answer("U1")
        fleet.cc("artifact", "offer", sha, "--serial", "U1")
        fleet.cc("artifact", "offer", sha, "--serial", "U2")
        a_to_u1, a_to_u2 = answer("U1"), answer("U2")
        # The real thing through the daemon works (the documents are good).
        assert by_op(run_agent(tmp_path, fleet, url, "U1", dev=tmp_path / "real"), "update")["rc"] == \
            "installed: reboot"

    edited = dict(a_to_u1, metadata=a_to_u1["metadata"].replace("Faster descaling", "Slower descaling"))
    assert edited["metadata"] != a_to_u1["metadata"]
    cases = [
        # (name, answer, download, agent options, refusal)
        ("arbitrary software: metadata edited after signing", edited, fw.read_bytes(), [], "bad-signature"),
        ("freeze: yesterday's offer replayed a day later", a_to_u1, fw.read_bytes(),
         ["--clock-offset", 25 * 3600], "offer-expired"),
        ("mix-and-match: another machine's offer", a_to_u2, fw.read_bytes(), [], "offer-other-machine"),
        ("mix-and-match: the offer of another artifact", dict(a_to_u1, offer=b_to_u1["offer"]), fw.read_bytes(),
         [], "offer-other-artifact"),
        ("endless data", a_to_u1, "endless", [], "too-large"),
        ("other bytes of the signed size", a_to_u1, os.urandom(300_000), [], "hash-mismatch"),
    ]
    for i, (what, doc, body, extra, reason) in enumerate(cases):
        (tmp_path / f"imp{i}").mkdir()
        with Impostor(tmp_path / f"imp{i}") as imp:
            imp.answer = json.dumps(doc).encode()
            imp.download = body
            dev = tmp_path / f"dev-{i}"
            up = by_op(run_agent(tmp_path, fleet, imp.url, "U1", ca=imp.ca, dev=dev, extra=extra), "update")
            assert (up["rc"], up["reason"]) == ("update refused", reason), (what, up)
            assert up["installed"] == "1.0.0", (what, up)
            # Refused before the install: the bootloader still boots the old slot.
            assert (dev / "boot").read_text() == "a -\n", what
            assert imp.reports[-1] == {"sha256": sha, "state": "failed", "reason": reason}, (what, imp.reports)
            if body == "endless":
                # Not a byte past the signed size went to the slot, and the agent hung up.
                assert up["fetched"] <= 300_000 and (dev / "slot-b").stat().st_size == 300_000, up
                assert imp.sent < 64 * 1024 * 1024, imp.sent
            elif reason != "hash-mismatch":
                assert up["fetched"] == 0 and not (dev / "slot-b").exists(), (what, up)


def cups(fleet, serial):
    rows = fleet.telemetry(serial)
    return [(r["seq"], r["body"]["m"]["cup_counter"]) for r in rows]


def test_store_and_forward_across_a_daemon_restart(tmp_path):
    """Telemetry with a persistent seq: sent at once while the daemon is up;
    buffered (bounded, the oldest dropped and counted) while it is down;
    replayed in order when it is back; sent again after a cut between the
    server's acknowledgement and the agent's note of it, and still stored
    once (seq)."""
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("T1",))
    # The agent's server key is unused here; any PEM Ed25519 key will do.
    keygen(tmp_path / "k")
    store = tmp_path / "dev" / "T1" / "store"

    def agent(d, *extra):
        port = d.tls_port if d is not None else dead_port
        return by_op(run_agent(tmp_path, fleet, "https://localhost:1", "T1", "mqtt", server=tmp_path / "k" /
                               "release.pub", release=[], extra=["--mqtt", f"localhost:{port}", *extra]), "mqtt")

    dead_port = ccdaemon.free_port()
    d = ccdaemon.Daemon(fleet)
    d.start()
    try:
        got = agent(d, "--publish", 5, "--run-ms", -1)
        assert got["sent"] == 5 and got["queued"] == 0 and got["dropped"] == 0, got
        first = cups(fleet, "T1")
        assert [c for _, c in first] == [1000, 1001, 1002, 1003, 1004], first
        seqs = [s for s, _ in first]
        assert seqs == sorted(set(seqs)) and seqs[-1] - seqs[0] == 4, seqs
    finally:
        d.stop()
    # Offline: 30 messages and an event into a store of 20; the 11 oldest go, counted.
    got = agent(None, "--publish", 30, "--event", "standby", "--queue-max", 20, "--run-ms", 300)
    assert (got["queued"], got["dropped"], got["sent"], got["connected"]) == (20, 11, 0, 0), got
    head = (store / "q.head").read_text()
    d = ccdaemon.Daemon(fleet)
    d.start()
    try:
        got = agent(d, "--queue-max", 20, "--run-ms", -1)
        assert (got["queued"], got["dropped"], got["sent"]) == (0, 11, 20), got
        after = cups(fleet, "T1")
        assert [c for _, c in after] == [1000, 1001, 1002, 1003, 1004] + list(range(1011, 1030)), after
        seqs = [s for s, _ in after]
        assert seqs == sorted(set(seqs)), seqs
        # The event, last in, after the last telemetry: one seq for both kinds, in order.
        events = fleet.events("T1")
        assert [(e["body"]["type"], e["body"]["state"]) for e in events] == [("power", "standby")], events
        assert events[0]["seq"] == seqs[-1] + 1, (events, seqs)
        # A cut after the server's acknowledgements, before the agent noted them: all 20 again.
        (store / "q.head").write_text(head)
        got = agent(d, "--queue-max", 20, "--run-ms", -1)
        assert (got["queued"], got["sent"]) == (0, 20), got
        assert cups(fleet, "T1") == after and len(fleet.events("T1")) == 1
        # The seq survives: the next messages follow the last one; 200 at once through a
        # store of 300, 16 on their way at a time: each stored once, in order.
        # (A larger store: the ring is empty, so it grows at once.)
        got = agent(d, "--queue-max", 300, "--publish", 200, "--run-ms", -1)
        assert (got["queued"], got["sent"]) == (0, 200), got
        more = cups(fleet, "T1")[len(after):]
        assert [c for _, c in more] == list(range(1000, 1200)), more
        assert [s for s, _ in more] == sorted(set(s for s, _ in more)) and more[0][0] > seqs[-1], more[:3]
    finally:
        d.stop()


def test_commands_received_and_results_reported(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("C1",))
    keygen(tmp_path / "k")
    m = fleet.machines["C1"]
    with ccdaemon.Daemon(fleet) as d:
        job = fleet.ccj("job", "create", "--command", "diagnostics", "--body", '{"level":"full"}', "--serial", "C1")
        p = subprocess.Popen([str(AGENT), "mqtt", "--dir", str(tmp_path / "dev"), "--serial", "C1", "--model",
                              "barista-pro", "--factory", "1.0.0", "--url", "https://localhost:1", "--ca", str(m.ca),
                              "--cert", str(m.cert), "--key", str(m.key), "--server-key",
                              str(tmp_path / "k" / "release.pub"), "--mqtt", f"localhost:{d.tls_port}",
                              "--run-ms", "60000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ccdaemon.base_env())
        try:
            line = json.loads(p.stdout.readline())
            assert line["op"] == "start", line
            line = json.loads(p.stdout.readline())
            assert line["command"] == "diagnostics" and line["body_len"] == len('{"level":"full"}'), line

            def done():
                doc = fleet.ccj("job", "show", str(job["id"]))
                t = doc["targets"][0]
                return t if t["state"] == "succeeded" else None
            t = ccdaemon.poll_until(done, "the command's result")
            assert t["result"] == "done by the test agent", t
            # The info the agent sent at connection (retained).
            status = ccdaemon.poll_until(lambda: fleet.status("C1")["info"],
                                         "the machine's info")
            assert status["sw"] == "1.0.0" and status["hw"] == "rev-T", status
        finally:
            p.terminate()
            p.wait(timeout=30)
            p.stdout.close()
            p.stderr.close()


def test_the_minimal_example_sends_telemetry(tmp_path):
    """examples/agent-minimal.c as built: it connects and its telemetry is stored."""
    import shutil
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("E1",))
    keygen(tmp_path / "rk")
    m = fleet.machines["E1"]
    work = tmp_path / "machine"
    (work / "store").mkdir(parents=True)
    for f in (m.ca, m.cert, m.key):
        shutil.copy(f, work / f.name)
    shutil.copy(tmp_path / "rk" / "release.pub", work / "release.pub")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        shutil.copy(signing_key(tmp_path, port, fleet), work / "server.pub")
        p = subprocess.Popen([str(ccdaemon.BUILD_DIR / "agent-minimal"), "E1", "barista-pro", "1.0.0",
                              f"https://localhost:{port}", "localhost", str(d.tls_port), "store"], cwd=work,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ccdaemon.base_env())
        try:
            rows = ccdaemon.poll_until(lambda: fleet.telemetry("E1"), "the example's telemetry")
            assert rows[0]["body"]["m"] == {"boiler_temp_c": 121.5}, rows
            assert ccdaemon.poll_until(lambda: fleet.status("E1")["info"], "its info")["sw"] == "1.0.0"
        finally:
            p.terminate()
            p.wait(timeout=30)
            p.stderr.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One daemon (HTTPS and MQTT listeners) for the tests below: a direct
    offer's progress, enrolment and certificate renewal."""
    tmp = tmp_path_factory.mktemp("agent-world")
    fleet, [(fw, sha)] = make(tmp, ("D1", "D2", "R1", "X1"), sizes=(200_000,))
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        people = checked(Api(port, fleet.data / "ca.crt"))
        signing_key(tmp, port, fleet)
        yield dict(tmp=tmp, fleet=fleet, fw=fw, sha=sha, port=port, url=f"https://localhost:{port}", daemon=d,
                   people=people, admin=people.login("admin", ccdaemon.PASSWORD))
    finally:
        d.stop()


def test_progress_of_an_offer_made_to_one_machine(world):
    """`artifact offer` (no rollout): the machine's every step is accepted,
    kept as its update status (API and CLI) and on its timeline, audited;
    a report on an artifact the machine was not offered is refused."""
    w = world
    fleet, people, admin, sha = w["fleet"], w["people"], w["admin"], w["sha"]
    fleet.cc("artifact", "offer", sha, "--serial", "D1")
    status, doc, _ = people.call("GET", "/api/v1/machines/D1/update", token=admin)
    assert status == 200 and doc["offer"]["state"] == "offered" and doc["offer"]["rollout"] is None, doc
    out = run_agent(w["tmp"], fleet, w["url"], "D1")
    assert by_op(out, "update")["rc"] == "installed: reboot", out
    status, doc, _ = people.call("GET", "/api/v1/machines/D1/update", token=admin)
    assert status == 200 and (doc["offer"]["sha256"], doc["offer"]["state"]) == (sha, "rebooting"), doc
    start = by_op(run_agent(w["tmp"], fleet, w["url"], "D1", "start"), "start")
    assert (start["state"], start["installed"]) == ("succeeded", "1.5.0"), start
    cli = fleet.ccj("artifact", "status", "D1")
    assert cli["offer"]["state"] == "succeeded" and cli["offer"]["percent"] == 100, cli
    assert cli["offer"]["version"] == "1.5.0" and cli["offer"]["rollout"] is None, cli
    status, tl, _ = people.call("GET", "/api/v1/machines/D1/timeline", token=admin)
    assert status == 200, tl
    progress = [i for i in tl["items"] if i["kind"] == "update_progress"]
    assert [i["state"] for i in progress] == ["downloading", "verifying", "installing", "rebooting",
                                               "succeeded"], progress
    assert all(i["rollout"] is None and i["sha256"] == sha for i in progress), progress
    # A finished update stands.
    d1 = Api(w["port"], None, ctx=machine_ctx(fleet, fleet.machines["D1"]))
    status, doc, _ = d1.call("POST", "/api/v1/machine/update/progress", {"sha256": sha, "state": "installing"})
    assert status == 409, doc
    # D2 was offered nothing: refused, and the refusal names nothing of it.
    d2 = Api(w["port"], None, ctx=machine_ctx(fleet, fleet.machines["D2"]))
    status, doc, _ = d2.call("POST", "/api/v1/machine/update/progress", {"sha256": sha, "state": "downloading",
                                                                         "percent": 5})
    assert status == 404 and sha not in json.dumps(doc), doc
    assert people.call("GET", "/api/v1/machines/D2/update", token=admin)[1]["offer"] is None
    # Audited: each change of state and the refusals, by the machine itself.
    records = fleet.ccj("audit", "list", "--action", "update.progress")
    mine = [(r["actor"], r["outcome"]) for r in records]
    assert mine.count(("machine:D1", "ok")) == 5, mine
    assert ("machine:D1", "denied") in mine and ("machine:D2", "denied") in mine, mine


def boot(w, serial, op, *extra, files=True, rc=0):
    """One boot of a machine whose key and certificate may live in its storage only."""
    fleet, tmp = w["fleet"], w["tmp"]
    args = [str(AGENT), op, "--dir", str(tmp / "dev" / serial), "--serial", serial, "--model", "barista-pro",
            "--factory", "1.0.0", "--url", w["url"], "--ca", str(fleet.data / "ca.crt"), "--server-key",
            str(tmp / "server.pub"), "--release-key", str(tmp / "rk" / "release.pub"),
            "--mqtt", f"localhost:{w['daemon'].tls_port}"]
    if files:
        m = fleet.machines[serial]
        args += ["--cert", str(m.cert), "--key", str(m.key)]
    args += [str(x) for x in extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, env=ccdaemon.base_env())
    ccdaemon.assert_no_sanitizer_report(p.stderr, "cc-agent-test")
    assert p.returncode == rc, (p.returncode, p.stdout, p.stderr)
    return [json.loads(x) for x in p.stdout.splitlines()]


def der_sha256(pem_path):
    import ssl as _ssl
    return hashlib.sha256(_ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())).hexdigest()


def test_renewal_moves_the_pair_into_storage(world):
    """A machine delivered with the bundle of `machine add --out` renews
    over MQTT: a new key made on the machine, its certificate stored with
    it, and the next boot connects with the stored pair alone."""
    w = world
    fleet, store = w["fleet"], w["tmp"] / "dev" / "R1" / "store"
    old = der_sha256(fleet.machines["R1"].cert)
    got = by_op(boot(w, "R1", "mqtt", "--renew", "--publish", 1, "--run-ms", -1), "mqtt")
    assert got["rc"] == "ok" and got["cert_generation"] == 1 and got["sent"] == 1, got
    shown = fleet.ccj("machine", "show", "R1")
    assert got["cert_sha256"] == shown["cert_sha256"] != old, (got, shown)
    assert shown["prev_cert_sha256"] == old, shown
    pair = (store / "cred_1").read_text()
    assert "PRIVATE KEY" in pair and "CERTIFICATE" in pair and not (store / "cred_new").exists()
    # The files of the bundle are gone: the stored pair is what connects.
    gone = w["tmp"] / "no-such-file"
    got = by_op(boot(w, "R1", "mqtt", "--cert", gone, "--key", gone, "--publish", 1, "--run-ms", -1,
                     files=False), "mqtt")
    assert (got["sent"], got["cert_generation"], got["cert_sha256"]) == (1, 1, shown["cert_sha256"]), got
    assert [c for _, c in cups(fleet, "R1")] == [1000, 1000], cups(fleet, "R1")


def test_enrolment_then_a_power_cut_in_the_renewal_keeps_the_old_pair(world):
    """Enrolment: the key made on the machine, its request given to the
    factory's `machine add --csr`, the certificate installed; the machine
    connects with what its storage holds. Then a renewal cut by a power
    cut while the new pair is written: the next boot runs on the old one."""
    w = world
    fleet, tmp = w["fleet"], w["tmp"]
    store = tmp / "dev" / "N1" / "store"
    csr = tmp / "N1.csr"
    assert by_op(boot(w, "N1", "enrol", "--csr-out", csr, files=False), "enrol")["rc"] == "ok"
    assert "CERTIFICATE REQUEST" in csr.read_text() and "PRIVATE KEY" in (store / "cred_new").read_text()
    # Asked again before it is finished: a request for the same key.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    again = tmp / "N1-again.csr"
    boot(w, "N1", "enrol", "--csr-out", again, files=False)
    pub = [x509.load_pem_x509_csr(f.read_bytes()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) for f in (csr, again)]
    assert pub[0] == pub[1]
    out = tmp / "N1-bundle"
    fleet.cc("machine", "add", "--serial", "N1", "--model", "barista-pro", "--customer", "cafe-a", "--csr", csr,
             "--out", out)
    assert not (out / "machine.key").exists()
    # Another machine's certificate is not for this key.
    got = by_op(boot(w, "N1", "enrol-finish", "--cert-in", fleet.machines["D1"].cert, files=False), "enrol-finish")
    assert got["rc"] == "invalid argument", got
    got = by_op(boot(w, "N1", "enrol-finish", "--cert-in", out / "machine.crt", files=False), "enrol-finish")
    assert got["rc"] == "ok", got
    enrolled = der_sha256(out / "machine.crt")
    got = by_op(boot(w, "N1", "mqtt", "--publish", 1, "--run-ms", -1, files=False), "mqtt")
    assert (got["sent"], got["cert_generation"], got["cert_sha256"]) == (1, 1, enrolled), got
    # The renewal: the server issues, the machine's power fails while it writes the new pair.
    lines = boot(w, "N1", "mqtt", "--renew", "--run-ms", -1, "--die-in-put", "cred/0", files=False, rc=9)
    assert lines[-1] == {"died_in_put": "cred/0"}, lines
    assert (store / "cred_0").stat().st_size > 0  # half a record
    assert fleet.ccj("machine", "show", "N1")["cert_sha256"] != enrolled
    # A torn record is never taken: the old pair (still accepted in the renewal's overlap) connects.
    got = by_op(boot(w, "N1", "mqtt", "--publish", 1, "--run-ms", -1, files=False), "mqtt")
    assert (got["sent"], got["cert_generation"], got["cert_sha256"]) == (1, 1, enrolled), got
    assert [c for _, c in cups(fleet, "N1")] == [1000, 1000], cups(fleet, "N1")


def test_mqtt_311_firmware(world):
    """A firmware whose stack knows only MQTT 3.1.1: the same store and
    forward, each message stored once, its info retained."""
    w = world
    mark = w["daemon"].mark()
    got = by_op(boot(w, "D2", "mqtt", "--mqtt-311", "--publish", 3, "--run-ms", -1), "mqtt")
    w["daemon"].wait_for(r"D2 connected \(MQTT 3\.1\.1", since=mark)
    assert (got["rc"], got["sent"], got["queued"], got["refused"]) == ("ok", 3, 0, 0), got
    assert [c for _, c in cups(w["fleet"], "D2")] == [1000, 1001, 1002]
    assert ccdaemon.poll_until(lambda: w["fleet"].status("D2")["info"], "its info")["hw"] == "rev-T"


def test_external_loop_and_the_worker(world):
    """Driven as one thread drives many agents (cc_agent_socket and
    cc_agent_loop_*, start and update by the agent's worker, polled): the
    same store and forward, a renewal over the external loop, an offered
    update installed and confirmed, its status "online" retained."""
    w = world
    fleet, people, admin, sha = w["fleet"], w["people"], w["admin"], w["sha"]
    mark = w["daemon"].mark()
    got = by_op(boot(w, "X1", "mqtt", "--external", "--renew", "--publish", 3, "--event", "on", "--run-ms", -1),
                "mqtt")
    w["daemon"].wait_for(r"X1 connected", since=mark)
    assert (got["rc"], got["sent"], got["queued"], got["refused"], got["cert_generation"]) == ("ok", 4, 0, 0, 1), got
    assert [c for _, c in cups(fleet, "X1")] == [1000, 1001, 1002]
    assert fleet.ccj("machine", "show", "X1")["cert_sha256"] == got["cert_sha256"]
    fleet.cc("artifact", "offer", sha, "--serial", "X1")
    out = boot(w, "X1", "update", "--external", files=False)
    up = by_op(out, "update")
    assert up["rc"] == "installed: reboot" and up["fetched"] == w["fw"].stat().st_size, out
    assert out[-1] == {"reboot": True} and (w["tmp"] / "dev" / "X1" / "slot-b").read_bytes() == w["fw"].read_bytes()
    start = by_op(boot(w, "X1", "start", "--external", files=False), "start")
    assert (start["state"], start["installed"]) == ("succeeded", "1.5.0"), start
    status, doc, _ = people.call("GET", "/api/v1/machines/X1/update", token=admin)
    assert status == 200 and (doc["offer"]["sha256"], doc["offer"]["state"]) == (sha, "succeeded"), doc
