"""The audit log through the real `coffeecloud` binary.

Commands leave records (actor, action, machines, class, purpose, outcome);
`audit list` shows them; `audit verify` exits 0 on an untouched log and 7,
naming the first bad seq and the kind of damage, after the database was
changed behind the product's back with python's sqlite3. The chain and the
keyed checkpoint are recomputed here from the rule documented in
src/access/audit.h, independently of the product's code.
"""
import base64
import hashlib
import hmac
import json
import os
import pwd
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CC_BUILD_DIR") or REPO / "build")
BIN = BUILD_DIR / "coffeecloud"

OK, FAILURE, USAGE, NOTFOUND, EXISTS, PERM, WRONGKEY, CORRUPT = range(8)
PASSWORD = "Correct-Horse-Battery-9"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")
ME = "cli:" + pwd.getpwuid(os.getuid()).pw_name


def env():
    e = {k: v for k, v in os.environ.items() if k != "CC_MASTER_KEY_FILE"}
    e["LC_ALL"] = "C"
    return e


def cc(*args, rc=OK, stdin=""):
    assert BIN.is_file(), f"{BIN} not built (set CC_BUILD_DIR)"
    argv = [str(BIN)] + [str(a) for a in args]
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, errors="replace",
                       env=env(), timeout=120)
    said = f"\n$ {' '.join(argv)}\nexit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    for marker in SANITIZER_MARKERS:
        assert marker not in p.stderr, "sanitizer report" + said
    if rc is not None:
        assert p.returncode == rc, f"expected exit {rc}" + said
    return p


def ccj(*args, rc=OK):
    p = cc(*args, "--json", rc=rc)
    return json.loads(p.stdout)


def records(data, *filters):
    return ccj("audit", "list", "--data", data, *filters)


def db(data):
    return sqlite3.connect(str(Path(data) / "coffeecloud.db"))


def rows(data):
    with db(data) as c:
        return c.execute("SELECT seq, ts_ms, customer_id, actor, source, action, machines, "
                         "data_class, purpose, outcome, hash FROM audit ORDER BY seq").fetchall()


def meta(data, key):
    with db(data) as c:
        row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


# ---- the documented rule (src/access/audit.h), written out again here

def genesis(data):
    return hashlib.sha256(b"coffeecloud-audit-genesis" + (meta(data, "installation-id") or "").encode()).digest()


def record_bytes(row):
    seq, ts, cust, *texts = row[:10]
    out = b"CCAUDIT1" + struct.pack(">qqq", seq, ts, cust)
    for t in texts:
        b = t.encode()
        out += struct.pack(">H", len(b)) + b
    return out


def chain(data):
    """(count, head hash) recomputed; asserts every stored hash."""
    prev = genesis(data)
    n = 0
    for row in rows(data):
        h = hashlib.sha256(prev + record_bytes(row)).digest()
        assert h == row[10], f"seq {row[0]}: stored hash is not the documented rule"
        prev, n = h, n + 1
    return n, prev


