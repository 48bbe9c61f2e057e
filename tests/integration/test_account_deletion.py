"""A person may ask for their account to be deleted; an admin confirms;
audit records keep a pseudonym (issue 17, "People's own data").

The person asks with POST /api/v1/me/deletion (a session, never an API
token); admins see the request in GET /api/v1/users and `user list`; an
admin of the account's subtree deletes it with DELETE /api/v1/users/{login}
or `coffeecloud user delete LOGIN --yes`. After that: no session of the
account works, it cannot sign in, its login is never given again, the grants
made to it are gone, its sealed personal fields are in no file of the data
directory, `init --check` and `audit verify` stay clean, and the audit log
still names it `user:LOGIN`, now a pseudonym.
"""
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
import storeview  # noqa: E402

ADMIN = ("admin", ccdaemon.PASSWORD)
NAME_CANARY = "Canary Deletee 7c1f"
EMAIL_CANARY = "canary.deletee.7c1f@example.org"


class World:
    def __init__(self, root):
        f = self.f = ccdaemon.Fleet.create(root, machines=("P1",), customer="cafe-a")
        for dist in ("dist-a", "dist-b"):
            f.cc("org", "add", "--name", dist, "--kind", "distributor", "--parent", "manufacturer")
        f.add_customer("cafe-b", parent="dist-b")
        self.add("admin-b", "admin", "dist-b")
        self.port = ccdaemon.free_port()
        self.d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{self.port}"})
        self.d.start()
        self.api = checked(Api(self.port, f.data / "ca.crt"))
        self.admin = self.api.login(*ADMIN)

    def add(self, login, role, org, *extra):
        self.f.cc("user", "add", "--org", org, "--login", login, "--role", role, *extra, "--password-stdin",
                  stdin=ccdaemon.password_of(login) + "\n")

    def login(self, login):
        return self.api.login(login, ccdaemon.password_of(login))

    def call(self, method, path, token, body=None):
        status, doc, _ = self.api.call(method, path, body, token=token)
        return status, doc

    def users(self):
        status, doc = self.call("GET", "/api/v1/users?limit=1000", self.admin)
        assert status == 200, doc
        return {u["login"]: u for u in doc["users"]}

    def db(self):
        return storeview.open_store(self.f.data)

    def store_bytes(self):
        """Every byte of the database's files as they are on disk now: SQLite's
        own (the promise is about the files; a PostgreSQL counterpart would
        read its data directory)."""
        data = b""
        for suffix in ("", "-wal"):
            p = self.f.data / ("coffeecloud.db" + suffix)
            if p.exists():
                data += p.read_bytes()
        return data


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("deletion"))
    yield w
    w.d.stop()


def audit_rows(w, *where):
    with w.db() as db:
        return db.rows("SELECT actor, action, outcome FROM audit " + (where[0] if where else ""), where[1:])


