"""Integrity of the rows that decide access (issue 8, section 3).

Someone who can write the database file but does not hold the master key
edits it directly with sqlite3: a user's role, a revoked grant, a machine's
customer. Every such row fails its integrity MAC: the product treats it as
not there (fail closed), logs it by table and id, audits the refusal, and
`coffeecloud init --check` names it with a non-zero exit."""

import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
import rowmac  # noqa: E402
from ccapi import Api  # noqa: E402


def pw(login):
    return ccdaemon.password_of(login)


def in_ms(seconds):
    return int(time.time() * 1000) + seconds * 1000


def db(f):
    return sqlite3.connect(str(f.data / "coffeecloud.db"), timeout=30)


def row_id(f, table, where, args):
    with db(f) as c:
        return c.execute(f"SELECT id FROM {table} WHERE {where}", args).fetchone()[0]


def edit(f, sql, args=()):
    c = db(f)
    with c:
        n = c.execute(sql, args).rowcount
    c.close()
    assert n == 1, sql


def refusals(f):
    return [r["actor"] for r in f.ccj("audit", "list", "--action", "integrity.refused")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    f = ccdaemon.Fleet(root)
    f.root.mkdir(parents=True, exist_ok=True)
    ccdaemon.run_cli("init", "--data", f.data, "--password-stdin", stdin=ccdaemon.PASSWORD + "\n")
    f.cc("org", "add", "--name", "dist-a", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-a", parent="dist-a")
    f.add_customer("cafe-b", parent="dist-a")
    for serial, customer in (("A1", "cafe-a"), ("A2", "cafe-a"), ("B1", "cafe-b")):
        f.add_machine(serial, customer=customer)
    for login, org, role in (("carl", "cafe-a", "technician"), ("sub", "dist-a", "subcontractor"),
                             ("mgr-a", "cafe-a", "customer_manager"), ("mgr-b", "cafe-b", "customer_manager")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
             stdin=pw(login) + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    yield {"fleet": f, "daemon": d, "api": Api(port, f.data / "ca.crt")}
    d.stop()


def sign_in(api, login, password):
    return api.call("POST", "/api/v1/auth/login", {"login": login, "password": password})


def test_role_edited_to_admin_cannot_sign_in_and_is_audited(world):
    f, api, d = world["fleet"], world["api"], world["daemon"]
    session = api.login("carl", pw("carl"))
    status, me, _ = api.call("GET", "/api/v1/me", token=session)
    assert status == 200 and me["role"] == "technician"
    carl = row_id(f, "users", "login = ?", ("carl",))

    mark = d.mark()
    edit(f, "UPDATE users SET role = 'admin' WHERE id = ?", (carl,))
    status, doc, _ = sign_in(api, "carl", pw("carl"))
    assert status == 401, doc
    # The session made before the edit acts as the account as it is now: refused too.
    assert api.call("GET", "/api/v1/me", token=session)[0] == 401
    assert api.call("POST", "/api/v1/tokens", {"name": "escalated", "org": "manufacturer", "role": "admin",
                                               "expires": in_ms(3600)}, token=session)[0] == 401
    d.wait_for(rf"users {carl}: the row does not match its integrity MAC", since=mark)
    assert f"row:users:{carl}" in refusals(f)
    # The report names the row, nothing of its content.
    reports = [line for line in d.lines(mark) if "integrity" in line]
    assert reports and not any("carl" in line or "admin" in line for line in reports), reports

    # A valid MAC copied from another row (the admin's) does not make it right: the MAC binds the id.
    edit(f, "UPDATE users SET mac = (SELECT mac FROM users WHERE login = 'admin') WHERE id = ?", (carl,))
    assert sign_in(api, "carl", pw("carl"))[0] == 401
    # The admin's own row is untouched and still signs in.
    assert sign_in(api, "admin", ccdaemon.PASSWORD)[0] == 200


def test_api_token_moved_to_another_org_or_role_opens_nothing(world):
    f, api = world["fleet"], world["api"]
    doc = f.ccj("token", "add", "--name", "erp", "--org", "cafe-a", "--role", "sales", "--expires",
                str(in_ms(3600)))
    assert api.call("GET", "/api/v1/me", token=doc["token"])[0] == 200
    edit(f, "UPDATE credentials SET role = 'engineer', org_id = (SELECT id FROM orgs WHERE name = 'manufacturer') "
            "WHERE id = ?", (doc["id"],))
    assert api.call("GET", "/api/v1/me", token=doc["token"])[0] == 401
    assert api.call("GET", "/api/v1/machines", token=doc["token"])[0] == 401
    assert f"row:credentials:{doc['id']}" in refusals(f)


def test_unrevoked_grant_with_a_far_expiry_opens_nothing(world):
    f, api = world["fleet"], world["api"]
    g = f.ccj("grant", "add", "--login", "sub", "--serial", "A1", "--purpose", "support",
              "--expires", str(in_ms(3600)))
    token = api.login("sub", pw("sub"))
    assert api.call("GET", "/api/v1/machines/A1", token=token)[0] == 200
    f.cc("grant", "revoke", str(g["id"]))
    assert api.call("GET", "/api/v1/machines/A1", token=token)[0] == 404

    edit(f, "UPDATE grants SET revoked_ms = 0, expires_ms = ? WHERE id = ?", (in_ms(10 * 365 * 86400), g["id"]))
    assert api.call("GET", "/api/v1/machines/A1", token=token)[0] == 404
    status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
    assert status == 200 and doc["machines"] == [], doc
    assert f"row:grants:{g['id']}" in refusals(f)


def test_machine_moved_to_another_customer_is_seen_by_neither(world):
    f, api = world["fleet"], world["api"]
    mgr_a, mgr_b = api.login("mgr-a", pw("mgr-a")), api.login("mgr-b", pw("mgr-b"))
    assert api.call("GET", "/api/v1/machines/A2", token=mgr_a)[0] == 200
    assert api.call("GET", "/api/v1/machines/A2", token=mgr_b)[0] == 404

    a2 = row_id(f, "machines", "serial = ?", ("A2",))
    edit(f, "UPDATE machines SET customer_id = (SELECT id FROM orgs WHERE name = 'cafe-b') WHERE id = ?", (a2,))
    # Fail closed: the new owner does not get it, and the old one no longer trusts the row either.
    for token in (mgr_b, mgr_a):
        assert api.call("GET", "/api/v1/machines/A2", token=token)[0] == 404
        status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
        assert status == 200 and "A2" not in [m["serial"] for m in doc["machines"]], doc
    # Other machines are not affected.
    assert api.call("GET", "/api/v1/machines/A1", token=mgr_a)[0] == 200
    assert api.call("GET", "/api/v1/machines/B1", token=mgr_b)[0] == 200
    assert f"row:machines:{a2}" in refusals(f)


def test_init_check_names_every_edited_row(world):
    f = world["fleet"]
    # Runs after the edits above (module order): each bad row is named by table and id.
    carl = row_id(f, "users", "login = ?", ("carl",))
    a2 = row_id(f, "machines", "serial = ?", ("A2",))
    p = f.cc("init", "--check", rc=None)
    assert p.returncode != 0, p.stderr
    assert f"users {carl}: does not match its integrity MAC" in p.stderr
    assert f"machines {a2}: does not match its integrity MAC" in p.stderr
    assert "grants " in p.stderr
    assert "credentials " in p.stderr
    assert "4 access row(s) do not match" in p.stderr, p.stderr


def legacy(f):
    """Turns a data directory into one made before row MACs: no mac columns,
    the schema version before their migration, no row key in the keyring, no marker."""
    c = db(f)
    with c:
        for table in rowmac.TABLES:
            c.execute(f"ALTER TABLE {table} DROP COLUMN mac")
        c.execute("DELETE FROM meta WHERE key = 'row-macs'")
        # The schema as it was before the row-MAC migration (6 -> 7), and
        # without what the migrations after it add (7 -> 8: consent languages;
        # 8 -> 9: failed commands; 9 -> 10: deletion requests, retired logins;
        # 10 -> 11: telemetry roll-ups; 11 -> 12: state changes; 12 -> 13: jobs;
        # 13 -> 14: certificate expiry and renewal; 14 -> 15: places, group membership,
        # decommission and moves, deactivation; 15 -> 16: webhooks, the notification
        # outbox and its delivery log; 16 -> 17: alerts; 17 -> 18: business hours;
        # 18 -> 19: certificates in machine_certs, out of the machines row;
        # 19 -> 20: quality rule sets; 20 -> 21: customers' retention;
        # 21 -> 22: release keys, artifacts, offers; 22 -> 23: days of events to digest;
        # 23 -> 24: last cleanings; 24 -> 25: diagnostics bundles; 25 -> 26: service tickets;
        # 26 -> 27: staged rollouts; 27 -> 28: their health margin, on the rollouts table;
        # 28 -> 29: remote configuration; 29 -> 30: the water since each descale;
        # 30 -> 31: reports of every offer, on rollout_reports and update_offers, dropped with them;
        # 31 -> 32: tickets' retention, on retention_terms; 32 -> 33: configuration rollouts, on the
        # rollouts tables, and templates; 33 -> 34: compliance margin and effective rollouts, on rollouts).
        c.execute("DROP TABLE descale_water")
        c.execute("DROP TABLE config_templates")
        c.execute("DROP TABLE machine_config_reported")
        c.execute("DROP TABLE machine_config_desired")
        c.execute("DROP TABLE rollout_reports")
        c.execute("DROP TABLE rollout_machines")
        c.execute("DROP TABLE rollouts")
        c.execute("DROP TABLE ticket_events")
        c.execute("DROP TABLE tickets")
        c.execute("DROP TABLE diag_chunks")
        c.execute("DROP TABLE diag_bundles")
        c.execute("DROP TABLE last_cleanings")
        c.execute("DROP TABLE event_days_dirty")
        c.execute("DROP TABLE update_offers")
        c.execute("DROP TABLE artifacts")
        c.execute("DROP TABLE release_keys")
        c.execute("DROP TABLE retention_terms")
        c.execute("DROP TABLE quality_rulesets")
        certificates_in_the_machines_row(c)
        c.execute("DROP TABLE alert_events")
        c.execute("DROP TABLE alert_rules")
        c.execute("DROP TABLE alerts")
        c.execute("DROP TABLE notify_prefs")
        c.execute("DROP TABLE notify_attempts")
        c.execute("DROP TABLE outbox")
        c.execute("DROP TABLE webhooks")
        c.execute("DROP INDEX machines_model")
        c.execute("DROP TABLE group_machines")
        for table, column in (("sites", "address"), ("sites", "lat_e2"), ("sites", "lon_e2"),
                              ("sites", "timezone"), ("sites", "hours"), ("machine_groups", "filter"),
                              ("machines", "decommissioned_ms"), ("machines", "origin_serial"),
                              ("orgs", "deactivated_ms"), ("users", "deactivated_ms")):
            c.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        c.execute("DROP TRIGGER machine_state_link_new")
        c.execute("DROP TRIGGER machine_state_link")
        c.execute("DROP TABLE state_changes")
        c.execute("DROP INDEX commands_open")
        c.execute("DROP INDEX commands_job")
        for column in ("job_id", "deadline_ms", "accepted_ms", "ended_ms", "end_state", "detail", "late_results"):
            c.execute(f"ALTER TABLE commands DROP COLUMN {column}")
        c.execute("DROP TABLE jobs")
        for column in ("cert_not_after_ms", "prev_cert_fingerprint", "prev_cert_pem", "prev_cert_until_ms"):
            c.execute(f"ALTER TABLE machines DROP COLUMN {column}")
        c.execute("DROP TABLE rollups")
        c.execute("DROP TRIGGER users_retire_login")
        c.execute("DROP TABLE retired_logins")
        c.execute("ALTER TABLE users DROP COLUMN deletion_requested_ms")
        c.execute("ALTER TABLE consents DROP COLUMN language")
        c.execute("ALTER TABLE commands DROP COLUMN failed_ms")
        c.execute("ALTER TABLE commands DROP COLUMN failure")
        c.execute("PRAGMA user_version = 6")
    c.close()
    drop_row_key(f)


def certificates_in_the_machines_row(c):
    """The machines table before 18 -> 19: the certificates at the end of the row."""
    for column in ("cert_pem", "prev_cert_pem"):
        c.execute(f"ALTER TABLE machines ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
        c.execute(f"UPDATE machines SET {column} = "
                  f"(SELECT {column} FROM machine_certs WHERE machine_id = machines.id)")
    c.execute("DROP TABLE machine_certs")


def test_certificates_leave_the_machines_row_intact(tmp_path):
    """18 -> 19 rebuilds the machines table without its certificates: every
    certificate, id and MAC comes through, and the AUTOINCREMENT counter too
    (an id is never given twice, even the id of a machine deleted since)."""
    f = ccdaemon.Fleet.create(tmp_path, machines=("C1", "C2", "C3"), customer="cafe-c")
    with db(f) as c:
        c.execute("UPDATE machine_certs SET prev_cert_pem = 'an earlier certificate' "
                  "WHERE machine_id = (SELECT id FROM machines WHERE serial = 'C2')")
        before = c.execute("SELECT m.id, m.serial, m.mac, c.cert_pem, c.prev_cert_pem FROM machines m "
                           "JOIN machine_certs c ON c.machine_id = m.id ORDER BY m.id").fetchall()
        c.execute("UPDATE sqlite_sequence SET seq = 50 WHERE name = 'machines'")
        certificates_in_the_machines_row(c)
        c.execute("DROP TABLE config_templates")  # what 32 -> 33 adds (besides the rollouts' columns)
        c.execute("DROP TABLE descale_water")  # what 29 -> 30 adds
        for table in ("machine_config_reported", "machine_config_desired"):  # what 28 -> 29 adds
            c.execute(f"DROP TABLE {table}")
        for table in ("rollout_reports", "rollout_machines", "rollouts"):  # what 26 -> 27 adds
            c.execute(f"DROP TABLE {table}")
        for table in ("ticket_events", "tickets"):  # what 25 -> 26 adds
            c.execute(f"DROP TABLE {table}")
        for table in ("diag_chunks", "diag_bundles"):  # what 24 -> 25 adds
            c.execute(f"DROP TABLE {table}")
        c.execute("DROP TABLE last_cleanings")  # what 23 -> 24 adds
        c.execute("DROP TABLE event_days_dirty")  # what 22 -> 23 adds
        for table in ("update_offers", "artifacts", "release_keys"):  # what 21 -> 22 adds
            c.execute(f"DROP TABLE {table}")
        c.execute("DROP TABLE retention_terms")  # what 20 -> 21 adds
        c.execute("DROP TABLE quality_rulesets")  # what 19 -> 20 adds
        c.execute("PRAGMA user_version = 18")
    c.close()
    assert f.cc("init", "--check", rc=None).returncode == 0  # migrates, then every MAC verifies
    with db(f) as c:
        after = c.execute("SELECT m.id, m.serial, m.mac, c.cert_pem, c.prev_cert_pem FROM machines m "
                          "JOIN machine_certs c ON c.machine_id = m.id ORDER BY m.id").fetchall()
        columns = [r[1] for r in c.execute("PRAGMA table_info(machines)")]
        indexes = sorted(r[1] for r in c.execute("PRAGMA index_list(machines)"))
    c.close()
    assert after == before and len(after) == 3
    assert after[0][3] == f.machines["C1"].cert.read_text()
    assert "cert_pem" not in columns and "prev_cert_pem" not in columns, columns
    assert indexes == ["machines_customer", "machines_model", "machines_site", "sqlite_autoindex_machines_1"]
    assert f.ccj("machine", "show", "C2")["serial"] == "C2"
    f.add_machine("C4", customer="cafe-c")
    assert row_id(f, "machines", "serial = ?", ("C4",)) == 51


def drop_row_key(f):
    path = f.data / "keyring"
    doc = json.loads(path.read_text())
    del doc["entries"]["row-key"]
    path.write_text(json.dumps(doc))


def test_first_open_seals_rows_of_an_older_data_directory(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("L1",), customer="cafe-l")
    legacy(f)
    p = f.cc("org", "list")
    assert "cafe-l" in p.stdout
    assert "sealed 4 access rows that had no integrity MAC" in p.stderr, p.stderr
    assert [r["action"] for r in f.ccj("audit", "list", "--action", "integrity.seal")] == ["integrity.seal"]
    assert f.cc("init", "--check", rc=None).returncode == 0
    # Sealed by the product, checked by an independent implementation.
    key = rowmac.row_key(f.data)
    with db(f) as c:
        for table in rowmac.TABLES:
            for rid, mac in c.execute(f"SELECT id, mac FROM {table}"):
                assert mac == rowmac.expected(c, key, table, rid), (table, rid)
    # Once sealed, a missing MAC is a mismatch, not a row to seal again.
    edit(f, "UPDATE machines SET mac = NULL WHERE serial = 'L1'")
    p = f.cc("init", "--check", rc=None)
    assert p.returncode != 0 and "machines 1: does not match its integrity MAC" in p.stderr, p.stderr
    p = f.cc("machine", "status", "L1", rc=None)
    assert p.returncode != 0


def test_a_lost_row_key_is_not_replaced_by_sealing_again(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("K1",), customer="cafe-k")
    edit(f, "UPDATE orgs SET parent_id = NULL WHERE name = 'cafe-k'")
    drop_row_key(f)  # the attacker also removes the key from the keyring to have the edit sealed
    p = f.cc("init", "--check", rc=None)
    assert p.returncode != 0
    assert "the keyring has no 'row-key'" in p.stderr, p.stderr
    assert "keyring" in json.dumps(sorted(json.loads((f.data / "keyring").read_text())["entries"]))
    assert "row-key" not in json.loads((f.data / "keyring").read_text())["entries"]


@pytest.mark.parametrize("via", ["cli", "api"])
def test_erasure_reaches_the_running_daemons_key_caches(tmp_path, via):
    """Every cache of a running daemon (the people's loop's vault, which the
    API reads through, the writer's, which seals what machines send, and the
    settler's, which opens records to summarise them) holds the customer's
    data key; an erasure by the CLI (another process) or by the API
    (the people's loop's own vault) reaches the other caches within the
    fleet poll interval (100 ms in tests), without a restart."""
    import subprocess

    f = ccdaemon.Fleet.create(tmp_path, machines=("E1",), customer="cafe-e")
    cust = row_id(f, "orgs", "name = ?", ("cafe-e",))
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        api = Api(port, f.data / "ca.crt")
        m = f.machines["E1"]
        p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                            "--cert", str(m.cert), "--key", str(m.key), "-i", "E1", "-V", "mqttv5", "-q", "1",
                            "-t", "cc/v1/E1/telemetry", "-m",
                            '{"seq":1,"ts":%d,"m":{"boiler_temp_c":93.5}}' % int(time.time() * 1000)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr  # acknowledged: sealed by the writer with cafe-e's key
        admin = api.login("admin", ccdaemon.PASSWORD)
        status, doc, _ = api.call("GET", "/api/v1/machines/E1/telemetry", token=admin)
        assert status == 200 and len(doc["telemetry"]) == 1, doc  # opened by the loop with cafe-e's key

        def summarised():  # the settler opened the record with cafe-e's key to summarise it
            c = db(f)
            try:
                return c.execute("SELECT count(*) FROM rollups").fetchone()[0] == 2
            finally:
                c.close()
        ccdaemon.poll_until(summarised, "the record to be moved and summarised")
        mark = d.mark()
        if via == "cli":
            f.cc("customer", "delete", "cafe-e", "--yes")
        else:
            status, doc, _ = api.call("DELETE", "/api/v1/customers/cafe-e", token=admin)
            assert status == 200, doc
        erased = time.monotonic()
        d.wait_for(rf"dropped the data key of organisation {cust} from the writer's cache", since=mark)
        d.wait_for(rf"dropped the data key of organisation {cust} from the settler's cache", since=mark)
        if via == "cli":  # the API erased through the people's loop's vault, which forgot the key at once
            d.wait_for(rf"dropped the data key of organisation {cust} from the people's loop's cache", since=mark)
        # Within a few poll intervals even on a busy machine (the poll is 100 ms here).
        assert time.monotonic() - erased < 5
        assert api.call("GET", "/api/v1/machines/E1/telemetry", token=admin)[0] == 404


def test_a_damaged_record_costs_only_itself(tmp_path):
    """One sealed blob damaged in the database file: `telemetry get`, the API
    and the export skip it, name it (seq, never content) and give the rest."""
    import subprocess

    f = ccdaemon.Fleet.create(tmp_path, machines=("D1",), customer="cafe-d")
    port = ccdaemon.free_port()
    now = int(time.time() * 1000)
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        m = f.machines["D1"]
        lines = [{"seq": i, "ts": now - 1000 * (5 - i), "m": {"boiler_temp_c": 90.0 + i}} for i in (1, 2, 3)]
        p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.tls_port), "--cafile", str(m.ca),
                            "--cert", str(m.cert), "--key", str(m.key), "-i", "D1", "-V", "mqttv5", "-q", "1",
                            "-t", "cc/v1/D1/telemetry", "-l"],
                           input="".join(json.dumps(x) + "\n" for x in lines), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert [r["seq"] for r in f.ccj("telemetry", "get", "D1")] == [1, 2, 3]
    # Stopped, the daemon has moved every record from its inbox into the table.
    c = db(f)
    with c:
        body = c.execute("SELECT body FROM telemetry WHERE seq = 2").fetchone()[0]
        damaged = body[:-1] + bytes([body[-1] ^ 0x01])  # one bit of the tag
        assert c.execute("UPDATE telemetry SET body = ? WHERE seq = 2", (damaged,)).rowcount == 1
    c.close()

    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}) as d:
        p = f.cc("telemetry", "get", "D1", "--json")
        assert [r["seq"] for r in json.loads(p.stdout)] == [1, 3]
        assert "telemetry record 2 of machine D1 is damaged" in p.stderr, p.stderr
        assert "1 damaged record(s) skipped (the first: seq 2)" in p.stderr, p.stderr
        assert "92.0" not in p.stderr

        api = Api(port, f.data / "ca.crt")
        admin = api.login("admin", ccdaemon.PASSWORD)
        mark = d.mark()
        status, doc, _ = api.call("GET", "/api/v1/machines/D1/telemetry", token=admin)
        assert status == 200 and sorted(r["seq"] for r in doc["telemetry"]) == [1, 3], doc
        assert doc["damaged_skipped"] == 1, doc  # the reader is told, never what it held
        d.wait_for(r"telemetry record 2 of machine D1 is damaged", since=mark)

        export = json.loads(f.cc("customer", "export", "cafe-d").stdout)
        d1 = [x for x in export["machines"] if x["serial"] == "D1"][0]
        assert [r["seq"] for r in d1["telemetry"]] == [1, 3]