def audit_key(data):
    """The keyring's "audit-key", opened with python3-cryptography."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ring = json.loads((Path(data) / "keyring").read_text())
    blob = base64.b64decode(ring["entries"]["audit-key"])
    master = bytes.fromhex(ccdaemon.master_key_of(data).read_text().strip())
    key = AESGCM(master).decrypt(blob[1:13], blob[13:], b"cc-keyring-v1|audit-key")
    assert len(key) == 32
    return key


def checkpoint(key, seq, h):
    k = hmac.new(key, b"coffeecloud-audit-checkpoint-v1", hashlib.sha256).digest()
    mac = hmac.new(k, b"CCAUDITHEAD1" + struct.pack(">q", seq) + h, hashlib.sha256).hexdigest()
    return f"{seq}:{h.hex()}:{mac}"


# ---- fixtures

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    data = root / "data"
    cc("init", "--data", data, "--password-stdin", "--manufacturer", "acme", stdin=PASSWORD + "\n")
    D = ("--data", data)
    cc("org", "add", "--name", "dist-eu", "--kind", "distributor", "--parent", "acme", *D)
    cc("org", "add", "--name", "cafe-a", "--kind", "customer", "--parent", "dist-eu", *D)
    cc("machine", "add", "--serial", "SN-A1", "--model", "CM-600", "--customer", "cafe-a",
       "--out", root / "b1", *D)
    cc("machine", "add", "--serial", "SN-X9", "--model", "CM-600", "--customer", "nobody",
       "--out", root / "b2", *D, rc=NOTFOUND)
    cc("telemetry", "get", "SN-A1", *D)
    cc("events", "get", "SN-A1", *D)
    cc("machine", "status", *D)
    cc("machine", "revoke", "SN-A1", *D)
    return data


@pytest.fixture
def work(base, tmp_path):
    dest = tmp_path / "data"
    shutil.copytree(base, dest, symlinks=True)
    shutil.copy2(ccdaemon.master_key_of(base), ccdaemon.master_key_of(dest))
    return dest


# ---- what the log says

def test_commands_are_recorded(base):
    doc = records(base)
    got = [(r["action"], r["outcome"]) for r in doc]
    assert got[:8] == [("org.add", "ok"), ("org.add", "ok"), ("machine.add", "ok"),
                       ("machine.add", "error"), ("telemetry.get", "ok"), ("events.get", "ok"),
                       ("machine.status", "ok"), ("machine.revoke", "ok")], got
    assert [r["seq"] for r in doc] == list(range(1, len(doc) + 1))
    assert all(r["actor"] == ME for r in doc), {r["actor"] for r in doc}
    by = {(r["action"], r["outcome"]): r for r in doc}
    add = by[("machine.add", "ok")]
    assert (add["data_class"], add["purpose"], add["machines"], add["customer"]) == \
        ("admin", "administration", ["SN-A1"], "cafe-a")
    # The failed command: unknown customer, recorded as an error, no customer named.
    failed = by[("machine.add", "error")]
    assert failed["machines"] == ["SN-X9"] and failed["customer"] is None
    read = by[("telemetry.get", "ok")]
    assert (read["data_class"], read["purpose"], read["machines"], read["customer"]) == \
        ("technical", "support", ["SN-A1"], "cafe-a")
    status = by[("machine.status", "ok")]
    assert (status["data_class"], status["machines"]) == ("status", ["*"])
    assert doc[0]["customer"] is None  # dist-eu: a distributor is not a customer
    assert doc[1]["customer"] == "cafe-a"
    for r in doc:
        assert re.fullmatch(r"[0-9a-f]{64}", r["hash"]) and r["source"] == ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"])


def test_audit_commands_audit_themselves(work):
    n = len(rows(work))
    cc("audit", "verify", "--data", work)
    doc = records(work, "--action", "audit.v")
    assert [(r["action"], r["data_class"], r["outcome"]) for r in doc] == [("audit.verify", "audit", "ok")]
    assert len(rows(work)) == n + 2  # verify, then the list that showed it


def test_inventory_reads_and_failed_opens_leave_no_record(work, tmp_path):
    before = rows(work)
    for noun in ("org", "site", "group", "machine", "user"):
        cc(noun, "list", "--data", work)
    other = tmp_path / "other.key"
    cc("key", "generate", "--out", other)
    cc("org", "add", "--name", "x", "--kind", "customer", "--parent", "acme", "--data", work,
       "--master-key-file", other, rc=WRONGKEY)
    assert rows(work) == before


def test_list_filters(base):
    doc = records(base, "--action", "machine.")
    assert {r["action"] for r in doc} == {"machine.add", "machine.status", "machine.revoke"}
    assert {r["action"] for r in records(base, "--serial", "SN-A1")} - {"audit.list"} == \
        {"machine.add", "telemetry.get", "events.get", "machine.revoke"}
    assert [r["action"] for r in records(base, "--customer", "cafe-a", "--action", "telemetry")] == \
        ["telemetry.get"]
    assert [r["seq"] for r in records(base, "--limit", "3")] == [1, 2, 3]
    newest = records(base, "--limit", "2", "--newest")
    assert newest[0]["seq"] > newest[1]["seq"]
    first = records(base, "--limit", "1")[0]
    assert records(base, "--to", str(first["ts_ms"])) == []
    assert records(base, "--from", "2000-01-01", "--limit", "1")[0]["seq"] == 1
    assert records(base, "--from", "2999-01-01") == []
    cc("audit", "list", "--limit", "0", "--data", base, rc=USAGE)
    cc("audit", "list", "--serial", "bad serial", "--data", base, rc=USAGE)
    cc("audit", "list", "--customer", "nobody", "--data", base, rc=NOTFOUND)
    text = cc("audit", "list", "--data", base, "--action", "telemetry").stdout
    assert "telemetry.get" in text and ME in text and "SN-A1" in text


# ---- verify

def test_verify_untouched(work):
    n, head = chain(work)  # the documented rule reproduces every stored hash
    p = cc("audit", "verify", "--data", work)
    assert p.stdout.strip() == f"audit log intact: {n} records, head hash {head.hex()}"
    assert meta(work, "audit-head") == checkpoint(audit_key(work), n + 1, chain(work)[1])
    doc = ccj("audit", "verify", "--data", work)
    assert doc["intact"] is True and doc["records"] == n + 1


def test_verify_names_an_edited_record(work):
    n = len(rows(work))
    with db(work) as c:
        c.execute("UPDATE audit SET action = 'org.list' WHERE seq = 3")
    p = cc("audit", "verify", "--data", work, rc=CORRUPT)
    assert "seq 3" in p.stdout and "edited" in p.stdout, p.stdout
    doc = ccj("audit", "verify", "--data", work, rc=CORRUPT)
    assert (doc["intact"], doc["damage"], doc["seq"], doc["verified_records"]) == (False, "edited", 3, 2)
    # The damage stays visible: later records (the verifies') chain on.
    assert len(rows(work)) == n + 2
    # `init --check` re-verifies the chain as part of the data directory's health.
    p = cc("init", "--check", "--data", work, rc=CORRUPT)
    assert "audit log" in p.stderr and "record 3 was edited" in p.stderr, p.stderr


def test_verify_names_a_removed_record(work):
    with db(work) as c:
        c.execute("DELETE FROM audit WHERE seq = 4")
    doc = ccj("audit", "verify", "--data", work, rc=CORRUPT)
    assert (doc["damage"], doc["seq"]) == ("removed", 4)


def test_verify_catches_truncation(work):
    n = len(rows(work))
    with db(work) as c:
        c.execute("DELETE FROM audit WHERE seq > ?", (n - 2,))
    doc = ccj("audit", "verify", "--data", work, rc=CORRUPT)
    assert (doc["damage"], doc["seq"]) == ("truncated", n - 1)


def rehash(data):
    """Recomputes every stored hash with the public rule."""
    prev = genesis(data)
    with db(data) as c:
        for row in c.execute("SELECT seq, ts_ms, customer_id, actor, source, action, machines, "
                             "data_class, purpose, outcome, hash FROM audit ORDER BY seq").fetchall():
            h = hashlib.sha256(prev + record_bytes(row)).digest()
            c.execute("UPDATE audit SET hash = ? WHERE seq = ?", (h, row[0]))
            prev = h


def test_verify_catches_a_recomputed_chain(work):
    """An attacker who knows the rule edits a record and recomputes every
    later hash: the chain is consistent, the keyed checkpoint is not."""
    with db(work) as c:
        c.execute("UPDATE audit SET outcome = 'ok' WHERE outcome = 'error'")
    rehash(work)
    chain(work)  # consistent by the public rule
    doc = ccj("audit", "verify", "--data", work, rc=CORRUPT)
    assert doc["damage"] == "rewritten", doc
    # Forging the checkpoint needs the audit key, which lives in the keyring
    # under the master key: with it (and only with it), the rewrite passes.
    rehash(work)
    n, head = chain(work)
    with db(work) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'audit-head'",
                  (checkpoint(audit_key(work), n, head),))
    cc("audit", "verify", "--data", work)


def test_machine_data_is_not_shown_when_its_read_cannot_be_audited(work):
    seq, h, mac = meta(work, "audit-head").split(":")
    with db(work) as c:  # an older seq under the same MAC
        c.execute("UPDATE meta SET value = ? WHERE key = 'audit-head'", (f"{int(seq) - 1}:{h}:{mac}",))
    before = rows(work)
    p = cc("telemetry", "get", "SN-A1", "--data", work, "--json", rc=CORRUPT)
    # No data on stdout: under --json only the error document (the same exit code).
    assert json.loads(p.stdout) == {"error": {"code": "damaged", "exit": CORRUPT,
                                              "message": json.loads(p.stdout)["error"]["message"]}}
    assert "audit" in p.stderr and "audit" in json.loads(p.stdout)["error"]["message"]
    assert rows(work) == before
    doc = ccj("audit", "verify", "--data", work, rc=CORRUPT)
    assert doc["damage"] == "rewritten"


def test_concurrent_cli_processes_keep_one_chain(work):
    n = len(rows(work))
    procs = [subprocess.Popen([str(BIN), "machine", "status", "SN-A1", "--data", str(work)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env())
             for _ in range(12)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert chain(work)[0] == n + 12
    assert ccj("audit", "verify", "--data", work)["records"] == n + 12


def test_help_lists_audit():
    top = cc("--help").stdout
    assert re.search(r"^\s+audit\s+verify\s", top, re.M) and re.search(r"^\s+audit\s+list\s", top, re.M)
    h = cc("audit", "list", "--help").stdout
    for opt in ("--from", "--to", "--action", "--serial", "--customer", "--limit", "--json"):
        assert opt in h, opt
