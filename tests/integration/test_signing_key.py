"""The installation's signing key is published for people outside it.

An inspector checking a signed report has no account: the public key is
open, it is the same key across restarts, and openssl alone reads it.
"""
import hashlib
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402


def published_key(fleet):
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(fleet, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        status, doc, _ = checked(Api(port, fleet.data / "ca.crt")).call("GET", "/api/v1/signing-key")
    finally:
        d.stop()
    assert status == 200, doc
    return doc


def test_the_public_key_is_open_stable_and_readable_by_openssl(tmp_path):
    fleet = ccdaemon.Fleet.create(tmp_path / "f", machines=("S1",), customer="cafe-s")
    first = published_key(fleet)
    assert first["algorithm"] == "Ed25519"
    pem = tmp_path / "signing.pem"
    pem.write_text(first["public_key_pem"])
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pem), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    # An Ed25519 SubjectPublicKeyInfo is a 12-byte header and the 32-byte key.
    assert len(der) == 44 and der[:12].hex() == "302a300506032b6570032100"
    assert first["key_id"] == hashlib.sha256(der[12:]).hexdigest()

    again = published_key(fleet)
    assert again == first
