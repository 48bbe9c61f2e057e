"""The served OpenAPI document is a contract: valid for a
maintained validator (@apidevtools/swagger-parser, pinned in
tests/openapi/package-lock.json), and it says of each operation what the
dispatcher enforces."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ccdaemon  # noqa: E402
from ccapi import Api  # noqa: E402

CHECKER = Path(__file__).resolve().parents[1] / "openapi"


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    f = ccdaemon.Fleet.create(root, machines=("O1",), customer="cafe-o")
    port = ccdaemon.free_port()
    d = ccdaemon.Daemon(f, settings={"https_listen": f"127.0.0.1:{port}"})
    d.start()
    try:
        status, doc, _ = Api(port, f.data / "ca.crt").call("GET", "/api/v1/openapi.json")
    finally:
        d.stop()
    assert status == 200
    path = root / "openapi.json"
    path.write_text(json.dumps(doc))
    return doc, path


def test_the_document_validates(document):
    doc, path = document
    assert (CHECKER / "node_modules").is_dir(), "run scripts/install-deps (npm ci in tests/openapi)"
    p = subprocess.run(["node", str(CHECKER / "validate.mjs"), str(path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout
    assert "valid: CoffeeCloud API" in p.stdout


def test_the_validator_refuses_what_was_served_before(document, tmp_path):
    """The check can fail: the document as it was before this change (no
    responses, undeclared path parameters) is refused."""
    doc, _ = document
    old = json.loads(json.dumps(doc))
    for ops in old["paths"].values():
        for op in ops.values():
            op.pop("responses")
            op.pop("parameters", None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    p = subprocess.run(["node", str(CHECKER / "validate.mjs"), str(path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1 and "invalid" in p.stderr


def test_every_operation_says_what_is_enforced(document):
    doc, _ = document
    ids = set()
    for path, ops in doc["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, op in ops.items():
            assert [p["name"] for p in op.get("parameters", [])] == names, (method, path)
            assert op["operationId"] not in ids
            ids.add(op["operationId"])
            assert op["x-access"] in ("open", "signed-in", "person", "data-class", "grant-managers", "admins",
                                      "platform-admins")
            assert (op["security"] == []) == (op["x-access"] == "open"), (method, path)
            if method in ("post",) and "requestBody" not in op:
                # A POST without a body: only sign-out, asking for one's account's deletion,
                # cancelling a job, (de)activation, a webhook's secret rotation and test, and
                # acknowledging or resolving an alert, revoking a release key, asking a machine
                # for a diagnostics bundle, pausing, resuming or aborting a rollout; an
                # artifact's or a bundle's slice is raw bytes, not JSON.
                assert path in ("/api/v1/auth/logout", "/api/v1/me/deletion", "/api/v1/jobs/{id}/cancel",
                                "/api/v1/orgs/{id}/deactivate", "/api/v1/orgs/{id}/activate",
                                "/api/v1/users/{login}/deactivate", "/api/v1/users/{login}/activate",
                                "/api/v1/webhooks/{id}/rotate-secret", "/api/v1/webhooks/{id}/test",
                                "/api/v1/webhooks/{id}/enable",
                                "/api/v1/alerts/{id}/acknowledge", "/api/v1/alerts/{id}/resolve",
                                "/api/v1/release-keys/{id}/revoke",
                                "/api/v1/artifacts/{sha256}/content",
                                "/api/v1/machines/{serial}/diagnostics",
                                "/api/v1/machine/diagnostics/{id}", "/api/v1/rollouts/{id}/pause",
                                "/api/v1/rollouts/{id}/resume", "/api/v1/rollouts/{id}/abort"), path
            if "requestBody" in op:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                assert schema["additionalProperties"] is False and schema["properties"]
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}


def test_every_operation_has_its_schemas(document):
    """Each operation names its success status with the schema of its answer,
    and types every body field the dispatcher takes (share/api/schemas.json,
    compiled in: the daemon refuses to serve a document missing one). The
    file holds nothing for routes that are not served."""
    doc, _ = document
    served = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            served.add(f"{method.upper()} {path}")
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1 and ok[0] != "2XX", (method, path, ok)
            if path in ("/api/v1/machine/artifacts/{sha256}", "/api/v1/diagnostics/{id}/content"):
                # An update artifact, a diagnostics bundle: bytes (the only answers that are not JSON).
                assert op["responses"][ok[0]]["content"]["application/octet-stream"]["schema"] == \
                    {"type": "string", "format": "binary"}
                continue
            schema = op["responses"][ok[0]]["content"]["application/json"]["schema"]
            assert schema.get("type") == "object" or "$ref" in schema, (method, path)
            assert "$ref" in op["responses"]["default"]["content"]["application/json"]["schema"]
            if "requestBody" in op:
                body = op["requestBody"]["content"]["application/json"]["schema"]
                assert all("type" in p for p in body["properties"].values()), (method, path)
                assert set(body.get("required", [])) <= set(body["properties"]), (method, path)
    source = Path(__file__).resolve().parents[2] / "share" / "api" / "schemas.json"
    written = set(json.loads(source.read_text())["operations"])
    assert written == served, (sorted(written - served), sorted(served - written))


def test_the_contract_check_can_fail(document):
    """The check every answer of the authorization matrix goes through
    (oas.Contract) refuses an answer of the wrong shape and an undeclared
    status, and takes a right one."""
    from oas import Contract
    doc, _ = document
    c = Contract(doc)
    assert c.check("GET", "/api/v1/policy/versions", 200,
                   {"versions": [{"version": 1, "last_updated": "2026-11-28", "purposes": ["support"],
                                  "languages": ["en"]}]}) == []
    assert c.check("GET", "/api/v1/policy/versions", 200, {"versions": [{"version": "1"}]})
    assert c.check("GET", "/api/v1/policy/versions", 200, {"nothing": []})
    assert c.check("GET", "/api/v1/policy/versions", 201, {"versions": []})
    assert c.check("GET", "/api/v1/me", 401, {"error": {"code": "unauthorized", "message": "sign in"}}) == []
    assert c.check("GET", "/api/v1/me", 401, {"message": "sign in"})
