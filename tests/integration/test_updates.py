"""Software updates, the server's side (docs/UPDATES.md): release keys made
and used offline (no data directory), the keys the server trusts, artifacts
verified on the way in (a refused one leaves nothing behind), offers, and
the download over HTTPS with the machine's own certificate (mutual TLS),
resumable with Range requests."""
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccdaemon import run_cli  # noqa: E402

MODEL = "barista-pro"


def keygen(d):
    return json.loads(run_cli("release", "keygen", "--out", d, "--json").stdout)


def sign(key, f, *, version="1.5.0", min_from="1.0.0", expires="2099-01-01", model=MODEL, out=None, rc=0):
    args = ["release", "sign", "--key", key, "--file", f, "--model", model, "--version", version,
            "--min-from", min_from, "--expires", expires, "--notes", "Faster descaling.\nFixes E42."]
    if out is not None:
        args += ["--out", out]
    return run_cli(*args, rc=rc)


def artifact(tmp, name, size):
    p = Path(tmp) / name
    p.write_bytes(os.urandom(size))
    return p


def stored(fleet):
    d = fleet.data / "artifacts"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_release_key_offline_and_signed_metadata(tmp_path):
    k = keygen(tmp_path / "rk")
    key, pub = tmp_path / "rk" / "release.key", tmp_path / "rk" / "release.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    # Never overwritten.
    run_cli("release", "keygen", "--out", tmp_path / "rk", rc=4)
    f = artifact(tmp_path, "fw.bin", 5000)
    sign(key, f)
    doc = (tmp_path / "fw.bin.meta.json").read_text()
    signed = json.loads(doc)["signed"]
    assert signed["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert signed["size"] == 5000 and signed["models"] == [MODEL] and signed["key_id"] == k["key_id"]
    assert signed["version"] == "1.5.0" and signed["min_from_version"] == "1.0.0"
    assert signed["expires"] == "2099-01-01T00:00:00Z"
    # Canonical: keys sorted, no whitespace; the signature is over exactly these bytes.
    inner = doc[doc.index('"signed":') + len('"signed":'):-1]
    assert inner == json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    import base64
    load_pem_public_key(pub.read_bytes()).verify(base64.b64decode(json.loads(doc)["signature"]),
                                                 inner.encode())
    # A downgrade of min-from above the version, a bad version: refused, nothing written.
    sign(key, f, version="1.0.0", min_from="1.5.0", out=tmp_path / "x.json", rc=2)
    sign(key, f, version="1.5", out=tmp_path / "x.json", rc=2)
    assert not (tmp_path / "x.json").exists()
    # A key readable by others is refused.
    key.chmod(0o644)
    sign(key, f, out=tmp_path / "y.json", rc=5)


def test_artifact_upload_verified(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=())
    keygen(tmp_path / "rk")
    keygen(tmp_path / "other")
    key, pub = tmp_path / "rk" / "release.key", tmp_path / "rk" / "release.pub"
    f = artifact(tmp_path, "fw.bin", 300000)
    sign(key, f)
    meta = tmp_path / "fw.bin.meta.json"

    # Arbitrary software: a key the server does not trust.
    p = fleet.cc("artifact", "add", f, "--meta", meta, rc=6)
    assert "unknown-key" in p.stderr
    assert stored(fleet) == []

    k = fleet.ccj("release-key", "add", "--file", pub, "--label", "release 2026")
    fleet.cc("release-key", "add", "--file", pub, rc=4)
    keys = fleet.ccj("release-key", "list")["release_keys"]
    assert [x["key_id"] for x in keys] == [k["key_id"]] and keys[0]["revoked_ms"] == 0

    # The metadata edited after signing.
    doc = json.loads(meta.read_text())
    forged = meta.read_text().replace('"size":300000', '"size":300001')
    (tmp_path / "forged.json").write_text(forged)
    p = fleet.cc("artifact", "add", f, "--meta", tmp_path / "forged.json", rc=6)
    assert "bad-signature" in p.stderr
    # Not the signed bytes: another file, one byte more (endless data), one byte less.
    g = artifact(tmp_path, "other.bin", 300000)
    p = fleet.cc("artifact", "add", g, "--meta", meta, rc=2)
    assert "SHA-256" in p.stderr
    (tmp_path / "long.bin").write_bytes(f.read_bytes() + b"x")
    p = fleet.cc("artifact", "add", tmp_path / "long.bin", "--meta", meta, rc=2)
    assert "more bytes than the signed size" in p.stderr
    (tmp_path / "short.bin").write_bytes(f.read_bytes()[:-1])
    fleet.cc("artifact", "add", tmp_path / "short.bin", "--meta", meta, rc=2)
    # Expired metadata (a freeze) is not taken in.
    sign(key, f, expires="2020-01-01", out=tmp_path / "old.json")
    p = fleet.cc("artifact", "add", f, "--meta", tmp_path / "old.json", rc=2)
    assert "expired" in p.stderr
    assert stored(fleet) == []

    a = fleet.ccj("artifact", "add", f, "--meta", meta)
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    assert a == {"sha256": sha, "version": "1.5.0", "size": 300000}
    assert stored(fleet) == [sha]
    assert (fleet.data / "artifacts" / sha).read_bytes() == f.read_bytes()
    fleet.cc("artifact", "add", f, "--meta", meta, rc=4)
    listed = fleet.ccj("artifact", "list")["artifacts"]
    assert [x["sha256"] for x in listed] == [sha] and listed[0]["models"] == [MODEL]
    shown = fleet.ccj("artifact", "show", sha)
    assert shown["notes"] == "Faster descaling.\nFixes E42." and shown["min_from_version"] == "1.0.0"
    assert shown["metadata"] == meta.read_text()

    # Revoked: what it signed is no longer accepted.
    g2 = artifact(tmp_path, "fw2.bin", 1000)
    sign(key, g2, version="1.6.0")
    fleet.cc("release-key", "revoke", "--id", k["key_id"])
    fleet.cc("release-key", "revoke", "--id", k["key_id"], rc=1)
    p = fleet.cc("artifact", "add", g2, "--meta", tmp_path / "fw2.bin.meta.json", rc=6)
    assert "revoked-key" in p.stderr
    assert stored(fleet) == [sha]
    # Rotation: a new key signs from now on.
    fleet.cc("release-key", "add", "--file", tmp_path / "other" / "release.pub", "--label", "release 2027")
    sign(tmp_path / "other" / "release.key", g2, version="1.6.0")
    fleet.cc("artifact", "add", g2, "--meta", tmp_path / "fw2.bin.meta.json")
    # Each change is in the audit log.
    actions = {(r["action"], r["outcome"], r["purpose"]) for r in fleet.ccj("audit", "list")}
    for what in ("release-key.add", "release-key.revoke", "artifact.add"):
        assert (what, "ok", "updates") in actions, what
    assert ("artifact.add", "error", "updates") in actions


def machine_ctx(fleet, m=None, cert=None, key=None):
    """TLS as a machine: the fleet CA as trust anchor, its own certificate (or none)."""
    import ssl
    ctx = ssl.create_default_context(cafile=str(fleet.data / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if m is not None:
        ctx.load_cert_chain(str(m.cert), str(m.key))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def fetch(port, ctx, path, headers=None):
    """GET path: (status, headers, body bytes)."""
    import http.client
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def foreign_certificate(tmp, cn):
    """A certificate for cn that the fleet CA never issued (self-signed, EC P-256)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    c, k = Path(tmp) / "foreign.crt", Path(tmp) / "foreign.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


def post_raw(people, token, path, data):
    return people.call("POST", path, token=token, raw=data, headers={"Content-Type": "application/octet-stream"})


def upload(people, admin, f, fleet, tmp):
    """The API's upload: the metadata first, then slices of at most 1 MiB at the offset received."""
    meta = Path(str(f) + ".meta.json").read_text()
    data = f.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    # Metadata a stranger's key signed: refused before any byte of the file.
    keygen(tmp / "stranger")
    sign(tmp / "stranger" / "release.key", f, out=tmp / "stranger.json")
    status, doc, _ = people.call("POST", "/api/v1/artifacts", {"metadata": (tmp / "stranger.json").read_text()},
                                 token=admin)
    assert status == 403 and "unknown-key" in doc["error"]["message"], doc
    # Endless data: one byte past the signed size ends the upload, nothing is kept.
    status, doc, _ = people.call("POST", "/api/v1/artifacts", {"metadata": meta}, token=admin)
    assert status == 201 and doc["upload"] == f"/api/v1/artifacts/{sha}/content" and doc["received"] == 0, doc
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset=0", data + b"x")
    assert status == 400 and "more bytes" in doc["error"]["message"], doc
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset=0", data)
    assert status == 404, doc
    # Wrong bytes of the right size: refused when complete.
    status, doc, _ = people.call("POST", "/api/v1/artifacts", {"metadata": meta}, token=admin)
    assert status == 201
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset=0", b"y" * len(data))
    assert status == 400 and "SHA-256" in doc["error"]["message"], doc
    assert sha not in stored(fleet) and not any(p.startswith(".") for p in stored(fleet))
    # The real thing, in two slices; a slice at the wrong offset says where to resume.
    status, doc, _ = people.call("POST", "/api/v1/artifacts", {"metadata": meta}, token=admin)
    assert status == 201
    half = len(data) // 2
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset=0", data[:half])
    assert status == 200 and doc == {"sha256": sha, "received": half, "complete": False}, doc
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset=0", data[half:])
    assert status == 409 and doc["received"] == half, doc
    status, doc, _ = post_raw(people, admin, f"/api/v1/artifacts/{sha}/content?offset={half}", data[half:])
    assert status == 200 and doc == {"sha256": sha, "received": len(data), "complete": True}, doc
    assert (fleet.data / "artifacts" / sha).read_bytes() == data
    assert not any(p.startswith(".") for p in stored(fleet))
    status, doc, _ = people.call("POST", "/api/v1/artifacts", {"metadata": meta}, token=admin)
    assert status == 409, doc


def test_machines_download_what_they_are_offered_with_their_certificate(tmp_path):
    import base64
    import time
    from ccapi import Api
    from oas import checked
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("U1", "U2", "U3"))
    keygen(tmp_path / "rk")
    key = tmp_path / "rk" / "release.key"
    big = artifact(tmp_path, "fw.bin", 5 * 1024 * 1024 + 12345)
    other = artifact(tmp_path, "fw-b.bin", 300000)
    sign(key, big)
    sign(key, other, version="1.6.0")
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    sha_b = hashlib.sha256(other.read_bytes()).hexdigest()
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"}):
        people = checked(Api(port, fleet.data / "ca.crt"))
        admin = people.login("admin", ccdaemon.PASSWORD)
        # The API twins: trust the key, upload stays the CLI's (the file is on the host), offer.
        pem = (tmp_path / "rk" / "release.pub").read_text()
        status, doc, _ = people.call("POST", "/api/v1/release-keys", {"public_key": pem, "label": "r1"}, token=admin)
        assert status == 201, doc
        fleet.cc("artifact", "add", big, "--meta", str(big) + ".meta.json")
        upload(people, admin, other, fleet, tmp_path)
        status, doc, _ = people.call("GET", "/api/v1/artifacts", token=admin)
        assert status == 200 and {a["sha256"] for a in doc["artifacts"]} == {sha, sha_b}, doc
        status, doc, _ = people.call("GET", f"/api/v1/artifacts/{sha}", token=admin)
        assert status == 200 and doc["size"] == big.stat().st_size and doc["metadata"].startswith('{"signature":')
        for serial in ("U1", "U3"):
            status, doc, _ = people.call("POST", f"/api/v1/artifacts/{sha}/offers", {"serial": serial}, token=admin)
            assert status == 201, doc
        # Not for this model: refused with the reason.
        fleet.add_machine("G1", model="grinder-1")
        status, doc, _ = people.call("POST", f"/api/v1/artifacts/{sha}/offers", {"serial": "G1"}, token=admin)
        assert status == 400 and "model" in doc["error"]["message"], doc
        status, doc, _ = people.call("GET", "/api/v1/release-keys", token=admin)
        assert status == 200 and doc["release_keys"][0]["label"] == "r1"
        status, signing, _ = people.call("GET", "/api/v1/signing-key")
        assert status == 200
        fleet.revoke("U3")

        u1 = Api(port, None, ctx=machine_ctx(fleet, fleet.machines["U1"]))
        status, offer, _ = u1.call("GET", "/api/v1/machine/update")
        assert status == 200, offer
        assert offer["serial"] == "U1" and offer["artifact"] == f"/api/v1/machine/artifacts/{sha}"
        assert offer["metadata"] == (Path(str(big) + ".meta.json")).read_text()
        # The offer: signed by the installation's key, for this machine and artifact, for 24 h.
        env = offer["offer"]
        inner = env[env.index('"signed":') + len('"signed":'):-1]
        load_pem_public_key(signing["public_key_pem"].encode()).verify(
            base64.b64decode(json.loads(env)["signature"]), inner.encode())
        signed = json.loads(inner)
        assert signed["_type"] == "offer" and signed["serial"] == "U1" and signed["sha256"] == sha
        assert signed["version"] == "1.5.0" and signed["key_id"] == signing["key_id"]
        expires = time.mktime(time.strptime(signed["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert abs(expires - (time.time() + 86400)) < 120

        # The download, resumed: two ranges, and the bytes are the signed ones.
        ctx = machine_ctx(fleet, fleet.machines["U1"])
        n = big.stat().st_size
        half = n // 2
        s1, h1, b1 = fetch(port, ctx, offer["artifact"], {"Range": f"bytes=0-{half - 1}"})
        assert s1 == 206 and h1["content-range"] == f"bytes 0-{half - 1}/{n}" and len(b1) == half
        s2, h2, b2 = fetch(port, ctx, offer["artifact"], {"Range": f"bytes={half}-"})
        assert s2 == 206 and h2["content-range"] == f"bytes {half}-{n - 1}/{n}" and len(b2) == n - half
        assert hashlib.sha256(b1 + b2).hexdigest() == sha
        s, h, whole = fetch(port, ctx, offer["artifact"])
        assert s == 200 and int(h["content-length"]) == n and hashlib.sha256(whole).hexdigest() == sha
        s, h, _ = fetch(port, ctx, offer["artifact"], {"Range": f"bytes={n}-"})
        assert s == 416 and h["content-range"] == f"bytes */{n}"
        # With curl as well (a suffix range: the last 1000 bytes).
        import subprocess
        p = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(fleet.data / "ca.crt"),
                            "--cert", str(fleet.machines["U1"].cert), "--key", str(fleet.machines["U1"].key),
                            "-r", "-1000", f"https://localhost:{port}{offer['artifact']}"],
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and p.stdout == big.read_bytes()[-1000:], p.stderr

        # Refused: no certificate, a certificate the fleet CA never issued, a revoked machine's,
        # an artifact stored but not offered, a machine offered nothing.
        none = machine_ctx(fleet)
        assert fetch(port, none, offer["artifact"])[0] == 401
        assert fetch(port, none, "/api/v1/machine/update")[0] == 401
        fc, fk = foreign_certificate(tmp_path, "U1")
        assert fetch(port, machine_ctx(fleet, cert=fc, key=fk), offer["artifact"])[0] == 401
        u3 = machine_ctx(fleet, fleet.machines["U3"])
        assert fetch(port, u3, offer["artifact"])[0] == 403
        assert fetch(port, u3, "/api/v1/machine/update")[0] == 403
        assert fetch(port, ctx, f"/api/v1/machine/artifacts/{sha_b}")[0] == 404
        u2 = machine_ctx(fleet, fleet.machines["U2"])
        assert fetch(port, u2, offer["artifact"])[0] == 404
        assert fetch(port, u2, "/api/v1/machine/update")[0] == 404
        # A bearer token is no machine certificate.
        assert fetch(port, none, offer["artifact"], {"Authorization": "Bearer " + admin})[0] == 401

        # Revoking the release key withdraws what it signed.
        kid = json.loads(Path(str(big) + ".meta.json").read_text())["signed"]["key_id"]
        status, doc, _ = people.call("POST", f"/api/v1/release-keys/{kid}/revoke", token=admin)
        assert status == 200 and doc == {"key_id": kid, "revoked": True}
        assert fetch(port, ctx, "/api/v1/machine/update")[0] == 404
        actions = {(r["action"], r["outcome"]) for r in fleet.ccj("audit", "list")}
        for what in ("release-key.add", "artifact.offer", "release-key.revoke", "artifact.upload", "artifact.add"):
            assert (what, "ok") in actions, what


def test_downloads_beyond_the_bound_wait_in_line(tmp_path):
    """downloads_max at once: the next waits for a place (no answer yet) and
    is sent, whole, when one frees; the line is bounded too (503, Retry-After)."""
    import socket
    import ssl

    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("Q1", "Q2", "Q3", "Q4", "Q5"))
    keygen(tmp_path / "rk")
    big = artifact(tmp_path, "fw.bin", 24 * 1024 * 1024)
    sign(tmp_path / "rk" / "release.key", big)
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    fleet.cc("release-key", "add", "--file", str(tmp_path / "rk" / "release.pub"), "--label", "r1")
    fleet.cc("artifact", "add", big, "--meta", str(big) + ".meta.json")
    for serial in fleet.machines:
        fleet.cc("artifact", "offer", sha, "--serial", serial)
    port = ccdaemon.free_port()
    path = f"/api/v1/machine/artifacts/{sha}"
    with ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}", "downloads_max": "1"}) as d:
        def stalled(serial, rcvbuf=None):
            """A download asked for and not read: it holds its place. A small
            receive buffer for the one that must stall; not for those read
            later, whose tiny TCP window would make them crawl."""
            s = socket.create_connection(("127.0.0.1", port))
            if rcvbuf is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            t = machine_ctx(fleet, fleet.machines[serial]).wrap_socket(s, server_hostname="localhost")
            t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            return t

        mark = d.mark()
        first = stalled("Q1", rcvbuf=4096)
        d.wait_for(r"Q1 downloads", since=mark)
        # The second waits: its request is in, no answer comes while the first holds the place.
        second = stalled("Q2")
        d.wait_for(r"Q2 waits in line for its download \(1 being sent, 1 waiting\)", since=mark)
        # One at a time: requests sent together may be read in any order.
        waiting = []
        for serial, line in (("Q3", 2), ("Q4", 3), ("Q5", 4)):
            waiting.append(stalled(serial))
            d.wait_for(rf"{serial} waits in line for its download \(1 being sent, {line} waiting\)", since=mark)
        # Beyond four times the bound, 503 at once.
        status, headers, _ = fetch(port, machine_ctx(fleet, fleet.machines["Q1"]), path)
        assert status == 503 and headers["retry-after"] == "30"
        # The first leaves: the second is sent, whole and right.
        first.close()
        second.settimeout(60)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = second.recv(65536)
            assert chunk, data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        size = big.stat().st_size
        while len(body) < size:
            chunk = second.recv(1 << 20)
            assert chunk, len(body)
            body += chunk
        assert hashlib.sha256(body).hexdigest() == sha
        second.close()
        for w in waiting:
            w.close()


def test_downloads_from_the_sender_thread(tmp_path):
    """The body past the first 64 KiB goes out from the sender thread
    (src/http/sender.h): whole and ranged downloads arrive intact, a client
    that asks for Connection: close gets its bytes and the daemon lives on
    (it once freed that request twice), and a client that leaves mid-way
    frees its place for the next in line, and so does one that stops
    reading, after https_timeout_s without progress (5 s here); the daemon
    stops cleanly while the thread holds one."""
    import socket

    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("S1", "S2"))
    keygen(tmp_path / "rk")
    big = artifact(tmp_path, "fw.bin", 6 * 1024 * 1024 + 7)
    sign(tmp_path / "rk" / "release.key", big)
    data = big.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    fleet.cc("release-key", "add", "--file", str(tmp_path / "rk" / "release.pub"), "--label", "r1")
    fleet.cc("artifact", "add", big, "--meta", str(big) + ".meta.json")
    for serial in fleet.machines:
        fleet.cc("artifact", "offer", sha, "--serial", serial)
    port = ccdaemon.free_port()
    path = f"/api/v1/machine/artifacts/{sha}"

    def ask(serial, extra=""):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        t = machine_ctx(fleet, fleet.machines[serial]).wrap_socket(s, server_hostname="localhost")
        t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
        return t

    def until_closed(t):
        out = b""
        while True:
            chunk = t.recv(1 << 20)
            if not chunk:
                return out
            out += chunk

    settings = {"https_listen": f"127.0.0.1:{port}", "downloads_max": "1", "https_timeout_s": "5"}
    with ccdaemon.Daemon(fleet, settings=settings) as d:
        # Connection: close, whole and from an offset: every byte, then the connection ends.
        for extra, status, want in (("", b"200", data), (f"Range: bytes=100000-\r\n", b"206", data[100000:])):
            head, body = until_closed(ask("S1", extra + "Connection: close\r\n")).split(b"\r\n\r\n", 1)
            assert head.split(b" ")[1] == status, head
            assert body == want
        assert d.alive()
        ctx = machine_ctx(fleet, fleet.machines["S2"])
        s, h, whole = fetch(port, ctx, path)
        assert s == 200 and hashlib.sha256(whole).hexdigest() == sha

        # S1 takes the only place, reads a megabyte (the sender thread has it) and leaves;
        # S2, in line meanwhile, gets the place and every byte.
        mark = d.mark()
        first = ask("S1")
        got = b""
        while len(got) < 1024 * 1024:
            chunk = first.recv(65536)
            assert chunk
            got += chunk
        second = ask("S2")
        d.wait_for(r"S2 waits in line for its download \(1 being sent, 1 waiting\)", since=mark)
        first.close()
        d.wait_for(r"the download of S1 stopped: the client left", since=mark)
        head, body = until_closed_or_length(second, len(data))
        assert head.startswith(b"HTTP/1.1 200"), head
        assert hashlib.sha256(body).hexdigest() == sha
        second.close()

        # S1 reads a megabyte and then nothing, its connection open: once the socket's buffers
        # are full, it is dropped after 5 s without progress, and S2, in line, gets the place.
        mark = d.mark()
        first = ask("S1")
        got = b""
        while len(got) < 1024 * 1024:
            chunk = first.recv(65536)
            assert chunk
            got += chunk
        second = ask("S2")
        d.wait_for(r"S2 waits in line for its download \(1 being sent, 1 waiting\)", since=mark)
        d.wait_for(r"a download took nothing for 5 s: dropped", since=mark)
        head, body = until_closed_or_length(second, len(data))
        assert head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).hexdigest() == sha
        second.close()
        first.close()
        assert d.alive()

        # The daemon stops while the sender thread holds a download: it takes the connection
        # back and exits cleanly (Daemon.stop checks the exit code).
        last = ask("S1")
        got = b""
        while len(got) < 1024 * 1024:
            chunk = last.recv(65536)
            assert chunk
            got += chunk
    last.close()


def until_closed_or_length(t, n):
    """The head and n bytes of body from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = t.recv(65536)
        assert chunk, data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    while len(body) < n:
        chunk = t.recv(1 << 20)
        assert chunk, len(body)
        body += chunk
    return head, body
