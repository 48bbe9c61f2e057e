"""Credentials of the people channel: sessions kept in the store, API tokens
for partner systems (scoped, revocable, rate-limited) and TOTP.

Expiry is tested by moving a credential's expiry into the past in the
database, as a clock would: no test waits for time to pass.
"""
import secrets
import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
import rowmac  # noqa: E402
from ccapi import Api, totp_code, totp_secret  # noqa: E402
from oas import checked  # noqa: E402

ADMIN_PASSWORD = ccdaemon.PASSWORD


def add_user(f, login, org, role):
    f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--password-stdin",
         stdin=ccdaemon.password_of(login) + "\n")


def expire(f, token_kind):
    """Moves every credential of a kind (1 session, 2 API token) into the past."""
    db = sqlite3.connect(str(f.data / "coffeecloud.db"), timeout=30)
    with db:
        db.execute("UPDATE credentials SET expires_ms = 1 WHERE kind = ?", (token_kind,))
        # Sealed as an operator with the master key would: expiry, not tampering, is under test.
        rowmac.seal(f.data, db, "credentials",
                    [r[0] for r in db.execute("SELECT id FROM credentials WHERE kind = ?", (token_kind,))])
    db.close()


def in_a_day():
    return int(time.time() * 1000) + 86400 * 1000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("cred")
    f = ccdaemon.Fleet.create(root, machines=("A1",), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    f.add_machine("B1", customer="cafe-b")
    add_user(f, "tech-a", "cafe-a", "technician")
    add_user(f, "admin-b", "dist-b", "admin")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    yield {"fleet": f, "daemon": d, "api": checked(Api(port, f.data / "ca.crt"))}
    d.stop()


def test_sessions_outlive_a_restart_and_logout_ends_them(world):
    api, d = world["api"], world["daemon"]
    kept = api.login("tech-a", ccdaemon.password_of("tech-a"))
    ended = api.login("tech-a", ccdaemon.password_of("tech-a"))
    assert api.call("POST", "/api/v1/auth/logout", token=ended)[0] == 200
    d.stop()
    d.start()
    status, me, _ = api.call("GET", "/api/v1/me", token=kept)
    assert status == 200 and me["login"] == "tech-a" and me["kind"] == "session"
    assert api.call("GET", "/api/v1/me", token=ended)[0] == 401
    # Only hashes are stored: the token itself is nowhere in the database.
    db = (world["fleet"].data / "coffeecloud.db").read_bytes()
    assert kept.encode() not in db and bytes.fromhex(kept) not in db


def test_an_expired_session_is_refused(world):
    api, f = world["api"], world["fleet"]
    token = api.login("tech-a", ccdaemon.password_of("tech-a"))
    assert api.call("GET", "/api/v1/machines", token=token)[0] == 200
    expire(f, 1)
    status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
    assert status == 401 and doc["error"]["code"] == "unauthorized"


def test_api_tokens_act_for_an_organisation_in_a_role(world):
    api = world["api"]
    admin = api.login("admin", ADMIN_PASSWORD)
    status, doc, _ = api.call("POST", "/api/v1/tokens", {"name": "erp-a", "org": "cafe-a", "role": "technician",
                                                         "expires": in_a_day()}, token=admin)
    assert status == 201 and doc["token"].startswith("cct_") and len(doc["token"]) == 68, doc
    token, token_id = doc["token"], doc["id"]
    status, me, _ = api.call("GET", "/api/v1/me", token=token)
    assert status == 200 and me == {"kind": "api_token", "name": "erp-a", "role": "technician", "org": "cafe-a",
                                    "rate_per_min": 60, "data_classes": ["status", "technical", "service"]}
    status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
    assert status == 200 and [m["serial"] for m in doc["machines"]] == ["A1"]
    assert api.call("GET", "/api/v1/machines/B1", token=token)[0] == 404
    # A technician token manages nothing, and cannot sign out (it is revoked instead).
    assert api.call("GET", "/api/v1/users", token=token)[0] == 403
    assert api.call("POST", "/api/v1/auth/logout", token=token)[0] == 400
    # Its reads are audited under its own name.
    status, doc, _ = api.call("GET", "/api/v1/audit?action=machines.list", token=admin)
    assert any(r["actor"] == "token:erp-a" for r in doc["records"]), doc
    # Listed without the secret; revoked, it opens nothing.
    status, doc, _ = api.call("GET", "/api/v1/tokens", token=admin)
    listed = [t for t in doc["tokens"] if t["id"] == token_id]
    assert len(listed) == 1 and listed[0]["in_force"] and "token" not in listed[0]
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", token=admin)[0] == 200
    assert api.call("DELETE", f"/api/v1/tokens/{token_id}", token=admin)[0] == 409
    status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
    assert status == 401


def test_api_token_rules(world):
    api, f = world["api"], world["fleet"]
    admin = api.login("admin", ADMIN_PASSWORD)
    admin_b = api.login("admin-b", ccdaemon.password_of("admin-b"))

    def issue(token, **kw):
        body = {"name": "t-" + secrets.token_hex(4), "org": "cafe-a", "role": "technician", "expires": in_a_day()}
        body.update(kw)
        return api.call("POST", "/api/v1/tokens", body, token=token)
    # No token may manage accounts, and grants name people, not systems.
    assert issue(admin, role="admin")[0] == 400
    assert issue(admin, role="subcontractor")[0] == 400
    assert issue(admin, expires=int(time.time() * 1000) - 1000)[0] == 400
    assert issue(admin, expires=in_a_day() + 400 * 86400 * 1000)[0] == 400
    assert issue(admin, rate_per_min=0)[0] == 400
    assert issue(admin, owner="someone")[0] == 400
    # Another distributor's admin cannot issue tokens for, list or revoke this customer's.
    assert issue(admin_b, org="cafe-a")[0] == 404
    status, doc, _ = issue(admin)
    assert status == 201
    status, listing, _ = api.call("GET", "/api/v1/tokens", token=admin_b)
    assert status == 200 and all(t["org"] != "cafe-a" for t in listing["tokens"])
    assert api.call("DELETE", f"/api/v1/tokens/{doc['id']}", token=admin_b)[0] == 404
    # Only admins issue tokens.
    tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
    assert issue(tech)[0] == 403
    # Forged tokens of the right shape open nothing.
    # (the last digit changed, never to itself)
    last = "1" if doc["token"][-1] == "0" else "0"
    for forged in ("cct_" + secrets.token_hex(32), "cct_" + doc["token"][4:-1] + last, doc["token"].upper()):
        assert api.call("GET", "/api/v1/me", token=forged)[0] == 401, forged
    # An expired token opens nothing.
    expire(f, 2)
    assert api.call("GET", "/api/v1/me", token=doc["token"])[0] == 401


def test_api_tokens_are_rate_limited(world):
    api = world["api"]
    admin = api.login("admin", ADMIN_PASSWORD)
    status, doc, _ = api.call("POST", "/api/v1/tokens", {"name": "slow", "org": "cafe-a", "role": "sales",
                                                         "expires": in_a_day(), "rate_per_min": 3}, token=admin)
    assert status == 201
    token = doc["token"]
    codes = [api.call("GET", "/api/v1/me", token=token)[0] for _ in range(3)]
    assert codes == [200, 200, 200]
    status, doc, resp = api.call("GET", "/api/v1/me", token=token)
    assert status == 429 and doc["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.getheader("Retry-After")) <= 20
    # Another token, and people, are not slowed by it.
    assert api.call("GET", "/api/v1/me", token=admin)[0] == 200


def test_totp_enrolment_and_sign_in(world):
    api, f = world["api"], world["fleet"]
    add_user(f, "tech-totp", "cafe-a", "technician")
    token = api.login("tech-totp", ccdaemon.password_of("tech-totp"))
    status, doc, _ = api.call("POST", "/api/v1/me/totp", {}, token=token)
    assert status == 201 and doc["otpauth_uri"].startswith("otpauth://totp/CoffeeCloud:tech-totp?"), doc
    secret = totp_secret(doc["otpauth_uri"])
    assert len(secret) == 20
    # Not yet on: the password alone still signs in.
    api.login("tech-totp", ccdaemon.password_of("tech-totp"))
    assert api.call("POST", "/api/v1/me/totp/confirm", {"code": totp_code(secret, 5)}, token=token)[0] == 403
    status, doc, _ = api.call("POST", "/api/v1/me/totp/confirm", {"code": totp_code(secret)}, token=token)
    assert status == 200 and doc["totp_enabled"] is True
    # Now the password alone is not enough, and it answers exactly like a wrong password.
    status, doc, _ = api.call("POST", "/api/v1/auth/login", {"login": "tech-totp", "password": ccdaemon.password_of("tech-totp")})
    wrong = api.call("POST", "/api/v1/auth/login", {"login": "tech-totp", "password": "not the password at all"})
    assert (status, doc) == wrong[:2] and status == 401 and doc["error"]["code"] == "unauthorized", (doc, wrong)
    status, _, _ = api.call("POST", "/api/v1/auth/login", {"login": "tech-totp", "password": ccdaemon.password_of("tech-totp"),
                                                           "totp": totp_code(secret, 5)})
    assert status == 401
    # The next step's code (one step of drift) signs in; the same code twice does not.
    code = totp_code(secret, 1)
    session = api.login("tech-totp", ccdaemon.password_of("tech-totp"), totp=code)
    status, me, _ = api.call("GET", "/api/v1/me", token=session)
    assert status == 200 and me["totp_enabled"] is True
    status, _, _ = api.call("POST", "/api/v1/auth/login", {"login": "tech-totp", "password": ccdaemon.password_of("tech-totp"),
                                                           "totp": code})
    assert status == 401
    # A stolen session cannot swap or drop the second factor without a code.
    assert api.call("POST", "/api/v1/me/totp", {}, token=session)[0] == 403
    assert api.call("DELETE", "/api/v1/me/totp", {"code": "000000"}, token=session)[0] == 403
    # The secret is sealed: not in the database in clear.
    assert secret not in (f.data / "coffeecloud.db").read_bytes()


def test_admins_must_enrol_when_configured(tmp_path):
    f = ccdaemon.Fleet.create(tmp_path, machines=("A1",), customer="cafe-a")
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}", "totp_required_for_admins": "true"}):
        api = Api(port, f.data / "ca.crt")
        status, doc, _ = api.call("POST", "/api/v1/auth/login", {"login": "admin", "password": ADMIN_PASSWORD})
        assert status == 200 and doc["totp_enrolment_required"] is True
        token = doc["token"]
        # Until enrolled, nothing but enrolment.
        status, doc, _ = api.call("GET", "/api/v1/machines", token=token)
        assert status == 403 and doc["error"]["code"] == "totp_enrolment_required"
        assert api.call("GET", "/api/v1/users", token=token)[0] == 403
        status, me, _ = api.call("GET", "/api/v1/me", token=token)
        assert status == 200 and me["totp_enrolment_required"] is True
        status, doc, _ = api.call("POST", "/api/v1/me/totp", {}, token=token)
        assert status == 201
        secret = totp_secret(doc["otpauth_uri"])
        assert api.call("POST", "/api/v1/me/totp/confirm", {"code": totp_code(secret)}, token=token)[0] == 200
        # The enrolment session stays an enrolment session; a sign-in with a code is a full one.
        assert api.call("GET", "/api/v1/machines", token=token)[0] == 403
        full = api.login("admin", ADMIN_PASSWORD, totp=totp_code(secret, 1))
        status, doc, _ = api.call("GET", "/api/v1/machines", token=full)
        assert status == 200 and [m["serial"] for m in doc["machines"]] == ["A1"]
        # Admins may not turn it off while it is required.
        assert api.call("DELETE", "/api/v1/me/totp", {"code": totp_code(secret, -1)}, token=full)[0] == 403


def test_cli_tokens(world):
    api, f = world["api"], world["fleet"]
    doc = f.ccj("token", "add", "--name", "cli-erp", "--org", "cafe-a", "--role", "sales", "--expires",
                str(in_a_day()), "--rate", "120")
    assert doc["token"].startswith("cct_") and doc["rate_per_min"] == 120
    status, me, _ = api.call("GET", "/api/v1/me", token=doc["token"])
    assert status == 200 and me["name"] == "cli-erp" and me["role"] == "sales"
    listed = [t for t in f.ccj("token", "list") if t["id"] == doc["id"]]
    assert len(listed) == 1 and listed[0]["in_force"] and "token" not in listed[0]
    f.cc("token", "add", "--name", "bad", "--org", "cafe-a", "--role", "admin", "--expires", str(in_a_day()), rc=2)
    f.cc("token", "revoke", str(doc["id"]))
    assert api.call("GET", "/api/v1/me", token=doc["token"])[0] == 401
    f.cc("token", "revoke", str(doc["id"]), rc=1)
