"""Service tickets end to end (docs/OPERATIONS.md "Service tickets"): the
real daemon, the API and the CLI. A customer's manager opens a ticket for
its machine; a technician of the service company that serves it comments,
is assigned, closes it with a report; the customer reads the history;
another customer sees nothing; personal data in free text is refused and
not stored; a ticket opened from an alert links both; the machine's
timeline shows the ticket; the service company's webhook hears of it; every
step is audited."""
import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
import storeview  # noqa: E402
from ccapi import Api  # noqa: E402
from oas import checked  # noqa: E402
from test_notify import Mailbox, Receiver, add_hook, settings  # noqa: E402

CARD = "4111 1111 1111 1111"
EMAIL = "carl.smith@example.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tickets")
    f = ccdaemon.Fleet.create(root, machines=(), customer="cafe-z")
    f.cc("org", "add", "--name", "serv-s", "--kind", "distributor", "--parent", "manufacturer")
    f.cc("org", "add", "--name", "serv-o", "--kind", "distributor", "--parent", "manufacturer")
    f.add_customer("cafe-a", parent="serv-s")
    f.add_customer("cafe-b", parent="serv-s")
    f.add_customer("cafe-o", parent="serv-o")
    f.add_machine("T1", customer="cafe-a")
    f.add_machine("T2", customer="cafe-a")
    f.add_machine("B1", customer="cafe-b")
    f.add_machine("O1", customer="cafe-o")
    for login, org, role in (("staff-a", "cafe-a", "customer_manager"), ("mgr-b", "cafe-b", "customer_manager"),
                             ("tech-s", "serv-s", "technician"), ("tech-o", "serv-o", "technician"),
                             ("sales-s", "serv-s", "sales")):
        f.cc("user", "add", "--org", org, "--login", login, "--role", role, "--email", login + "@example.org",
             "--password-stdin", stdin=ccdaemon.password_of(login) + "\n")
    rx = Receiver(root, f)
    hook, secret = add_hook(f, rx.url, org="serv-s")  # the service company hears of its customers' tickets
    rx.secrets.append(secret)
    mb = Mailbox(root, f)
    port = ccdaemon.free_port()
    # Closed tickets are kept 30 days (test_a_closed_ticket_ages_out ages one).
    d = ccdaemon.Daemon(f, settings=settings(rx, https_listen=f"127.0.0.1:{port}", alerts_tick_ms="200",
                                             retention_tickets_days="30", retention_sweep_s="1",
                                             smtp_url=mb.url, smtp_ca_file=str(mb.ca),
                                             smtp_from="tickets@coffeecloud.example"))
    d.start()
    api = Api(port, f.data / "ca.crt")
    checked(api)
    w = {"fleet": f, "daemon": d, "api": api, "rx": rx, "mb": mb}
    w["tokens"] = {who: api.login(who, ccdaemon.password_of(who))
                   for who in ("staff-a", "mgr-b", "tech-s", "tech-o", "sales-s")}
    yield w
    d.stop()
    rx.close()
    mb.close()


def call(w, who, method, path, body=None):
    status, doc, _ = w["api"].call(method, path, body, token=w["tokens"][who])
    return status, doc


def db_blobs(w):
    """Every ticket byte at rest, for the check that refused text left nothing."""
    c = sqlite3.connect(w["fleet"].data / "coffeecloud.db")
    try:
        rows = c.execute("SELECT title, description FROM tickets").fetchall()
        rows += c.execute("SELECT text, detail FROM ticket_events").fetchall()
        counts = c.execute("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_events)").fetchone()
    finally:
        c.close()
    return rows, counts


