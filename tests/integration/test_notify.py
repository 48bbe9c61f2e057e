"""Notifications that are never lost: webhooks from the real daemon to a real
HTTPS receiver (http.server + ssl, its certificate from the fleet CA) that
verifies the Standard Webhooks signature on its own (hmac, base64); retries,
kill -9, rotation, the endpoint disabled after persistent failure, and the
refused targets (no server-side request forgery)."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import threading
import time

import ccdaemon
import storeview
from ccdaemon import Daemon, Fleet, poll_until, run_cli

FAST = {"notify_poll_ms": "100", "webhook_retry_base_ms": "200", "webhook_timeout_s": "5"}


def verify(secrets, headers, body):
    """The receiver's side of https://www.standardwebhooks.com: any of the
    space-separated v1 signatures made with any of our secrets."""
    msg_id, ts, sigs = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
    assert abs(int(ts) - time.time()) < 300, "stale timestamp"
    ok = set()
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        want = "v1," + base64.b64encode(mac).decode()
        for s in sigs.split(" "):
            if hmac.compare_digest(s, want):
                ok.add(secret)
    return ok


class Receiver:
    """An HTTPS webhook receiver on 127.0.0.1. answers: status codes to give,
    one per request, then 200. Every request is kept with which secrets its
    signature verified under."""

    def __init__(self, tmp_path, fleet, secrets=()):
        cert_dir = tmp_path / "receiver"
        fleet.cc("ca", "server-cert", "--san", "127.0.0.1,localhost", "--out", cert_dir)
        self.ca = cert_dir / "ca.crt"
        self.secrets = list(secrets)
        self.answers = []
        self.failing = set()  # paths that always answer 500
        self.requests = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.cond:
                    if self.path in outer.failing:
                        status = 500
                    else:
                        status = outer.answers.pop(0) if outer.answers else 200
                    outer.requests.append({
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "verified": verify(outer.secrets, {k.lower(): v for k, v in self.headers.items()}, body),
                        "status": status,
                    })
                    outer.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_dir / "server.crt", cert_dir / "server.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, pred, what, timeout=ccdaemon.TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {len(self.requests)} requests")
                self.cond.wait(left)
            return list(self.requests)

    def delivered_ids(self):
        with self.cond:
            return {r["headers"]["webhook-id"] for r in self.requests if r["status"] == 200}


def settings(receiver, **extra):
    s = dict(FAST, webhook_allow_private="true", webhook_ca_file=str(receiver.ca))
    s.update({k: str(v) for k, v in extra.items()})
    return s


def add_hook(f, url, org="cafe-a"):
    doc = f.ccj("webhook", "add", "--org", org, "--url", url, "--allow-private")
    assert doc["secret"].startswith("whsec_") and len(base64.b64decode(doc["secret"][6:])) == 32
    return doc["id"], doc["secret"]


def deliveries(f, hook):
    return f.ccj("webhook", "deliveries", str(hook))["notifications"]


def test_signed_delivery_and_retry_with_the_same_id(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, rx.url)
        rx.secrets.append(secret)
        rx.answers = [500, 503]
        with Daemon(f, settings=settings(rx)):
            assert f.ccj("notify", "test", "--org", "cafe-a", "--text", "hello")["queued"] == 1
            reqs = rx.wait(lambda r: any(x["status"] == 200 for x in r), "a delivery after two failures")
        assert [r["status"] for r in reqs] == [500, 503, 200]
        assert len({r["headers"]["webhook-id"] for r in reqs}) == 1  # every attempt carries the same id
        msg_id = reqs[0]["headers"]["webhook-id"]
        assert msg_id.startswith("msg_")
        for r in reqs:
            assert r["verified"] == {secret}, r["headers"]
            assert r["headers"]["content-type"] == "application/json"
        doc = json.loads(reqs[-1]["body"])
        assert doc["type"] == "test" and doc["data"] == {"org": "cafe-a", "text": "hello"}
        assert doc["timestamp"].endswith("Z")
        # A body changed in transit does not verify.
        assert verify([secret], reqs[-1]["headers"], reqs[-1]["body"] + b" ") == set()
        log = deliveries(f, hook)
        assert len(log) == 1 and log[0]["id"] == msg_id and log[0]["state"] == "delivered"
        assert [a["status"] for a in log[0]["log"]] == [500, 503, 200]
        assert log[0]["log"][0]["error"] == "HTTP 500"
    finally:
        rx.close()


def test_kill_9_loses_nothing(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, rx.url)
        rx.secrets.append(secret)
        rx.answers = [500] * 1000  # nothing gets through while the first daemon lives
        d = Daemon(f, settings=settings(rx, webhook_retry_base_ms=100))
        d.start()
        try:
            for i in range(5):
                f.cc("notify", "test", "--org", "cafe-a", "--text", f"n{i}")
            rx.wait(lambda r: len({x["headers"]["webhook-id"] for x in r}) == 5, "attempts at all five")
        finally:
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(timeout=30)
        queued = {n["id"] for n in deliveries(f, hook)}
        assert len(queued) == 5
        assert all(n["state"] == "pending" for n in deliveries(f, hook))
        with rx.cond:
            rx.answers = []
        with Daemon(f, settings=settings(rx)):
            rx.wait(lambda r: {x["headers"]["webhook-id"] for x in r if x["status"] == 200} >= queued,
                    "all five delivered after the restart")
            poll_until(lambda: all(n["state"] == "delivered" for n in deliveries(f, hook)), "delivered states")
        assert rx.delivered_ids() == queued
        texts = sorted(json.loads(r["body"])["data"]["text"] for r in rx.requests if r["status"] == 200)
        assert texts == [f"n{i}" for i in range(5)]
        assert all(r["verified"] == {secret} for r in rx.requests)
    finally:
        rx.close()


def test_rotation_signs_with_both_secrets_for_the_overlap(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, old = add_hook(f, rx.url)
        new = f.ccj("webhook", "rotate", str(hook))["secret"]
        assert new != old and new.startswith("whsec_")
        rx.secrets = [old, new]
        with Daemon(f, settings=settings(rx)):
            f.cc("notify", "test", "--org", "cafe-a")
            reqs = rx.wait(lambda r: len(r) == 1, "one delivery")
        assert reqs[0]["verified"] == {old, new}
        assert len(reqs[0]["headers"]["webhook-signature"].split(" ")) == 2
        listed = f.ccj("webhook", "list")["webhooks"]
        assert listed[0]["previous_secret_until"] is not None
    finally:
        rx.close()


def test_endpoint_disabled_after_persistent_failure(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, rx.url)
        other, other_secret = add_hook(f, rx.url + "/other")
        rx.secrets = [secret, other_secret]
        rx.failing = {"/hook"}
        f.cc("user", "add", "--org", "cafe-a", "--login", "adm-a", "--role", "admin", "--email", "adm@example.com")
        f.cc("user", "add", "--org", "cafe-a", "--login", "eng-a", "--role", "engineer", "--email", "eng@example.com")
        for login in ("adm-a", "eng-a"):
            f.cc("user", "notifications", login, "--kinds", "webhook.disabled")
        mb = Mailbox(tmp_path, f)
        with Daemon(f, settings=settings(rx, webhook_retry_window_s=5, webhook_disable_after=2, smtp_url=mb.url,
                                         smtp_ca_file=str(mb.ca), smtp_from="cc@example.com")):
            f.cc("notify", "test", "--org", "cafe-a")
            f.cc("notify", "test", "--org", "cafe-a")
            poll_until(lambda: not f.ccj("webhook", "list")["webhooks"][0]["enabled"], "the endpoint disabled",
                       timeout=60)
            # The organisation hears of it through its endpoint that works.
            told = rx.wait(lambda r: any(json.loads(x["body"])["type"] == "webhook.disabled" for x in r),
                           "the webhook.disabled notification")
            # And its admins by e-mail (the engineer who asked for it is not an admin).
            mails = mb.wait(1)
        mb.close()
        assert [m["to"] for m in mails] == [["adm@example.com"]]
        msg, body = parts(mails[0]["content"])
        assert msg["Subject"] == "A webhook endpoint was disabled"
        assert f"Webhook endpoint {hook} failed 2 notifications in a row" in body["text/plain"]
        note = [json.loads(x["body"]) for x in told if json.loads(x["body"])["type"] == "webhook.disabled"][0]
        assert note["data"]["webhook_id"] == hook and note["data"]["failed_messages"] == 2
        assert all(x["verified"] for x in told)
        hooks = {h["id"]: h for h in f.ccj("webhook", "list")["webhooks"]}
        assert not hooks[hook]["enabled"] and hooks[hook]["failures"] >= 2
        states = [n["state"] for n in deliveries(f, hook)]
        assert states.count("failed") >= 2, states
        failed = [n for n in deliveries(f, hook) if n["kind"] == "test"]
        assert all(len(n["log"]) >= 2 for n in failed)
        assert [n["kind"] for n in deliveries(f, other)].count("webhook.disabled") == 1
        f.cc("webhook", "enable", str(hook))
        assert f.ccj("webhook", "list")["webhooks"][0]["enabled"]
    finally:
        rx.close()


def test_refused_targets(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    for url, why in [
        ("http://example.com/hook", "only https://"),
        ("https://10.0.0.1/hook", "internal"),
        ("https://127.0.0.1:9/hook", "internal"),
        ("https://[::1]/hook", "internal"),
        ("https://[::ffff:127.0.0.1]/hook", "internal"),
        ("https://169.254.169.254/latest", "internal"),
        ("https://localhost/hook", "internal"),
        ("https://user@example.com/hook", "user information"),
        ("ftp://example.com/", "only https://"),
    ]:
        p = f.cc("webhook", "add", "--org", "cafe-a", "--url", url, rc=None)
        assert p.returncode != 0 and why in p.stderr, (url, p.stderr)
    assert f.ccj("webhook", "list")["webhooks"] == []


def test_the_daemon_refuses_internal_addresses_at_delivery(tmp_path):
    """Added with --allow-private, but the daemon's operator did not allow it:
    the connection is refused at the address it would use (so a name that
    changes what it resolves to cannot get around the check)."""
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, f"https://localhost:{rx.port}/hook")
        with Daemon(f, settings=dict(FAST, webhook_ca_file=str(rx.ca))):
            f.cc("notify", "test", "--org", "cafe-a")
            log = poll_until(lambda: [a for n in deliveries(f, hook) for a in n["log"]], "an attempt")
        assert "internal" in log[0]["error"] and log[0]["status"] == 0, log
        assert rx.requests == []
    finally:
        rx.close()


def test_untrusted_certificate_is_not_delivered(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, _ = add_hook(f, rx.url)
        with Daemon(f, settings=dict(FAST, webhook_allow_private="true")):  # the system's CAs only
            f.cc("notify", "test", "--org", "cafe-a")
            log = poll_until(lambda: [a for n in deliveries(f, hook) for a in n["log"]], "an attempt")
        assert log[0]["status"] == 0 and log[0]["error"], log
        assert rx.requests == []
    finally:
        rx.close()


def test_a_distributors_endpoint_hears_of_its_customers(tmp_path):
    f = Fleet.create(tmp_path, machines=(), customer="cafe-a")
    f.cc("org", "add", "--name", "dist-x", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-x")
    rx = Receiver(tmp_path, f)
    try:
        _, s1 = add_hook(f, rx.url + "/dist", org="dist-x")
        _, s2 = add_hook(f, rx.url + "/a", org="cafe-a")
        rx.secrets = [s1, s2]
        with Daemon(f, settings=settings(rx)):
            assert f.ccj("notify", "test", "--org", "cafe-b")["queued"] == 1
            reqs = rx.wait(lambda r: len(r) == 1, "the distributor's delivery")
        assert reqs[0]["verified"] == {s1}
        assert json.loads(reqs[0]["body"])["data"]["org"] == "cafe-b"
    finally:
        rx.close()


# ---- e-mail


class Mailbox:
    """aiosmtpd on 127.0.0.1 that demands STARTTLS (its certificate from the
    fleet CA) before MAIL; keeps every message with whether it came over TLS."""

    def __init__(self, tmp_path, fleet, tls=True, host="127.0.0.1"):
        from aiosmtpd.controller import Controller
        cert_dir = tmp_path / "smtp"
        fleet.cc("ca", "server-cert", "--san", "127.0.0.1,localhost", "--out", cert_dir)
        self.ca = cert_dir / "ca.crt"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_dir / "server.crt", cert_dir / "server.key")
        if not tls:
            ctx = None
        self.messages = []
        self.cond = threading.Condition()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with outer.cond:
                    outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                           "tls": session.ssl is not None, "content": envelope.content})
                    outer.cond.notify_all()
                return "250 OK"

        port = ccdaemon.free_port()
        self.controller = Controller(Handler(), hostname=host, port=port, tls_context=ctx,
                                     require_starttls=ctx is not None)
        self.controller.start()
        self.url = f"smtp://{host}:{port}"

    def close(self):
        self.controller.stop()

    def wait(self, n, timeout=ccdaemon.TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {n} e-mails; got {len(self.messages)}")
                self.cond.wait(left)
            return list(self.messages)


def parts(raw):
    import email
    from email import policy
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    kinds = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert set(kinds) == {"text/plain", "text/html"}, kinds.keys()
    return msg, kinds


def outbox_rows(f):
    with storeview.open_store(f.data) as c:
        return c.rows("SELECT u.login, o.kind, o.state, o.next_ms, o.attempts FROM outbox o "
                      "JOIN users u ON u.id = o.user_id ORDER BY o.id")


def test_email_over_starttls_in_the_readers_language_after_quiet_hours(tmp_path):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    f = Fleet.create(tmp_path, machines=())
    mb = Mailbox(tmp_path, f)
    try:
        for login, addr in [("ops-en", "ops@example.com"), ("ops-hu", "uzem@example.hu"),
                            ("ops-quiet", "quiet@example.com"), ("ops-alerts", "alerts@example.com"),
                            ("ops-off", "off@example.com")]:
            f.cc("user", "add", "--org", "cafe-a", "--login", login, "--role", "engineer", "--email", addr)
        f.cc("user", "add", "--org", "cafe-a", "--login", "ops-noaddr", "--role", "engineer")
        assert f.ccj("user", "notifications", "ops-hu", "--lang", "hu")["language"] == "hu"
        now = datetime.now(ZoneInfo("Europe/Budapest"))
        quiet = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=2)):%H:%M}"
        doc = f.ccj("user", "notifications", "ops-quiet", "--quiet", quiet, "--tz", "Europe/Budapest")
        assert doc["quiet"] == quiet and doc["tz"] == "Europe/Budapest"
        assert f.ccj("user", "notifications", "ops-alerts", "--kinds", "alert.opened,alert.resolved")["kinds"] == [
            "alert.opened", "alert.resolved"]
        f.cc("user", "notifications", "ops-off", "--email", "off")
        for bad in (["--quiet", "25:00-07:00"], ["--tz", "../../etc/passwd"], ["--lang", "xx"], ["--email", "maybe"]):
            p = f.cc("user", "notifications", "ops-en", *bad, rc=None)
            assert p.returncode != 0, bad
        with Daemon(f, settings=dict(FAST, smtp_url=mb.url, smtp_ca_file=str(mb.ca),
                                     smtp_from="alerts@coffeecloud.example")):
            assert f.ccj("notify", "test", "--org", "cafe-a", "--text", "Kávé <b>& tea</b>")["queued"] == 3
            got = mb.wait(2)
            poll_until(lambda: [r for r in outbox_rows(f) if r[0] != "ops-quiet" and r[2] == 1], "delivered rows")
        assert len(got) == 2 and all(m["tls"] for m in got), got
        by = {m["to"][0]: m for m in got}
        assert set(by) == {"ops@example.com", "uzem@example.hu"}
        assert all(m["from"] == "alerts@coffeecloud.example" for m in got)
        msg, en = parts(by["ops@example.com"]["content"])
        assert msg["Subject"] == "CoffeeCloud test notification"
        assert "This is a test notification for cafe-a." in en["text/plain"]
        assert "Kávé <b>& tea</b>" in en["text/plain"]
        assert "Kávé &lt;b&gt;&amp; tea&lt;/b&gt;" in en["text/html"] and "<b>" not in en["text/html"]
        msg, hu = parts(by["uzem@example.hu"]["content"])
        assert msg["Subject"] == "CoffeeCloud tesztértesítés" and msg["Content-Language"] == "hu"
        assert "Ez egy tesztértesítés" in hu["text/plain"] and 'lang="hu"' in hu["text/html"]
        # No personal data but the recipient's own address.
        for m in got:
            raw = m["content"].decode("utf-8", "replace")
            for other in ("quiet@example.com", "alerts@example.com", "off@example.com", "ops-en", "ops-hu"):
                assert other not in raw
        rows = {r[0]: r for r in outbox_rows(f)}
        assert set(rows) == {"ops-en", "ops-hu", "ops-quiet"}
        # The quiet one waits for the end of its quiet hours, untried.
        login, kind, state, next_ms, attempts = rows["ops-quiet"]
        assert state == 0 and attempts == 0
        assert next_ms >= int((now + timedelta(hours=2) - timedelta(minutes=1)).timestamp() * 1000)
    finally:
        mb.close()


def test_smtp_credentials_file_must_be_private(tmp_path):
    import pytest
    f = Fleet.create(tmp_path, machines=())
    cred = tmp_path / "smtp.cred"
    cred.write_text("relay-user:hunter2-pw\n")
    os.chmod(cred, 0o644)
    d = Daemon(f, settings=dict(FAST, smtp_url="smtp://127.0.0.1:25", smtp_credentials_file=str(cred)))
    try:
        with pytest.raises(AssertionError):
            d.start()  # it exits instead of becoming ready
        d.proc.wait(timeout=30)
        assert d.proc.returncode != 0
    finally:
        d._kill()
    assert "smtp_credentials_file" in d.log and "hunter2" not in d.log and "relay-user" not in d.log
    os.chmod(cred, 0o600)
    with Daemon(f, settings=dict(FAST, smtp_url="smtp://127.0.0.1:25", smtp_credentials_file=str(cred))) as d2:
        assert "hunter2" not in d2.log


# ---- the API


def test_api_webhooks_and_preferences(tmp_path):
    from ccapi import Api
    from oas import checked
    f = Fleet.create(tmp_path, machines=())
    f.cc("org", "add", "--name", "dist-b", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-b", parent="dist-b")
    for login, org, role in (("adm-a", "cafe-a", "admin"), ("adm-b", "dist-b", "admin"), ("tech-a", "cafe-a", "technician")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    rx = Receiver(tmp_path, f)
    port = ccdaemon.free_port()
    try:
        with Daemon(f, settings=settings(rx, https_listen=f"127.0.0.1:{port}")):
            api = checked(Api(port, f.data / "ca.crt"))
            adm_a = api.login("adm-a", ccdaemon.password_of("adm-a"))
            adm_b = api.login("adm-b", ccdaemon.password_of("adm-b"))
            tech = api.login("tech-a", ccdaemon.password_of("tech-a"))
            # Refused targets, before anything is stored (internal addresses: below).
            for url in ("http://hooks.example.com/x", "https://user:pw@hooks.example.com/x", "https://ho st/x"):
                status, doc, _ = api.call("POST", "/api/v1/webhooks", {"org": "cafe-a", "url": url}, token=adm_a)
                assert status == 400 and doc["error"]["code"] == "invalid", (url, status, doc)
            # Another subtree's organisation does not exist for this admin.
            status, _, _ = api.call("POST", "/api/v1/webhooks", {"org": "cafe-b", "url": rx.url}, token=adm_a)
            assert status == 404
            status, doc, _ = api.call("POST", "/api/v1/webhooks", {"org": "cafe-a", "url": rx.url}, token=adm_a)
            assert status == 201 and doc["secret"].startswith("whsec_"), doc
            hook, secret = doc["id"], doc["secret"]
            rx.secrets.append(secret)
            status, doc, _ = api.call("GET", "/api/v1/webhooks", token=adm_a)
            assert [h["id"] for h in doc["webhooks"]] == [hook] and "secret" not in doc["webhooks"][0]
            status, doc, _ = api.call("GET", "/api/v1/webhooks", token=adm_b)
            assert doc["webhooks"] == []
            for method, path in (("GET", "deliveries"), ("POST", "test"), ("POST", "rotate-secret")):
                assert api.call(method, f"/api/v1/webhooks/{hook}/{path}", token=adm_b)[0] == 404
                assert api.call(method, f"/api/v1/webhooks/{hook}/{path}", token=tech)[0] == 403
            status, doc, _ = api.call("POST", f"/api/v1/webhooks/{hook}/test", token=adm_a)
            assert status == 202
            reqs = rx.wait(lambda r: len(r) == 1, "the test delivery")
            assert reqs[0]["verified"] == {secret}
            status, doc, _ = api.call("POST", f"/api/v1/webhooks/{hook}/rotate-secret", token=adm_a)
            assert status == 200 and doc["secret"] != secret
            rx.secrets.append(doc["secret"])
            api.call("POST", f"/api/v1/webhooks/{hook}/test", token=adm_a)
            reqs = rx.wait(lambda r: len(r) == 2, "the second test delivery")
            assert reqs[1]["verified"] == {secret, doc["secret"]}
            doc = poll_until(lambda: (lambda d: d if all(n["state"] == "delivered" for n in d["notifications"])
                                      else None)(api.call("GET", f"/api/v1/webhooks/{hook}/deliveries",
                                                          token=adm_a)[1]), "delivered")
            assert len(doc["notifications"]) == 2 and doc["notifications"][0]["log"][0]["status"] == 200
            # One's own e-mail preferences.
            status, doc, _ = api.call("GET", "/api/v1/me/notifications", token=tech)
            assert status == 200 and doc == {"email": True, "kinds": [], "sites": [], "quiet": "", "tz": "UTC",
                                             "language": "en"}
            status, doc, _ = api.call("POST", "/api/v1/me/notifications",
                                      {"language": "hu", "quiet": "22:00-06:30", "tz": "Europe/Budapest",
                                       "kinds": ["alert.opened"]}, token=tech)
            assert status == 200 and doc["language"] == "hu" and doc["quiet"] == "22:00-06:30", doc
            status, doc, _ = api.call("POST", "/api/v1/me/notifications", {"quiet": "6-7"}, token=tech)
            assert status == 400
            assert f.ccj("user", "notifications", "tech-a")["kinds"] == ["alert.opened"]
            status, doc, _ = api.call("DELETE", f"/api/v1/webhooks/{hook}", token=adm_a)
            assert status == 200 and api.call("GET", "/api/v1/webhooks", token=adm_a)[1]["webhooks"] == []
        actions = [r["action"] for r in f.ccj("audit", "list")]
        for a in ("webhook.add", "webhook.test", "webhook.rotate", "webhook.remove", "notifications.set"):
            assert a in actions, a
    finally:
        rx.close()


def test_api_refuses_internal_targets_unless_the_operator_allows(tmp_path):
    from ccapi import Api
    from oas import checked
    f = Fleet.create(tmp_path, machines=())
    port = ccdaemon.free_port()
    with Daemon(f, settings=dict(FAST, https_listen=f"127.0.0.1:{port}")):
        api = checked(Api(port, f.data / "ca.crt"))
        adm = api.login("admin", ccdaemon.PASSWORD)
        for url in ("https://10.1.2.3/x", "https://127.0.0.1:8443/x", "https://[::1]/x", "https://[fd00::1]/x",
                    "https://[::ffff:192.168.1.1]/x", "https://169.254.169.254/x", "https://0.0.0.0/x"):
            status, doc, _ = api.call("POST", "/api/v1/webhooks", {"org": "cafe-a", "url": url}, token=adm)
            assert status == 400 and "internal" in doc["error"]["message"], (url, status, doc)
        status, doc, _ = api.call("POST", "/api/v1/webhooks", {"org": "cafe-a", "url": "https://93.184.215.14/x"},
                                  token=adm)
        assert status == 201, doc


def own_address():
    """This host's address on its outward interface (not loopback)."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the route
        addr = s.getsockname()[0]
    finally:
        s.close()
    assert not addr.startswith("127."), "the test needs a non-loopback interface"
    return addr


