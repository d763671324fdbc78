"""etc/openapi.yaml against the live stack: every documented status of every
operation is triggered and answered as documented (status, media type,
documented headers), and every JSON body holds each required field of its
schema with the right JSON type, recursively.  The table of triggers must
cover the document exactly, so a status documented without a test (or
tested without being documented) fails.  A status with several media types
(GET /get: JSON or CSV) needs a trigger for each; a header marked
x-media-type is checked on answers of that media type only.

401 needs a stack started with OWMCOLLECT_HTTP_TOKEN; 503 is a SIGSTOPped
MariaDB (SIGCONT in finally)."""
import json
import os
import signal
import sys
import unittest

try:
    import yaml
except ImportError:     # Debian's python3-yaml, for another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml

from harness import ROOT, Stack, wait_until

S = T = None
TOKEN = "openapi-test-token"
SPEC = None


def setUpModule():
    global S, T, SPEC
    with open(os.path.join(ROOT, "etc", "openapi.yaml")) as f:
        SPEC = yaml.safe_load(f)
    S = Stack().start()
    T = Stack(env={"OWMCOLLECT_HTTP_TOKEN": TOKEN}).start()


def tearDownModule():
    for s in (S, T):
        if s:
            s.stop()


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = SPEC
        for part in ref[2:].split("/"):
            node = node[part]
    return node


TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def check(test, schema, value, where):
    """value against an OpenAPI 3.0 schema: types, nullable, enum, required,
    properties, items, allOf, minimum/maximum."""
    schema = resolve(schema)
    for sub in schema.get("allOf", []):
        check(test, sub, value, where)
    if value is None:
        test.assertTrue(schema.get("nullable", False) or "type" not in schema and "allOf" not in schema,
                        "%s: null but not nullable" % where)
        return
    typ = schema.get("type")
    if typ:
        test.assertTrue(TYPES[typ](value), "%s: %r is not %s" % (where, value, typ))
    if "enum" in schema:
        test.assertIn(value, schema["enum"], where)
    if "minimum" in schema:
        test.assertGreaterEqual(value, schema["minimum"], where)
    if "maximum" in schema:
        test.assertLessEqual(value, schema["maximum"], where)
    if isinstance(value, dict):
        for k in schema.get("required", []):
            test.assertIn(k, value, "%s: required field %r missing" % (where, k))
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                check(test, sub, value[k], "%s.%s" % (where, k))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(test, schema["items"], item, "%s[%d]" % (where, i))


J = {"Content-Type": "application/json"}


def post(s, doc, headers=None):
    return s.post_collect(doc, headers)


def posted(s, ident):
    assert s.post_collect({"id": ident, "cities": [1]}).status == 202
    return ident


# (path, method, status) -> (stack name, trigger); "outage" ones run while
# MariaDB is stopped.
TRIGGERS = {
    ("/collect", "post", "202"): ("S", lambda s: post(s, {"id": "oa-202", "cities": [1, 2]})),
    ("/collect", "post", "400"): ("S", lambda s: post(s, b"{}")),
    ("/collect", "post", "401"): ("T", lambda s: post(s, {"id": "oa-401"})),
    ("/collect", "post", "409"): ("S", lambda s: post(s, {"id": posted(s, "oa-409")})),
    ("/collect", "post", "413"): ("S", lambda s: post(s, b'{"id":"' + b"a" * 70000 + b'"}')),
    ("/collect", "post", "415"): ("S", lambda s: s.request("POST", "/collect", '{"id":"x"}',
                                                            {"Content-Type": "text/plain"})),
    ("/collect", "post", "503"): ("outage", lambda s: post(s, {"id": "oa-503", "cities": [1]})),
    ("/collect", "get", "200"): ("S", lambda s: s.request("GET", "/collect?limit=2")),
    ("/collect", "get", "400"): ("S", lambda s: s.request("GET", "/collect?limit=0")),
    ("/collect", "get", "401"): ("T", lambda s: s.request("GET", "/collect?limit=2")),
    ("/collect", "get", "503"): ("outage", lambda s: s.request("GET", "/collect")),
    ("/collect", "delete", "200"): ("S", lambda s: s.request("DELETE", "/collect?id=" + posted(s, "oa-del"))),
    ("/collect", "delete", "400"): ("S", lambda s: s.request("DELETE", "/collect")),
    ("/collect", "delete", "401"): ("T", lambda s: s.request("DELETE", "/collect?id=x")),
    ("/collect", "delete", "404"): ("S", lambda s: s.request("DELETE", "/collect?id=oa-never")),
    ("/collect", "delete", "503"): ("outage", lambda s: s.request("DELETE", "/collect?id=oa-202")),
    ("/get", "get", "200", "application/json"): ("S", lambda s: s.get(posted(s, "oa-get"))),
    ("/get", "get", "200", "text/csv; charset=utf-8"): ("S", lambda s: s.request(
        "GET", "/get?format=csv&id=" + posted(s, "oa-get-csv"))),
    ("/get", "get", "400"): ("S", lambda s: s.request("GET", "/get")),
    ("/get", "get", "404"): ("S", lambda s: s.get("oa-never")),
    ("/get", "get", "503"): ("outage", lambda s: s.get("oa-202")),
    ("/health", "get", "200"): ("S", lambda s: wait_until(
        lambda: (lambda r: r if r.status == 200 else None)(s.request("GET", "/health")), 60, 0.2, "health")),
    ("/health", "get", "503"): ("outage", lambda s: s.request("GET", "/health")),
    ("/metrics", "get", "200"): ("S", lambda s: s.request("GET", "/metrics")),
    ("/metrics", "get", "503"): ("outage", lambda s: s.request("GET", "/metrics")),
    # 405 is one shared response (NotAllowed), listed on each operation
    # of a path: a method the path does not have.
    ("/collect", "post", "405"): ("S", lambda s: s.request("PUT", "/collect", "{}", J)),
    ("/collect", "get", "405"): ("S", lambda s: s.request("PATCH", "/collect", "{}", J)),
    ("/collect", "delete", "405"): ("S", lambda s: s.request("OPTIONS", "/collect?id=x")),
    ("/get", "get", "405"): ("S", lambda s: s.request("POST", "/get?id=x", "{}", J)),
    ("/health", "get", "405"): ("S", lambda s: s.request("POST", "/health", "{}", J)),
    ("/metrics", "get", "405"): ("S", lambda s: s.request("DELETE", "/metrics")),
}