def test_password_changes_and_ended_sessions_are_sealed_again(tmp_path):
    """A password change rewrites a user row and ends its other sessions:
    the product seals those rows again, so nothing it wrote itself reads as
    tampered (init --check stays clean) and the account still signs in."""
    f = ccdaemon.Fleet.create(tmp_path, machines=("P1",), customer="cafe-p")
    f.cc("user", "add", "--org", "cafe-p", "--login", "tech-p", "--role", "technician", "--password-stdin",
         stdin=pw("tech-p") + "\n")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        api = Api(port, f.data / "ca.crt")
        other = api.login("tech-p", pw("tech-p"))
        me = api.login("tech-p", pw("tech-p"))
        new = "Steamed Milk Foam 7361 Tamper"
        status, doc, _ = api.call("POST", "/api/v1/me/password",
                                  {"current_password": pw("tech-p"), "new_password": new}, token=me)
        assert status == 200, doc
        assert api.call("GET", "/api/v1/me", token=other)[0] == 401
        assert api.call("GET", "/api/v1/me", token=me)[0] == 200
        assert api.login("tech-p", new)
        admin = api.login("admin", ccdaemon.PASSWORD)
        status, doc, _ = api.call("POST", "/api/v1/users/tech-p/password", {"new_password": "Another Good Passphrase 9182"},
                                  token=admin)
        assert status == 200, doc
        assert api.call("GET", "/api/v1/me", token=me)[0] == 401
    finally:
        d.stop()
    p = f.cc("init", "--check", rc=None)
    assert p.returncode == 0, p.stderr
    assert refusals(f) == []
