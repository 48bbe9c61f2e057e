"""The served OpenAPI document as a contract a test can hold an answer to:
Contract(doc).check(method, path template, status, body) lists how the
answer differs from what the document says of that operation (empty: it
matches). OpenAPI 3.0 schemas are JSON Schema with `nullable`; they are
read with Debian's python3-jsonschema."""
import copy

import jsonschema


def _json_schema(node):
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a null type."""
    if isinstance(node, list):
        return [_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    return out


class Contract:
    def __init__(self, doc):
        self.doc = _json_schema(copy.deepcopy(doc))
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.validators = {}

    def operation(self, method, path):
        return self.doc["paths"].get(path, {}).get(method.lower())

    def check(self, method, path, status, body):
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path} is not in the document"]
        responses = op["responses"]
        declared = responses.get(str(status)) or (responses.get("default") if not 200 <= status < 300 else None)
        if declared is None:
            return [f"{method} {path} answered {status}, which the document does not declare"]
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        if body is None:
            return [f"{method} {path} {status}: the body is not JSON"]
        key = (method, path, status)
        if key not in self.validators:  # one validator per answer kind: thousands of calls check against it
            self.validators[key] = jsonschema.Draft7Validator(schema, resolver=self.resolver)
        errors = sorted(self.validators[key].iter_errors(body), key=lambda e: list(e.path))
        return [f"{method} {path} {status}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message[:200]}"
                for e in errors[:3]]

    def template(self, method, concrete):
        """The document's path template a concrete path (query dropped) matches."""
        path = concrete.split("?", 1)[0]
        parts = path.strip("/").split("/")
        for template, item in self.doc["paths"].items():
            t = template.strip("/").split("/")
            if method.lower() in item and len(t) == len(parts) and all(
                    a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(t, parts)):
                return template
        return None


def checked(api):
    """Makes every answer api.call gets from now on pass the contract of the
    document the daemon serves: an AssertionError names the difference."""
    status, doc, _ = api.call("GET", "/api/v1/openapi.json")
    assert status == 200, doc
    contract = Contract(doc)
    plain = api.call

    def call(method, path, *args, **kw):
        status, body, resp = plain(method, path, *args, **kw)
        template = contract.template(method, path)
        if template is not None and resp.getheader("Content-Type", "").startswith("application/json"):
            problems = contract.check(method, template, status, body)
            assert not problems, problems
        return status, body, resp
    api.call = call
    return api