def test_a_ticket_from_open_to_closed_with_its_history(world):
    w = world
    status, t = call(w, "staff-a", "POST", "/api/v1/tickets",
                     {"serial": "T1", "title": "Grinder noisy", "description": "Loud grinding since Monday morning."})
    assert status == 201, t
    tid = t["id"]
    assert t["state"] == "open" and t["assignee"] is None and t["opened_by"] == "user:staff-a"
    assert t["customer"] == "cafe-a" and t["title"] == "Grinder noisy"

    # The service company's technician sees it, comments, is assigned, works, closes.
    status, listed = call(w, "tech-s", "GET", "/api/v1/tickets?machine=T1")
    assert status == 200 and [x["id"] for x in listed["tickets"]] == [tid]
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/comments", {"text": "Burrs likely worn."})
    assert status == 200, doc
    # The customer cannot assign, nor close: the service side does.
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/assign", {"login": "tech-s"})
    assert status == 403, doc
    # Only an account of the service company that serves the machine is assigned.
    for login in ("tech-o", "staff-a", "sales-s", "nobody"):
        status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/assign", {"login": login})
        assert status == 400, (login, doc)
    # Closing an unassigned ticket: assign it first.
    report = {"work": "Replaced the grinder burrs, calibrated the dose.", "parts": ["BUR-6402-64", "burr carrier screw"],
              "counters_reset": ["grinder_burrs"]}
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": report})
    assert status == 409 and "assign" in doc["error"]["message"], doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/assign", {"login": "tech-s"})
    assert status == 200 and doc["state"] == "assigned" and doc["assignee"] == "tech-s", doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/state", {"state": "in_progress"})
    assert status == 200 and doc["state"] == "in_progress"
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/state", {"state": "waiting_customer"})
    assert status == 200 and doc["state"] == "waiting_customer"
    # The customer answers: back to work; it may not resolve.
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/state", {"state": "resolved"})
    assert status == 403, doc
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/comments", {"text": "Machine free after 14:00."})
    assert status == 200
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/state", {"state": "in_progress"})
    assert status == 200 and doc["state"] == "in_progress"
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/close", {"report": report})
    assert status == 403, doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": dict(report, parts=["a" * 81])})
    assert status == 400 and "parts" in doc["error"]["message"], doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": dict(report, counters_reset=["x"])})
    assert status == 400, doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": report})
    assert status == 200 and doc["state"] == "closed" and "closed" in doc, doc
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/comments", {"text": "late"})
    assert status == 409

    # The customer reads the whole history, the report included.
    status, doc = call(w, "staff-a", "GET", f"/api/v1/tickets/{tid}")
    assert status == 200
    steps = [(h["what"], h["who"], h.get("detail")) for h in doc["history"]]
    assert steps == [("opened", "user:staff-a", None), ("commented", "user:tech-s", None),
                     ("assigned", "user:tech-s", "tech-s"), ("state", "user:tech-s", "in_progress"),
                     ("state", "user:tech-s", "waiting_customer"), ("commented", "user:staff-a", None),
                     ("state", "user:staff-a", "in_progress"), ("closed", "user:tech-s", "closed")], steps
    assert [h["seq"] for h in doc["history"]] == list(range(1, 9))
    assert doc["history"][1]["text"] == "Burrs likely worn."
    assert doc["history"][-1]["report"] == report
    assert doc["description"] == "Loud grinding since Monday morning."

    # Reopened by the customer: back to its assignee.
    status, doc = call(w, "staff-a", "POST", f"/api/v1/tickets/{tid}/state", {"state": "open"})
    assert status == 200 and doc["state"] == "assigned" and doc["history"][-1]["what"] == "reopened"
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": report})
    assert status == 200 and doc["state"] == "closed"

    # Another customer's manager, another service company, a role without the service class: nothing.
    for who in ("mgr-b", "tech-o"):
        status, doc = call(w, who, "GET", f"/api/v1/tickets/{tid}")
        assert status == 404, (who, doc)
        status, doc = call(w, who, "POST", f"/api/v1/tickets/{tid}/comments", {"text": "hello"})
        assert status == 404, (who, doc)
        status, doc = call(w, who, "GET", "/api/v1/tickets")
        assert status == 200 and all(x["id"] != tid for x in doc["tickets"]), (who, doc)
        status, doc = call(w, who, "POST", "/api/v1/tickets", {"serial": "T1", "title": "x"})
        assert status == 404, (who, doc)
    status, doc = call(w, "sales-s", "GET", f"/api/v1/tickets/{tid}")
    assert status == 403, doc
    status, doc = call(w, "mgr-b", "GET", "/api/v1/tickets?machine=T1")
    assert status == 404
    status, doc = call(w, "mgr-b", "GET", "/api/v1/tickets?customer=cafe-a")
    assert status == 404

    # The listing filters.
    status, doc = call(w, "tech-s", "GET", "/api/v1/tickets?customer=cafe-a&state=closed")
    assert status == 200 and tid in [x["id"] for x in doc["tickets"]]
    status, doc = call(w, "tech-s", "GET", "/api/v1/tickets?state=unclosed&machine=T1")
    assert status == 200 and tid not in [x["id"] for x in doc["tickets"]]
    status, doc = call(w, "tech-s", "GET", "/api/v1/tickets?state=bogus")
    assert status == 400

    # The timeline shows the ticket's steps, never its words.
    status, tl = call(w, "staff-a", "GET", "/api/v1/machines/T1/timeline")
    assert status == 200
    steps = [(i["what"], i.get("detail")) for i in tl["items"] if i["kind"] == "ticket" and i["ticket"] == tid]
    assert steps[0] == ("opened", None) and ("closed", "closed") in steps and ("reopened", "assigned") in steps
    assert "Burrs" not in json.dumps(tl) and "Grinder noisy" not in json.dumps(tl)

    # The service company's endpoint heard of the opening, the assignment and the close.
    def kinds(reqs):
        return [json.loads(r["body"]) for r in reqs if json.loads(r["body"])["type"].startswith("ticket.")]
    reqs = w["rx"].wait(lambda r: {"ticket.opened", "ticket.assigned", "ticket.closed"} <=
                        {x["type"] for x in kinds(r)}, "ticket notifications")
    mine = [x for x in kinds(reqs) if x["data"]["ticket_id"] == tid]
    assert {x["type"] for x in mine} >= {"ticket.opened", "ticket.assigned", "ticket.closed"}
    assert all(x["data"]["serial"] == "T1" and "Grinder" not in json.dumps(x) for x in mine)
    assert any(x["type"] == "ticket.assigned" and x["data"]["assignee"] == "tech-s" for x in mine)

    # E-mail: the assignee (of the service company) and the customer's people.
    def mails(msgs):
        import email
        from email import policy
        return [(m["to"][0], email.message_from_bytes(m["content"], policy=policy.default)["Subject"]) for m in msgs]
    want = {("tech-s@example.org", f"Service ticket {tid} on T1 assigned to tech-s"),
            ("staff-a@example.org", f"Service ticket {tid} on T1"),
            ("tech-s@example.org", f"Service ticket {tid} on T1 closed")}
    ccdaemon.poll_until(lambda: want <= set(mails(w["mb"].messages)), "the ticket's e-mails")
    got = mails(w["mb"].messages)
    assert not any(to.startswith(("mgr-b", "tech-o", "sales-s")) for to, _ in got), got
    assert all("Grinder" not in m["content"].decode("utf-8", "replace") for m in w["mb"].messages)

    # Every step audited with its machine.
    audit = w["fleet"].ccj("audit", "list", "--action", "ticket.")
    done = {(r["action"], r["actor"], r["outcome"], tuple(r["machines"])) for r in audit}
    assert {("ticket.open", "user:staff-a", "ok", ("T1",)), ("ticket.comment", "user:tech-s", "ok", ("T1",)),
            ("ticket.assign", "user:tech-s", "ok", ("T1",)), ("ticket.assign", "user:staff-a", "denied", ("T1",)),
            ("ticket.state", "user:staff-a", "ok", ("T1",)), ("ticket.close", "user:tech-s", "ok", ("T1",)),
            ("ticket.get", "user:staff-a", "ok", ("T1",))} <= done, done