def documented():
    """{(path, method, status): response}, or (path, method, status, media)
    for each media type of a response that has several."""
    out = {}
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                resp = resolve(resp)
                media = list(resp.get("content", {}))
                if len(media) > 1:
                    for m in media:
                        out[(path, method, str(status), m)] = resp
                else:
                    out[(path, method, str(status))] = resp
    return out


class OpenAPI(unittest.TestCase):
    def test_document_is_covered(self):
        self.assertEqual(SPEC["openapi"][:2], "3.")
        self.assertEqual(sorted(documented()), sorted(TRIGGERS))

    def conforms(self, key, r, resp):
        where = "%s %s -> %s%s" % (key[1].upper(), key[0], key[2], "".join(" (%s)" % m for m in key[3:]))
        self.assertEqual(str(r.status), key[2], "%s: got %d %s" % (where, r.status, r.body[:300]))
        ctype = r.headers.get("content-type", "")
        for h, spec in resp.get("headers", {}).items():
            only = spec.get("x-media-type")
            if only and not ctype.lower().startswith(only.lower()):
                self.assertNotIn(h.lower(), r.headers, "%s: header %s not for %s" % (where, h, ctype))
                continue
            self.assertIn(h.lower(), r.headers, "%s: header %s missing" % (where, h))
        content = resp.get("content", {})
        if not content:
            return
        media = [m for m in content if ctype.replace(" ", "").lower().startswith(m.split(";")[0].lower())]
        self.assertTrue(media, "%s: Content-Type %r not among %s" % (where, ctype, list(content)))
        m = media[0]
        if len(key) > 3:
            self.assertEqual(m, key[3], "%s: answered %r" % (where, ctype))
        if ";" in m:    # parameters (Prometheus' version, CSV's charset): exactly
            self.assertEqual(ctype.replace(" ", ""), m.replace(" ", ""), where)
        schema = content[m].get("schema", {})
        if m.startswith("application/json"):
            doc = json.loads(r.body.decode("utf-8"))
            check(self, schema, doc, where)
        else:
            check(self, schema, r.body.decode("utf-8"), where)
            self.assertTrue(r.body)

    def test_every_status_as_documented(self):
        docs = documented()
        stacks = {"S": S, "T": T}
        for key, (which, trigger) in sorted(TRIGGERS.items()):
            if which == "outage":
                continue
            with self.subTest(key):
                self.conforms(key, trigger(stacks[which]), docs[key])
        # The token stack accepts the right bearer, for the list too, and
        # serves a document without it.
        self.assertEqual(post(T, {"id": "oa-bearer", "cities": [1]},
                              {"Authorization": "Bearer " + TOKEN}).status, 202)
        r = T.request("GET", "/collect?limit=2", headers={"Authorization": "Bearer " + TOKEN})
        self.conforms(("/collect", "get", "200"), r, docs[("/collect", "get", "200")])
        r = T.get("oa-bearer")
        self.conforms(("/get", "get", "200", "application/json"), r,
                      docs[("/get", "get", "200", "application/json")])
        S.signal("mysqld", signal.SIGSTOP)
        try:
            for key, (which, trigger) in sorted(TRIGGERS.items()):
                if which == "outage":
                    with self.subTest(key):
                        self.conforms(key, trigger(S), docs[key])
        finally:
            S.signal("mysqld", signal.SIGCONT)
        wait_until(lambda: S.request("GET", "/get?id=oa-202").status == 200, 60, 0.2, "recovery")


if __name__ == "__main__":
    unittest.main()
