"""Every CLI operation has its API twin, or a stated reason why it is the
host operator's alone: the table below names, for each command of
`coffeecloud --help`, the operations of the served OpenAPI document that do
the same for a person or a partner system. A command added without an entry,
an entry for a command that is gone, or a twin the daemon does not serve
fails here."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402

#: The host operator's own: why there is no API for it.
OPERATOR = {
    "init": "creates the data directory, its keys and CA, before any daemon or API exists",
    "key generate": "the master key never travels over the API",
    "key rotate-master": "the master key never travels over the API",
    "ca server-cert": "certificates for the operator's own listeners, files on the host",
    "ca rotate-server": "the installation's own listener key, in the keyring on the host",
    "machine cert-validity": "the installation's default, like the daemon's configuration (per request: "
                             "validity_days of POST /api/v1/machines)",
    "audit verify": "checks the database file's chain and keyed checkpoint on the host (audit list is the API's)",
    "backup": "copies the data directory's files on the host (the keyring among them): never over the network",
    "restore": "makes a new data directory on the host from a backup and the master key, before any daemon serves it",
    "release keygen": "the release key is made and kept offline: it never lives on the server (docs/UPDATES.md)",
    "release sign": "signing happens where the release key is, offline, with no data directory",
}

TWINS = {
    "org add": ["POST /api/v1/orgs"],
    "org list": ["GET /api/v1/orgs"],
    "org deactivate": ["POST /api/v1/orgs/{id}/deactivate"],
    "org activate": ["POST /api/v1/orgs/{id}/activate"],
    "site add": ["POST /api/v1/sites"],
    "site update": ["POST /api/v1/sites/{id}"],
    "site list": ["GET /api/v1/sites"],
    "group add": ["POST /api/v1/groups"],
    "group add-machine": ["POST /api/v1/groups/{id}/machines"],
    "group remove-machine": ["DELETE /api/v1/groups/{id}/machines/{serial}"],
    "group show": ["GET /api/v1/groups/{id}/machines"],
    "group list": ["GET /api/v1/groups"],
    "machine add": ["POST /api/v1/machines"],
    "machine revoke": ["POST /api/v1/machines/{serial}/decommission"],
    "machine move": ["POST /api/v1/machines/{serial}/move"],
    "machine search": ["GET /api/v1/machines"],
    "machine decommission": ["POST /api/v1/machines/{serial}/decommission"],
    "machine list": ["GET /api/v1/machines"],
    "machine status": ["GET /api/v1/machines/{serial}", "GET /api/v1/machines"],
    "machine command": ["POST /api/v1/jobs"],
    "machine commands": ["GET /api/v1/jobs", "GET /api/v1/machines/{serial}/timeline"],
    "machine show": ["GET /api/v1/machines/{serial}"],
    "machine import": ["POST /api/v1/machines/batch"],
    "machine renew": ["POST /api/v1/machines/{serial}/certificate"],
    "machine certs": ["GET /api/v1/certificates/audit"],
    "job create": ["POST /api/v1/jobs"],
    "job list": ["GET /api/v1/jobs"],
    "job show": ["GET /api/v1/jobs/{id}"],
    "job cancel": ["POST /api/v1/jobs/{id}/cancel"],
    "alert list": ["GET /api/v1/alerts"],
    "alert show": ["GET /api/v1/alerts/{id}"],
    "alert ack": ["POST /api/v1/alerts/{id}/acknowledge"],
    "alert resolve": ["POST /api/v1/alerts/{id}/resolve"],
    "alert comment": ["POST /api/v1/alerts/{id}/comment"],
    "ticket open": ["POST /api/v1/tickets"],
    "ticket list": ["GET /api/v1/tickets"],
    "ticket show": ["GET /api/v1/tickets/{id}"],
    "ticket comment": ["POST /api/v1/tickets/{id}/comments"],
    "ticket assign": ["POST /api/v1/tickets/{id}/assign"],
    "ticket state": ["POST /api/v1/tickets/{id}/state"],
    "ticket close": ["POST /api/v1/tickets/{id}/close"],
    "alert-rule list": ["GET /api/v1/alert-rules"],
    "alert-rule set": ["POST /api/v1/alert-rules"],
    "customer delete": ["DELETE /api/v1/customers/{id}"],
    "customer export": ["GET /api/v1/customers/{id}/export"],
    "user add": ["POST /api/v1/users"],
    "user passwd": ["POST /api/v1/users/{login}/password", "POST /api/v1/me/password"],
    "user list": ["GET /api/v1/users"],
    "user delete": ["DELETE /api/v1/users/{login}"],
    "user deactivate": ["POST /api/v1/users/{login}/deactivate"],
    "user activate": ["POST /api/v1/users/{login}/activate"],
    "user notifications": ["GET /api/v1/me/notifications", "POST /api/v1/me/notifications"],
    "grant add": ["POST /api/v1/grants"],
    "grant list": ["GET /api/v1/grants"],
    "grant revoke": ["DELETE /api/v1/grants/{id}"],
    "token add": ["POST /api/v1/tokens"],
    "token list": ["GET /api/v1/tokens"],
    "token revoke": ["DELETE /api/v1/tokens/{id}"],
    "policy show": ["GET /policy", "GET /api/v1/policy/versions"],
    "policy draft": ["GET /api/v1/policy/draft"],
    "policy publish": ["POST /api/v1/policy/versions"],
    "policy prose": ["POST /api/v1/policy/draft/prose"],
    "policy controller": ["POST /api/v1/policy/controller"],
    "consent record": ["POST /api/v1/consents"],
    "telemetry get": ["GET /api/v1/machines/{serial}/telemetry"],
    "events get": ["GET /api/v1/machines/{serial}/events"],
    "audit list": ["GET /api/v1/audit"],
    "report availability": ["GET /api/v1/availability"],
    "report health": ["GET /api/v1/health-scores"],
    "report compliance": ["GET /api/v1/compliance"],
    "report haccp": ["GET /api/v1/haccp/cleaning-report"],
    "report beverages": ["GET /api/v1/beverages"],
    "report forecasts": ["GET /api/v1/forecasts"],
    "quality-rule list": ["GET /api/v1/quality/rulesets"],
    "quality-rule show": ["GET /api/v1/quality/rulesets/{model}"],
    "quality-rule upload": ["POST /api/v1/quality/rulesets"],
    "retention show": ["GET /api/v1/retention"],
    "retention set": ["POST /api/v1/retention"],
    "release-key add": ["POST /api/v1/release-keys"],
    "release-key revoke": ["POST /api/v1/release-keys/{id}/revoke"],
    "release-key list": ["GET /api/v1/release-keys"],
    "artifact add": ["POST /api/v1/artifacts", "POST /api/v1/artifacts/{sha256}/content"],
    "artifact list": ["GET /api/v1/artifacts"],
    "artifact show": ["GET /api/v1/artifacts/{sha256}"],
    "artifact offer": ["POST /api/v1/artifacts/{sha256}/offers"],
    "artifact status": ["GET /api/v1/machines/{serial}/update"],
    "diagnostics request": ["POST /api/v1/machines/{serial}/diagnostics"],
    "diagnostics list": ["GET /api/v1/machines/{serial}/diagnostics", "GET /api/v1/diagnostics"],
    "diagnostics show": ["GET /api/v1/diagnostics/{id}"],
    "diagnostics download": ["GET /api/v1/diagnostics/{id}/content"],
    "config show": ["GET /api/v1/machines/{serial}/config"],
    "config set": ["POST /api/v1/machines/{serial}/config"],
    "config history": ["GET /api/v1/machines/{serial}/config/history"],
    "config effective": ["GET /api/v1/machines/{serial}/config/effective"],
    "config templates": ["GET /api/v1/config/templates"],
    "config template-set": ["POST /api/v1/config/templates"],
    "config limits-set": ["POST /api/v1/config/limits"],
    "rollout create": ["POST /api/v1/rollouts"],
    "rollout list": ["GET /api/v1/rollouts"],
    "rollout show": ["GET /api/v1/rollouts/{id}"],
    "rollout pause": ["POST /api/v1/rollouts/{id}/pause"],
    "rollout resume": ["POST /api/v1/rollouts/{id}/resume"],
    "rollout abort": ["POST /api/v1/rollouts/{id}/abort"],
    "maintenance start": ["POST /api/v1/machines/{serial}/maintenance"],
    "maintenance end": ["DELETE /api/v1/machines/{serial}/maintenance"],
    "webhook add": ["POST /api/v1/webhooks"],
    "webhook list": ["GET /api/v1/webhooks"],
    "webhook remove": ["DELETE /api/v1/webhooks/{id}"],
    "webhook rotate": ["POST /api/v1/webhooks/{id}/rotate-secret"],
    "webhook enable": ["POST /api/v1/webhooks/{id}/enable"],
    "webhook deliveries": ["GET /api/v1/webhooks/{id}/deliveries"],
    "notify test": ["POST /api/v1/webhooks/{id}/test"],
}


def cli_commands():
    """`noun verb` of every command `coffeecloud --help` lists (init has no verb)."""
    out = ccdaemon.run_cli("--help").stdout
    commands = []
    for line in out.splitlines()[3:]:
        if not line.startswith("  ") or line.strip() == "":
            break
        noun, verb = line[2:14].strip(), line[15:31].strip()
        commands.append(f"{noun} {verb}" if verb else noun)
    return commands


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    f = ccdaemon.Fleet.create(tmp_path_factory.mktemp("twins"), machines=())
    port = ccdaemon.free_port()
    with ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"}):
        status, doc, _ = Api(port, f.data / "ca.crt").call("GET", "/api/v1/openapi.json")
    assert status == 200
    return {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}


def test_every_cli_command_is_in_the_table():
    commands = cli_commands()
    assert len(commands) > 50 and "init" in commands and "job create" in commands, commands
    missing = [c for c in commands if c not in TWINS and c not in OPERATOR]
    assert not missing, f"CLI commands with neither an API twin nor a reason in test_twins.py: {missing}"
    stale = [c for c in sorted(set(TWINS) | set(OPERATOR)) if c not in commands]
    assert not stale, f"entries for commands the CLI no longer has: {stale}"
    assert not set(TWINS) & set(OPERATOR)


def test_every_twin_is_served(served):
    unserved = sorted({op for ops in TWINS.values() for op in ops} - served)
    assert not unserved, f"API twins the daemon does not serve: {unserved}"