def test_personal_data_in_free_text_is_refused_and_not_stored(world):
    w = world
    status, t = call(w, "staff-a", "POST", "/api/v1/tickets", {"serial": "T2", "title": "Milk frother leaks"})
    assert status == 201
    tid = t["id"]
    before = db_blobs(w)
    cases = [("POST", f"/api/v1/tickets/{tid}/comments", {"text": f"Card used: {CARD}"}, "card-number"),
             ("POST", f"/api/v1/tickets/{tid}/comments", {"text": f"Call back {EMAIL}"}, "email"),
             ("POST", "/api/v1/tickets", {"serial": "T2", "title": f"Write to {EMAIL}"}, "email"),
             ("POST", "/api/v1/tickets", {"serial": "T2", "title": "Leak", "description": f"paid with {CARD}"},
              "card-number"),
             ("POST", f"/api/v1/tickets/{tid}/close", {"report": {"work": f"told {EMAIL}"}}, "email")]
    status, doc = call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/assign", {"login": "tech-s"})
    assert status == 200
    before = db_blobs(w)
    for method, path, body, reason in cases:
        who = "tech-s" if path.endswith("/close") else "staff-a"
        status, doc = call(w, who, method, path, body)
        assert status == 400 and reason in doc["error"]["message"], (path, doc)
        text = json.dumps(doc)
        assert CARD not in text and EMAIL not in text and "carl" not in text, doc
    assert db_blobs(w) == before  # nothing stored: no row, no line of history
    status, doc = call(w, "staff-a", "GET", f"/api/v1/tickets/{tid}")
    assert [h["what"] for h in doc["history"]] == ["opened", "assigned"]
    assert CARD not in w["daemon"].log and EMAIL not in w["daemon"].log
    audit = w["fleet"].ccj("audit", "list", "--action", "ticket.comment")
    assert any(r["outcome"] == "denied" and r["actor"] == "user:staff-a" for r in audit)