def test_a_person_asks_an_admin_confirms_and_nothing_of_the_person_stays(world):
    w = world
    w.add("sub-del", "subcontractor", "dist-a", "--name", NAME_CANARY, "--email", EMAIL_CANARY)
    expires = str(int(time.time() * 1000) + 86400000)
    grant = w.f.ccj("grant", "add", "--login", "sub-del", "--serial", "P1", "--purpose", "support",
                    "--expires", expires)
    first, me = w.login("sub-del"), w.login("sub-del")
    assert w.call("GET", "/api/v1/machines/P1", me)[0] == 200  # a read the audit log records

    # A partner system's token is not a person: it cannot ask.
    status, tok = w.call("POST", "/api/v1/tokens", w.admin, {"name": "erp-del", "org": "cafe-a", "role": "sales",
                                                           "expires": int(expires)})
    assert status == 201, tok
    status, doc = w.call("POST", "/api/v1/me/deletion", tok["token"])
    assert status == 403 and doc["error"]["code"] == "forbidden", doc

    assert "deletion_requested" not in w.users()["sub-del"]
    status, asked = w.call("POST", "/api/v1/me/deletion", me)
    assert status == 202 and asked["already_requested"] is False and asked["deletion_requested"], asked
    status, again = w.call("POST", "/api/v1/me/deletion", first)
    assert status == 202 and again["already_requested"] is True, again
    assert again["deletion_requested"] == asked["deletion_requested"]  # idempotent: the first time stays
    # Admins see the pending request; accounts without one have no such key.
    listed = w.users()
    assert listed["sub-del"]["deletion_requested"] == asked["deletion_requested"]
    assert "deletion_requested" not in listed["admin"]
    cli = {u["login"]: u for u in w.f.ccj("user", "list")}
    assert cli["sub-del"]["deletion_requested"] == asked["deletion_requested"]
    assert "deletion_requested" not in cli["admin"]
    table = w.f.cc("user", "list").stdout.splitlines()
    assert table[0].startswith("LOGIN ") and table[0].endswith("DELETION REQUESTED")
    assert [l for l in table if l.startswith("sub-del ")][0].endswith(asked["deletion_requested"][:19] + "Z")
    assert [l for l in table if l.startswith("admin ")][0].endswith(" -")
    status, mine = w.call("GET", "/api/v1/me/data", me)
    assert status == 200 and mine["account"]["deletion_requested"] == asked["deletion_requested"]
    assert ("user:sub-del", "me.deletion_request", "ok") in audit_rows(w)

    # The sealed personal fields are in the database file now (the canary's ciphertext).
    with w.db() as db:
        (profile,) = db.one("SELECT profile FROM users WHERE login = 'sub-del'")
    assert len(profile) > 40 and profile in w.store_bytes()

    # An admin of another distributor: the same answer as for an account that does not exist.
    b = w.login("admin-b")
    out_of_scope = w.call("DELETE", "/api/v1/users/sub-del", b)
    assert out_of_scope[0] == 404 and out_of_scope == w.call("DELETE", "/api/v1/users/no-such-user", b)
    # Someone who is not an admin: refused before anything is looked up.
    assert w.call("DELETE", "/api/v1/users/sub-del", me)[0] == 403

    status, done = w.call("DELETE", "/api/v1/users/sub-del", w.admin)
    assert status == 200, done
    assert done["deleted"] is True and done["requested"] is True
    assert done["deletion_requested"] == asked["deletion_requested"] and done["org"] == "dist-a"

    # Every session is gone, and so is signing in.
    for token in (me, first):
        status, doc = w.call("GET", "/api/v1/me", token)
        assert status == 401 and doc["error"]["code"] == "unauthorized", doc
    status, doc, _ = w.api.call("POST", "/api/v1/auth/login", {"login": "sub-del",
                                                                "password": ccdaemon.password_of("sub-del")})
    assert status == 401, doc
    # The grant made to it went with it.
    status, grants = w.call("GET", "/api/v1/grants?limit=1000", w.admin)
    assert status == 200 and grant["id"] not in [g["id"] for g in grants["grants"]]
    # The login is never given again: not by the API, not by the CLI.
    status, doc = w.call("POST", "/api/v1/users", w.admin, {"login": "sub-del", "role": "technician", "org": "cafe-a",
                                                          "password": ccdaemon.password_of("sub-del")})
    assert status == 409 and doc["error"]["code"] == "conflict", doc
    p = w.f.cc("user", "add", "--org", "cafe-a", "--login", "sub-del", "--role", "technician", "--password-stdin",
               stdin=ccdaemon.password_of("sub-del") + "\n", rc=4)
    assert "belonged to a deleted account" in p.stderr
    assert "sub-del" not in w.users()
    assert w.call("DELETE", "/api/v1/users/sub-del", w.admin)[0] == 404

    # Nothing of the person is in any file of the database, while the daemon
    # still runs: not the sealed fields (which the organisation's key, still
    # alive, would open), not their clear text.
    data = w.store_bytes()
    assert profile not in data
    assert NAME_CANARY.encode() not in data and EMAIL_CANARY.encode() not in data
    with w.db() as db:
        assert db.count("users", "login = 'sub-del'") == 0
        assert db.count("grants", "id = ?", (grant["id"],)) == 0
        assert db.rows("SELECT login FROM retired_logins") == [("sub-del",)]

    # The audit log is intact and still names the pseudonym.
    assert w.f.ccj("init", "--check")["ok"] is True
    assert w.f.ccj("audit", "verify")["intact"] is True
    kept = audit_rows(w, "WHERE actor = ?", "user:sub-del")
    assert ("user:sub-del", "machine.get", "ok") in kept and ("user:sub-del", "me.deletion_request", "ok") in kept
    assert ("user:admin", "user.delete", "ok") in audit_rows(w)
    w.d.stop()
    # Stopped: the files as a backup taken now would hold them.
    data = w.store_bytes()
    assert profile not in data and NAME_CANARY.encode() not in data and EMAIL_CANARY.encode() not in data
    w.d.start()
    w.admin = w.api.login(*ADMIN)


