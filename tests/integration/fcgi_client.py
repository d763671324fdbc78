"""A FastCGI client for tests that talk to owmcollect-fcgi without nginx.

nginx refuses much of what the program must still handle well on its
own (a garbage Content-Length, say) and answers a HEAD itself from its
cache, so some tests need the program's own answer.  One request per
connection, as nginx sends them (no keep-conn).

    status, headers, body = fcgi_request(sock_path, "GET", "/get", "id=x")
"""
import socket
import struct

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1
REQ_ID = 1


def _record(kind, content=b""):
    return struct.pack(">BBHHBx", VERSION, kind, REQ_ID, len(content), 0) + content


def _length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode() if isinstance(v, str) else v
        out += _length(len(k)) + _length(len(v)) + k + v
    return out


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            raise ConnectionError("FastCGI connection closed after %d of %d bytes" % (len(buf), n))
        buf += data
    return buf


def fcgi_request(sock_path, method, path, query="", body=b"", headers=None,
                 content_length=None, timeout=30):
    """(status, {lower-case header: value}, body bytes) of one request.
    content_length: the CONTENT_LENGTH param as sent (default: the body's
    length when there is a body); headers: extra params (HTTP_* etc.)."""
    params = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "QUERY_STRING": query,
              "REQUEST_URI": path + ("?" + query if query else ""),
              "SERVER_PROTOCOL": "HTTP/1.1"}
    if content_length is None and body:
        content_length = str(len(body))
    if content_length is not None:
        params["CONTENT_LENGTH"] = content_length
    params.update(headers or {})
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        msg = _record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0))
        p = _params(params)
        for i in range(0, len(p), 65535):
            msg += _record(PARAMS, p[i:i + 65535])
        msg += _record(PARAMS)
        for i in range(0, len(body), 65535):
            msg += _record(STDIN, body[i:i + 65535])
        msg += _record(STDIN)
        s.sendall(msg)
        out = b""
        while True:
            _, kind, _, clen, plen = struct.unpack(">BBHHBx", _recv_exact(s, 8))
            content = _recv_exact(s, clen)
            _recv_exact(s, plen)
            if kind == STDOUT:
                out += content
            elif kind == END_REQUEST:
                break
    head, _, rest = out.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.pop("status", "200").split()[0])
    return status, hdrs, rest