def test_a_ticket_opened_from_an_alert_links_both(world):
    w = world
    m = w["fleet"].machines["T2"]
    ccdaemon.publish(w["daemon"], m, "event", [{"seq": 1, "ts": int(time.time() * 1000), "type": "error",
                                                "code": "E201", "severity": "critical", "state": "raised"}])
    alert = ccdaemon.poll_until(
        lambda: (lambda r: r[1]["alerts"][0] if r[0] == 200 and r[1]["alerts"] else None)(
            call(w, "tech-s", "GET", "/api/v1/alerts?serial=T2&state=unresolved")), "the alert")
    # An alert of another machine is not this machine's.
    status, doc = call(w, "tech-s", "POST", "/api/v1/tickets", {"serial": "T1", "title": "x", "alert": alert["id"]})
    assert status == 404, doc
    status, t = call(w, "tech-s", "POST", "/api/v1/tickets",
                     {"serial": "T2", "title": "Boiler over-temperature", "alert": alert["id"]})
    assert status == 201 and t["alert"] == alert["id"] and t["serial"] == "T2", t
    assert t["history"][0]["detail"] == f"alert {alert['id']}"
    status, a = call(w, "staff-a", "GET", f"/api/v1/alerts/{alert['id']}")
    assert status == 200 and a["ticket"] == t["id"], a
    # The list shows it too, so nobody opens a second ticket for the alert.
    status, doc = call(w, "staff-a", "GET", "/api/v1/alerts?serial=T2")
    assert status == 200 and [x.get("ticket") for x in doc["alerts"] if x["id"] == alert["id"]] == [t["id"]], doc
    status, doc = call(w, "staff-a", "GET", "/api/v1/tickets?machine=T2")
    assert t["id"] in [x["id"] for x in doc["tickets"]]


def test_the_cli_twins(world):
    w = world
    f = w["fleet"]
    t = f.ccj("ticket", "open", "--serial", "B1", "--title", "Display flickers", "--description", "Since the update.")
    assert t["state"] == "open" and t["serial"] == "B1" and t["opened_by"].startswith("cli:")
    tid = str(t["id"])
    assert f.ccj("ticket", "comment", tid, "--text", "Checking the firmware.")["history"][-1]["what"] == "commented"
    p = f.cc("ticket", "comment", tid, "--text", f"mail {EMAIL}", rc=None)
    assert p.returncode != 0 and EMAIL not in p.stderr + p.stdout and "email" in p.stderr
    assert f.ccj("ticket", "assign", tid, "--login", "tech-s")["assignee"] == "tech-s"
    assert f.cc("ticket", "assign", tid, "--login", "tech-o", rc=None).returncode != 0
    assert f.ccj("ticket", "state", tid, "--state", "in_progress")["state"] == "in_progress"
    closed = f.ccj("ticket", "close", tid, "--work", "Reflashed the display firmware.", "--parts", "DSP-12",
                   "--counters-reset", "descaling")
    assert closed["state"] == "closed"
    assert closed["history"][-1]["report"] == {"work": "Reflashed the display firmware.", "parts": ["DSP-12"],
                                               "counters_reset": ["descaling"]}
    shown = f.ccj("ticket", "show", tid)
    assert [h["what"] for h in shown["history"]] == ["opened", "commented", "assigned", "state", "closed"]
    listed = f.ccj("ticket", "list", "--customer", "cafe-b")["tickets"]
    assert [x["id"] for x in listed] == [t["id"]]
    table = f.cc("ticket", "list", "--serial", "B1").stdout
    assert "Display flickers" in table and "closed" in table
    # The customer's manager reads what the CLI did.
    status, doc = call(w, "mgr-b", "GET", f"/api/v1/tickets/{tid}")
    assert status == 200 and doc["history"][-1]["report"]["parts"] == ["DSP-12"]
    audit = f.ccj("audit", "list", "--action", "ticket.")
    assert {"ticket.open", "ticket.comment", "ticket.assign", "ticket.state", "ticket.close"} <= \
        {r["action"] for r in audit if r["actor"].startswith("cli:")}