def test_an_admin_removes_a_leaver_and_the_tokens_they_issued_stay(world):
    w = world
    w.add("adm-c", "admin", "cafe-a")
    c = w.login("adm-c")
    status, tok = w.call("POST", "/api/v1/tokens", c, {"name": "pos-c", "org": "cafe-a", "role": "sales",
                                                     "expires": int(time.time() * 1000) + 3600000})
    assert status == 201, tok
    # An admin cannot delete itself through this route.
    status, doc = w.call("DELETE", "/api/v1/users/adm-c", c)
    assert status == 403 and doc["error"]["code"] == "forbidden" and "me/deletion" in doc["error"]["message"]
    assert ("user:adm-c", "user.delete", "denied") in audit_rows(w)
    status, done = w.call("DELETE", "/api/v1/users/adm-c", w.admin)
    assert status == 200 and done["requested"] is False and done["deletion_requested"] is None, done
    assert w.call("GET", "/api/v1/me", c)[0] == 401
    # The partner system's token goes on working; it names its issuer by the pseudonym.
    assert w.call("GET", "/api/v1/machines", tok["token"])[0] == 200
    status, doc = w.call("GET", "/api/v1/tokens?limit=1000", w.admin)
    assert [t["created_by"] for t in doc["tokens"] if t["id"] == tok["id"]] == ["user:adm-c"]
    assert w.f.ccj("init", "--check")["ok"] is True


def test_the_cli_twin_and_the_platforms_last_admin(world):
    w = world
    w.add("tech-cli", "technician", "cafe-a", "--email", "tech-cli@example.org")
    t = w.login("tech-cli")
    assert w.call("POST", "/api/v1/me/deletion", t)[0] == 202
    p = w.f.cc("user", "delete", "tech-cli", rc=2)
    assert "--yes" in p.stderr
    assert w.call("GET", "/api/v1/me", t)[0] == 200  # nothing happened without --yes
    doc = w.f.ccj("user", "delete", "tech-cli", "--yes")
    assert doc["deleted"] is True and doc["requested"] is True and doc["login"] == "tech-cli", doc
    assert w.call("GET", "/api/v1/me", t)[0] == 401
    w.f.cc("user", "delete", "tech-cli", "--yes", rc=3)
    assert any(a.startswith("cli:") and (b, o) == ("user.delete", "ok") for a, b, o in audit_rows(w))

    # The root organisation keeps an admin: its last one cannot go, by any route.
    p = w.f.cc("user", "delete", "admin", "--yes", rc=1)
    assert "last admin" in p.stderr
    w.add("admin-2", "admin", "manufacturer")
    two = w.login("admin-2")
    status, doc = w.call("DELETE", "/api/v1/users/admin-2", w.admin)
    assert status == 200, doc
    assert w.call("GET", "/api/v1/me", two)[0] == 401
    w.f.cc("user", "delete", "admin", "--yes", rc=1)
    assert w.call("GET", "/api/v1/me", w.admin)[0] == 200
    assert w.f.ccj("init", "--check")["ok"] is True
    assert w.f.ccj("audit", "verify")["intact"] is True


def test_an_erased_customers_logins_are_retired_too(world):
    w = world
    w.f.add_customer("cafe-gone", parent="dist-b")
    w.add("mgr-gone", "customer_manager", "cafe-gone")
    w.f.cc("customer", "delete", "cafe-gone", "--yes")
    w.f.cc("user", "add", "--org", "cafe-b", "--login", "mgr-gone", "--role", "customer_manager",
           "--password-stdin", stdin=ccdaemon.password_of("mgr-gone") + "\n", rc=4)
    assert w.f.ccj("init", "--check")["ok"] is True


def test_the_account_form_says_logins_are_handles(world):
    p = ccdaemon.run_cli("user", "add", "--help")
    assert "not the person's name" in p.stdout
    status, doc, _ = world.api.call("GET", "/api/v1/openapi.json")
    assert "not the person's name" in doc["paths"]["/api/v1/users"]["post"]["summary"]
