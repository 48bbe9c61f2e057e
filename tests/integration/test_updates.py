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
