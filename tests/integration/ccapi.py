"""A client of the HTTPS API for the integration tests: Python's own TLS and
HTTP stack, verifying the daemon against the fleet CA, and a TOTP
authenticator written from RFC 6238 (independent of the daemon's C code)."""
import base64
import hashlib
import hmac
import http.client
import json
import ssl
import struct
import time
import urllib.parse


class Api:
    def __init__(self, port, ca, source=None, ctx=None):
        self.port = port
        self.source = source  # a loopback address to connect from (127/8), or None
        if ctx is None:
            ctx = ssl.create_default_context(cafile=str(ca))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx = ctx

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        c = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=30,
                                        source_address=(self.source, 0) if self.source else None)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        resp = c.getresponse()
        payload = resp.read()
        c.close()
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            doc = None
        return resp.status, doc, resp

    def login(self, login, password, totp=None):
        body = {"login": login, "password": password}
        if totp is not None:
            body["totp"] = totp
        status, doc, _ = self.call("POST", "/api/v1/auth/login", body)
        assert status == 200, (status, doc)
        return doc["token"]

    def from_source(self, source):
        """The same API, connecting from another loopback address."""
        return Api(self.port, None, source, ctx=self.ctx)


def totp_secret(uri):
    """The secret of an otpauth:// URI, as bytes."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    b32 = query["secret"][0]
    return base64.b32decode(b32 + "=" * (-len(b32) % 8))


def totp_code(secret, step_offset=0, now=None):
    """RFC 6238: HMAC-SHA1 over the 30-second step, 6 digits."""
    step = int((time.time() if now is None else now) // 30) + step_offset
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % value
