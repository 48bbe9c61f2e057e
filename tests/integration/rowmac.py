"""The integrity MACs of access rows, computed independently of the C code
(docs/ARCHITECTURE.md, "Integrity of access rows"), from the master key and
the keyring of a data directory.

Tests that set up a state the product cannot make (a grant to a technician,
an expiry in the past) write the database directly and then seal the rows
they wrote with seal(), as an operator holding the master key could.
Anything written without it is refused by the product."""

import base64
import hashlib
import hmac
import json
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CCROW1"
TABLES = {"orgs": 1, "machines": 2, "users": 3, "grants": 4, "credentials": 5}

# Per table: the SELECT of the MAC'd columns in MAC order, and their types
# (i: be64 integer, t: text, b: blob, both be16-length-prefixed).
COLUMNS = {
    "orgs": ("IFNULL(parent_id, 0), kind, name", "iit"),
    # A renewed machine's previous certificate joins the MAC only when there is one.
    "machines": ("CASE WHEN origin_serial <> '' THEN origin_serial ELSE serial END, customer_id, "
                 "IFNULL(site_id, 0), cert_fingerprint, revoked_ms, prev_cert_fingerprint, prev_cert_until_ms",
                 "tiitiTI"),
    "users": ("org_id, login, role, password_hash, totp_enabled, totp", "itttib"),
    "grants": ("user_id, IFNULL(machine_id, 0), IFNULL(site_id, 0), customer_id, purpose, created_by, "
               "expires_ms, revoked_ms", "iiiittii"),
    "credentials": ("token_hash, kind, IFNULL(user_id, 0), org_id, role, name, csrf_hash, flags, expires_ms, "
                    "revoked_ms, rate_per_min", "biiittbiiii"),
}


# Columns added later: in the MAC only when one of them is set (so rows sealed
# before they existed still verify).
LATER = {
    "orgs": ("deactivated_ms", "i"),
    "machines": ("decommissioned_ms, origin_serial <> ''", "ii"),
    "users": ("deactivated_ms", "i"),
}


def keyring_secret(data, name):
    data = Path(data)
    key = Path(str(data).rstrip("/") + ".master.key")
    if not key.exists():
        key = Path(data) / "master.key"  # a directory made before keys moved out
    master = bytes.fromhex(key.read_text().strip())
    blob = base64.b64decode(json.loads((data / "keyring").read_text())["entries"][name])
    assert blob[0] == 1
    return AESGCM(master).decrypt(blob[1:13], blob[13:], b"cc-keyring-v1|" + name.encode())


def row_key(data):
    secret = keyring_secret(data, "row-key")
    return hmac.new(secret, b"coffeecloud-row-mac-v1", hashlib.sha256).digest()


def _field(kind, value):
    if kind == "i":
        return struct.pack(">q", int(value or 0))
    raw = value.encode() if isinstance(value, str) else bytes(value or b"")
    if kind == "b" and value is None:
        raw = b""
    return struct.pack(">H", len(raw)) + raw


def mac(key, table, row_id, values, later=()):
    _, kinds = COLUMNS[table]
    if any(later):
        kinds += LATER[table][1]
        values = tuple(values) + tuple(later)
    msg = MAGIC + bytes([TABLES[table]]) + struct.pack(">q", row_id)
    for kind, value in zip(kinds, values):
        if kind.isupper():  # optional columns: present only when the first of them is set
            if not values[kinds.index("T")]:
                continue
            kind = kind.lower()
        if table == "credentials" and kind == "b":
            value = (value or b"").ljust(32, b"\0")  # a NULL hash reads as 32 zero bytes
        msg += _field(kind, value)
    return hmac.new(key, msg, hashlib.sha256).digest()


def expected(db, key, table, row_id):
    cols, _ = COLUMNS[table]
    values = db.execute(f"SELECT {cols} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    later = ()
    if table in LATER:
        later = db.execute(f"SELECT {LATER[table][0]} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return mac(key, table, row_id, values, later)


def seal(data, db, table, ids):
    """Writes the right MAC of each row (table, id) through the open sqlite3 connection db."""
    key = row_key(data)
    for row_id in ids:
        db.execute(f"UPDATE {table} SET mac = ? WHERE id = ?", (expected(db, key, table, row_id), row_id))
