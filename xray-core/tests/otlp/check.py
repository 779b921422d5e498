"""Checks what xray-core sends as OTLP against the official definitions and a reference encoder.

    check.py compare DIR   DIR holds the datagrams or HTTP bodies the Rust test captured
                           (`*.udp` / `*.http`) and `expected.json`, the spans the test recorded,
                           described by hand. Every datagram is framed and sized as required,
                           every payload decodes with opentelemetry-proto, and every span equals,
                           field by field, what the OpenTelemetry Python SDK's encoder produces
                           for the expected span.
    check.py spans DIR     decodes the captured payloads as `compare` does (`expected.json` may
                           give only `prefix`) and prints their spans as a JSON list of
                           {trace_id, span_id, parent_span_id, name}, for spans whose times are
                           not known in advance.
    check.py serve DIR N   an OTLP/HTTP receiver on 127.0.0.1 (port printed on stdout) that
                           decodes each POST /v1/traces with the same definitions, answers 200
                           (400 when it does not decode) and stores the body; exits after N
                           requests or 20 seconds.
"""

import base64
import gzip
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

HEADER = b'{"format":"json","version":1}\n'


def fail(msg):
    print("check.py:", msg, file=sys.stderr)
    sys.exit(1)


def value(v):
    if isinstance(v, list):
        return tuple(v)
    return v


def reference_request(expected):
    resource = Resource(expected["resource"])
    scope = InstrumentationScope(expected["scope"]["name"], expected["scope"]["version"])
    spans = []
    for s in expected["spans"]:
        trace_id = int(s["trace_id"], 16)
        ctx = SpanContext(trace_id, int(s["span_id"], 16), is_remote=False,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
        parent = None
        if s.get("parent_id"):
            parent = SpanContext(trace_id, int(s["parent_id"], 16), is_remote=s["parent_remote"])
        status = Status(StatusCode.UNSET)
        if s.get("status"):
            status = Status(StatusCode.ERROR, s["status"].get("message") or None)
        events = [Event(e["name"], {k: value(v) for k, v in e["attributes"].items()},
                        timestamp=e["time"]) for e in s.get("events", [])]
        spans.append(ReadableSpan(
            name=s["name"], context=ctx, parent=parent, resource=resource,
            attributes={k: value(v) for k, v in s["attributes"].items()},
            events=events, kind=SpanKind[s["kind"]], status=status,
            start_time=s["start"], end_time=s["end"], instrumentation_scope=scope))
    return encode_spans(spans)


def normal(message):
    """A message as a dict with attribute lists in key order (the SDK keeps insertion order)."""
    d = MessageToDict(message)

    def sort(obj):
        if isinstance(obj, dict):
            out = {k: sort(v) for k, v in obj.items()}
            if isinstance(out.get("attributes"), list):
                out["attributes"] = sorted(out["attributes"], key=lambda a: a["key"])
            return out
        if isinstance(obj, list):
            return [sort(v) for v in obj]
        return obj

    return sort(d)


def decode_payloads(directory, expected):
    limit = expected.get("datagram_limit", 0)
    prefix = expected.get("prefix", "T1S").encode()
    requests = []
    for name in sorted(os.listdir(directory)):
        raw = open(os.path.join(directory, name), "rb").read()
        if name.endswith(".udp"):
            if limit and len(raw) > limit:
                fail(f"{name}: {len(raw)} bytes, over the limit of {limit}")
            if not raw.startswith(HEADER):
                fail(f"{name}: no header line")
            body = raw[len(HEADER):]
            if body[:3] != prefix:
                fail(f"{name}: prefix {body[:3]!r}, expected {prefix!r}")
            payload = base64.b64decode(body[3:], validate=True)
        elif name.endswith(".http"):
            payload = raw
        else:
            continue
        req = ExportTraceServiceRequest()
        req.ParseFromString(payload)
        requests.append(req)
    if not requests:
        fail("no payloads captured")
    if len(requests) != expected.get("requests", len(requests)):
        fail(f"{len(requests)} requests, expected {expected['requests']}")
    return requests


def compare(directory):
    expected = json.load(open(os.path.join(directory, "expected.json")))
    requests = decode_payloads(directory, expected)
    ref = reference_request(expected)
    if len(ref.resource_spans) != 1 or len(ref.resource_spans[0].scope_spans) != 1:
        fail("reference encoder grouped spans unexpectedly")
    ref_rs = ref.resource_spans[0]
    ref_spans = {s.span_id.hex(): s for s in ref_rs.scope_spans[0].spans}
    got = {}
    for req in requests:
        for rs in req.resource_spans:
            if normal(rs.resource) != normal(ref_rs.resource):
                fail(f"resource differs:\n got {normal(rs.resource)}\nwant {normal(ref_rs.resource)}")
            for ss in rs.scope_spans:
                if normal(ss.scope) != normal(ref_rs.scope_spans[0].scope):
                    fail(f"scope differs: {normal(ss.scope)}")
                for s in ss.spans:
                    key = s.span_id.hex()
                    if key in got:
                        fail(f"span {key} sent twice")
                    got[key] = s
    if set(got) != set(ref_spans):
        fail(f"span ids differ: missing {sorted(set(ref_spans) - set(got))}, "
             f"unexpected {sorted(set(got) - set(ref_spans))}")
    for key, want in ref_spans.items():
        a, b = normal(got[key]), normal(want)
        if a != b:
            for field in sorted(set(a) | set(b)):
                if a.get(field) != b.get(field):
                    print(f"span {key} field {field}:\n  got  {a.get(field)}\n  want {b.get(field)}",
                          file=sys.stderr)
            fail(f"span {key} ({want.name}) differs from the reference encoder's")
    print(f"check.py: {len(requests)} requests, {len(got)} spans match the reference")


def spans(directory):
    expected = json.load(open(os.path.join(directory, "expected.json")))
    out = []
    for req in decode_payloads(directory, expected):
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append({"trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                "parent_span_id": s.parent_span_id.hex(), "name": s.name})
    print(json.dumps(out))


def serve(directory, count):
    received = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A kept-alive connection must not hold the receiver past the test.
        timeout = 5

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = self.path == "/v1/traces" and \
                self.headers.get("Content-Type") == "application/x-protobuf"
            encoding = self.headers.get("Content-Encoding")
            try:
                # As a collector does: gunzip a gzip body (the stdlib's RFC 1952 reader),
                # refuse any other encoding; what is kept is the decoded protobuf.
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding is not None:
                    raise ValueError(f"unsupported Content-Encoding {encoding}")
                ExportTraceServiceRequest().ParseFromString(body)
            except Exception:  # noqa: BLE001 - any decode error is a 400
                ok = False
            if ok:
                with open(os.path.join(directory, f"r{len(received):03}.http"), "wb") as f:
                    f.write(body)
                with open(os.path.join(directory, f"r{len(received):03}.headers"), "w") as f:
                    f.write(str(self.headers))
                received.append(body)
            answer = b"" if ok else b"bad request"
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            if len(received) >= count:
                done.set()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    done.wait(20)
    # The serving thread may sit in a kept-alive connection; it is a daemon thread and ends
    # with the process.
    sys.exit(0 if done.is_set() else 1)


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(sys.argv[2])
    elif sys.argv[1] == "spans":
        spans(sys.argv[2])
    elif sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        fail(f"unknown command {sys.argv[1]}")