def test_starttls_is_required_unless_the_relay_is_loopback(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    f.cc("user", "add", "--org", "cafe-a", "--login", "ops-1", "--role", "engineer", "--email", "ops@example.com")
    plain = Mailbox(tmp_path, f, tls=False, host=own_address())  # offers no STARTTLS
    try:
        with Daemon(f, settings=dict(FAST, smtp_url=plain.url, smtp_from="cc@example.com")):
            f.cc("notify", "test", "--org", "cafe-a")
            rows = poll_until(lambda: [r for r in outbox_rows(f) if r[4] >= 1], "an attempt")
        assert rows[0][2] == 0, rows  # still pending: not sent in clear
        assert plain.messages == []
    finally:
        plain.close()
    # The same server on loopback: the relay is this host, clear text is allowed.
    f2 = Fleet.create(tmp_path / "loop", machines=())
    f2.cc("user", "add", "--org", "cafe-a", "--login", "ops-1", "--role", "engineer", "--email", "ops@example.com")
    local = Mailbox(tmp_path / "loop", f2, tls=False)
    try:
        with Daemon(f2, settings=dict(FAST, smtp_url=local.url, smtp_from="cc@example.com")):
            f2.cc("notify", "test", "--org", "cafe-a")
            got = local.wait(1)
        assert got[0]["tls"] is False and got[0]["to"] == ["ops@example.com"]
    finally:
        local.close()


def test_ended_notifications_are_deleted_after_30_days(tmp_path):
    f = Fleet.create(tmp_path, machines=())
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, rx.url)
        with Daemon(f, settings=settings(rx)):
            f.cc("notify", "test", "--org", "cafe-a")
            f.cc("notify", "test", "--org", "cafe-a")
            poll_until(lambda: [n for n in deliveries(f, hook) if n["state"] == "delivered"] == deliveries(f, hook)
                       and len(deliveries(f, hook)) == 2, "two delivered")
        old, recent = deliveries(f, hook)[1]["id"], deliveries(f, hook)[0]["id"]
        with storeview.open_store(f.data, write=True) as c:
            assert c.execute("UPDATE outbox SET done_ms = done_ms - 31 * 86400000 WHERE msg_id = ?", (old,)) == 1
        with Daemon(f, settings=settings(rx)) as d:
            d.wait_for(r"deleted 1 notifications that ended more than 30 days ago")
        assert [n["id"] for n in deliveries(f, hook)] == [recent]
    finally:
        rx.close()


