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
        errors = sorted(jsonschema.Draft7Validator(schema, resolver=self.resolver).iter_errors(body),
                        key=lambda e: list(e.path))
        return [f"{method} {path} {status}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message[:200]}"
                for e in errors[:3]]
