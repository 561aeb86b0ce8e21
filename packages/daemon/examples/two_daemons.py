#!/usr/bin/env python3
"""Connects two running p2pd daemons and exchanges data through them, standard library only.

usage: two_daemons.py URL_A TOKEN_FILE_A URL_B TOKEN_FILE_B
   or: P2PD_A_URL=… P2PD_A_TOKEN_FILE=… P2PD_B_URL=… P2PD_B_TOKEN_FILE=… two_daemons.py

Daemon B must run with --listen (it hands out the pipe A opens to it). A connects to B's
address, each sends the other random bytes (A raw, B as JSON base64), each reads by long-poll
until everything arrived, both check what they got, then close their pipes. Exits 0 when every
byte matched, 1 otherwise.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request


class Daemon:
    """A p2pd daemon's REST API: every request carries the bearer token."""

    def __init__(self, url, token_file):
        self.url = url.rstrip("/")
        with open(token_file, encoding="utf-8") as f:
            self.token = f.read().strip()

    def call(self, method, path, body=None, content_type=None, token=True, timeout=60):
        """Returns (status, bytes, parsed JSON or None); HTTP errors are answers too."""
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                status, raw, ctype = res.status, res.read(), res.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
        parsed = json.loads(raw) if ctype.startswith("application/json") else None
        return status, raw, parsed

    def ok(self, method, path, body=None, content_type=None):
        status, raw, parsed = self.call(method, path, body, content_type)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {raw[:200]!r}")
        return parsed if parsed is not None else raw

    def recv_exactly(self, pipe, n):
        """Long-polls until n bytes arrived (204 = nothing yet, 410 = the peer finished)."""
        got = b""
        while len(got) < n:
            status, raw, _ = self.call("GET", f"/pipes/{pipe}/recv?timeoutMs=10000")
            if status == 204:
                continue
            if status != 200:
                raise RuntimeError(f"recv: {status} {raw[:200]!r} after {len(got)} bytes")
            got += raw
        return got


def main(argv):
    if len(argv) == 5:
        a_url, a_token, b_url, b_token = argv[1:5]
    else:
        env = os.environ
        try:
            a_url, a_token = env["P2PD_A_URL"], env["P2PD_A_TOKEN_FILE"]
            b_url, b_token = env["P2PD_B_URL"], env["P2PD_B_TOKEN_FILE"]
        except KeyError:
            print(__doc__, file=sys.stderr)
            return 2
    a, b = Daemon(a_url, a_token), Daemon(b_url, b_token)

    # Without the token the daemon answers 401.
    status, _, parsed = a.call("GET", "/status", token=False)
    assert status == 401 and parsed["error"]["code"] == "UNAUTHORIZED", (status, parsed)

    print("A:", a.ok("GET", "/status")["nodeId"])
    print("B:", b.ok("GET", "/status")["nodeId"])
    address = b.ok("GET", "/address")["address"]

    connected = a.ok("POST", "/connect", {"address": address})
    pipe_a = connected["pipe"]
    print(f"A → B connected via {connected['strategy']} in {connected['ms']} ms")
    status, raw, incoming = b.call("GET", "/incoming?timeoutMs=20000")
    assert status == 200, (status, raw)
    pipe_b = incoming["pipe"]
    assert incoming["peer"] == a.ok("GET", "/status")["nodeId"]

    to_b = os.urandom(200_000)
    to_a = os.urandom(50_000)
    assert a.ok("POST", f"/pipes/{pipe_a}/send", to_b, "application/octet-stream")["sent"] == len(to_b)
    sent = b.ok("POST", f"/pipes/{pipe_b}/send", {"data": base64.b64encode(to_a).decode()})
    assert sent["sent"] == len(to_a)

    got_b = b.recv_exactly(pipe_b, len(to_b))
    got_a = a.recv_exactly(pipe_a, len(to_a))
    if got_b != to_b or got_a != to_a:
        print("data mismatch", file=sys.stderr)
        return 1
    print(f"exchanged {len(to_b)} + {len(to_a)} bytes, verified")

    for d, pipe in ((a, pipe_a), (b, pipe_b)):
        status, raw, _ = d.call("DELETE", f"/pipes/{pipe}")
        assert status == 204, (status, raw)
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (AssertionError, RuntimeError, OSError) as err:
        print(f"two_daemons.py: failed: {err!r}", file=sys.stderr)
        sys.exit(1)