def test_alerts_reach_the_customers_webhook(tmp_path):
    """The alert engine's notices go through the outbox: a critical error
    opens an alert, its clearing resolves it, and the customer's endpoint
    hears both, signed, naming the machine and the rule (not the code)."""
    f = Fleet.create(tmp_path, machines=("N1",))
    rx = Receiver(tmp_path, f)
    try:
        hook, secret = add_hook(f, rx.url)
        rx.secrets.append(secret)
        with Daemon(f, settings=settings(rx)) as d:
            m = f.machines["N1"]
            t0 = int(time.time() * 1000)
            ccdaemon.publish(d, m, "event", [{"seq": 1, "ts": t0, "type": "error", "code": "E201",
                                              "severity": "critical", "state": "raised"}])
            reqs = rx.wait(lambda r: any(json.loads(x["body"])["type"] == "alert.opened" for x in r),
                           "alert.opened")
            ccdaemon.publish(d, m, "event", [{"seq": 2, "ts": t0 + 1000, "type": "error", "code": "E201",
                                              "severity": "critical", "state": "cleared"}])
            reqs = rx.wait(lambda r: any(json.loads(x["body"])["type"] == "alert.resolved" for x in r),
                           "alert.resolved")
        opened = [json.loads(r["body"]) for r in reqs if json.loads(r["body"])["type"] == "alert.opened"]
        assert {o["data"]["rule"] for o in opened} >= {"critical_error"}
        assert all(o["data"]["serial"] == "N1" and "E201" not in json.dumps(o) for o in opened)
        assert all(r["verified"] == {secret} for r in reqs)
    finally:
        rx.close()