def pages(w, who, path, limit=2):
    """Every ticket id of a listing, page by page (cursor), in the order served."""
    ids, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        status, doc = call(w, who, "GET", f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(doc["tickets"]) <= limit, (who, doc)
        ids += [t["id"] for t in doc["tickets"]]
        cursor = doc.get("next_cursor")
        if cursor is None:
            return ids


def test_the_list_pages_through_the_callers_scope_in_the_store(world):
    """The scope is the store's query: each caller pages through exactly its own tickets,
    newest first, with tickets of others interleaved between them."""
    w, f = world, world["fleet"]
    f.cc("site", "add", "--customer", "cafe-a", "--name", "front")
    f.cc("machine", "move", "T2", "--site", "front")
    f.cc("user", "add", "--org", "serv-s", "--login", "sub-s", "--role", "subcontractor", "--password-stdin",
         stdin=ccdaemon.password_of("sub-s") + "\n")
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
    f.cc("grant", "add", "--login", "sub-s", "--serial", "B1", "--purpose", "support", "--expires", expires)
    w["tokens"]["sub-s"] = w["api"].login("sub-s", ccdaemon.password_of("sub-s"))
    for i in range(4):
        for who, serial in (("staff-a", "T1"), ("tech-o", "O1"), ("mgr-b", "B1"), ("staff-a", "T2")):
            status, doc = call(w, who, "POST", "/api/v1/tickets", {"serial": serial, "title": f"Round {i}"})
            assert status == 201, doc
    every = f.ccj("ticket", "list")["tickets"]  # the operator's view, newest first
    by = {}
    for t in every:
        by.setdefault(t["customer"], []).append(t["id"])
    want = {"tech-s": [t["id"] for t in every if t["customer"] in ("cafe-a", "cafe-b")],
            "tech-o": by["cafe-o"], "mgr-b": by["cafe-b"], "staff-a": by["cafe-a"],
            "sub-s": [t["id"] for t in every if t["serial"] == "B1"]}
    for who, ids in want.items():
        assert len(ids) >= 4, (who, ids)
        assert pages(w, who, "/api/v1/tickets") == ids, who
    # Filters narrow within the scope, paged the same way.
    assert pages(w, "tech-s", "/api/v1/tickets?site=front", limit=3) == \
        [t["id"] for t in every if t["serial"] == "T2"]
    assert pages(w, "tech-s", "/api/v1/tickets?customer=cafe-b&state=open") == \
        [t["id"] for t in every if t["customer"] == "cafe-b" and t["state"] == "open"]
    assert pages(w, "tech-o", "/api/v1/tickets?site=front") == []
    assert pages(w, "sub-s", "/api/v1/tickets?machine=B1") == want["sub-s"]
    status, doc = call(w, "sub-s", "GET", "/api/v1/tickets?machine=T1")
    assert status == 404, doc


def test_the_customers_export_holds_its_tickets(world):
    w, f = world, world["fleet"]
    status, t = call(w, "mgr-b", "POST", "/api/v1/tickets",
                     {"serial": "B1", "title": "Export me", "description": "Steam wand drips."})
    assert status == 201, t
    call(w, "tech-s", "POST", f"/api/v1/tickets/{t['id']}/comments", {"text": "Seal ordered."})
    doc = json.loads(f.cc("customer", "export", "cafe-b").stdout)
    b1 = next(m for m in doc["machines"] if m["serial"] == "B1")
    mine = [x for x in b1["tickets"] if x["id"] == t["id"]]
    assert len(mine) == 1 and mine[0]["title"] == "Export me" and mine[0]["description"] == "Steam wand drips."
    assert [h["what"] for h in mine[0]["history"]] == ["opened", "commented"]
    assert mine[0]["history"][1]["text"] == "Seal ordered."
    # Another customer's tickets are not in it.
    assert all(x["customer"] == "cafe-b" for m in doc["machines"] for x in m["tickets"])
    assert "Export me" not in f.cc("customer", "export", "cafe-a").stdout


def test_a_closed_ticket_ages_out(world):
    """retention_tickets_days (30 here) counts from the close; cafe-a agreed 20: its ticket
    closed 25 days ago goes with its history (audited under its customer), an open one of
    the same age stays, and cafe-b's ticket closed as long ago is within the installation's."""
    w, f = world, world["fleet"]
    f.cc("retention", "set", "--customer", "cafe-a", "--kind", "tickets", "--days", "20")
    shown = f.ccj("retention", "show", "--customer", "cafe-a")
    assert shown["customers"][0]["effective"]["tickets"] == 20, shown
    status, other = call(w, "mgr-b", "POST", "/api/v1/tickets", {"serial": "B1", "title": "Within 30 days"})
    assert status == 201
    assert call(w, "tech-s", "POST", f"/api/v1/tickets/{other['id']}/assign", {"login": "tech-s"})[0] == 200
    assert call(w, "tech-s", "POST", f"/api/v1/tickets/{other['id']}/close", {"report": {"work": "Done."}})[0] == 200
    # O1 comes after B1 in a sweep: once its 31-day-old ticket is gone, B1's was judged.
    status, last = call(w, "tech-o", "POST", "/api/v1/tickets", {"serial": "O1", "title": "Long done"})
    assert call(w, "tech-o", "POST", f"/api/v1/tickets/{last['id']}/assign", {"login": "tech-o"})[0] == 200
    assert call(w, "tech-o", "POST", f"/api/v1/tickets/{last['id']}/close", {"report": {"work": "Done."}})[0] == 200
    status, closed = call(w, "staff-a", "POST", "/api/v1/tickets", {"serial": "T1", "title": "Old and done"})
    assert status == 201
    tid = closed["id"]
    assert call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/assign", {"login": "tech-s"})[0] == 200
    assert call(w, "tech-s", "POST", f"/api/v1/tickets/{tid}/close", {"report": {"work": "Done."}})[0] == 200
    status, kept = call(w, "staff-a", "POST", "/api/v1/tickets", {"serial": "T1", "title": "Old and open"})
    assert status == 201
    month = 25 * 86400 * 1000
    with storeview.open_store(f.data, write=True) as db:
        for aged in (tid, other["id"]):
            assert db.execute("UPDATE tickets SET opened_ms = opened_ms - ?, closed_ms = closed_ms - ? WHERE id = ?",
                              (month, month, aged)) == 1
        assert db.execute("UPDATE tickets SET opened_ms = opened_ms - ? WHERE id = ?", (month, kept["id"])) == 1
        assert db.execute("UPDATE tickets SET closed_ms = closed_ms - ? WHERE id = ?", (month + 6 * 86400000,
                                                                                      last["id"])) == 1
        assert db.count("ticket_events", "ticket_id = ?", (tid,)) == 3
    ccdaemon.poll_until(lambda: call(w, "staff-a", "GET", f"/api/v1/tickets/{tid}")[0] == 404 and
                        call(w, "tech-o", "GET", f"/api/v1/tickets/{last['id']}")[0] == 404, "the old tickets to go")
    assert call(w, "staff-a", "GET", f"/api/v1/tickets/{kept['id']}")[0] == 200
    assert call(w, "mgr-b", "GET", f"/api/v1/tickets/{other['id']}")[0] == 200
    with storeview.open_store(f.data) as db:
        assert db.count("ticket_events", "ticket_id = ?", (tid,)) == 0
        customer = db.scalar("SELECT id FROM orgs WHERE name = 'cafe-a'")
        cafe_o = db.scalar("SELECT id FROM orgs WHERE name = 'cafe-o'")
        audit = db.rows("SELECT source, customer_id FROM audit WHERE action = 'retention.tickets.delete' "
                        "ORDER BY customer_id")
    assert [(src.split(" older than ")[0], cid) for src, cid in audit] == \
        sorted([("deleted 1", customer), ("deleted 1", cafe_o)], key=lambda x: x[1]), audit
    # The policy says how long tickets (and diagnostics bundles) are kept, in its words too.
    admin = w["api"].login("admin", ccdaemon.PASSWORD)
    status, pol, _ = w["api"].call("GET", "/api/v1/policy/draft?lang=en", token=admin)
    if status == 404:  # the version in force states these facts already
        status, pol, _ = w["api"].call("GET", "/policy?lang=en")
    assert status == 200 and "facts" in pol, pol
    assert {r["record"]: r["days"] for r in pol["facts"]["retention"]} == \
        {"telemetry": 0, "rollups": 0, "events": 0, "reports": 0, "tickets": 30, "diagnostics": 30, "audit": -1}
    text = " ".join(next(c for c in pol["clauses"] if c["id"] == "retention")["facts"])
    assert "service tickets and their history" in text and "30 days" in text, text
