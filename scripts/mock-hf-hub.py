#!/usr/bin/env python3
"""A local stand-in for the Hugging Face Hub, for `feather pull` tests. Standard library only, loopback only.

It speaks the shapes huggingface_hub's client code expects (hf_api.py model_info, file_download.py):
  GET  /api/models/OWNER/REPO[/revision/REV]?blobs=true  -> {"id", "sha", "gated", "siblings": [{"rfilename",
       "size", "blobId", "lfs": {"sha256", "size", "pointerSize"}}]}
  HEAD|GET /OWNER/REPO/resolve/REV/FILE -> 302 to /cdn/SHA256 with X-Repo-Commit, X-Linked-Etag, X-Linked-Size
  HEAD|GET /cdn/SHA256 -> the bytes, with ETag, Accept-Ranges and Range (206 + Content-Range)
Errors carry X-Error-Code as the hub's do: RepoNotFound (404), GatedRepo (401 without a token, 403 with a wrong
one), EntryNotFound (404).

Usage: mock-hf-hub.py --spec SPEC.json [--log LOG.jsonl]
SPEC: {"repos": {"OWNER/REPO": {"files": {"NAME": "/path/of/its/bytes", ...}, "gated": false}},
       "token": "hf_secret",             # the token gated repos accept
       "drop_after": {"NAME": BYTES},    # the first GET of NAME's bytes closes the connection after BYTES
       "drop_always": ["NAME"],          # every GET of NAME's bytes closes the connection halfway
       "corrupt": ["NAME"]}              # NAME is served with one byte changed (the announced SHA-256 is the true one)
It prints "port N" on stdout once listening on 127.0.0.1:N (an ephemeral port); each request is appended to LOG as
one JSON line {"method", "path", "range", "authorization"}.
"""
import argparse
import hashlib
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class Hub:
    def __init__(self, spec, log):
        self.spec = spec
        self.log = log
        self.lock = threading.Lock()
        self.dropped = set()
        self.repos = {}
        self.blobs = {}  # sha256 -> (name, path)
        for repo, r in spec.get("repos", {}).items():
            files = {}
            for name, path in r.get("files", {}).items():
                data = open(path, "rb").read()
                sha = hashlib.sha256(data).hexdigest()
                files[name] = {"path": path, "size": len(data), "sha256": sha,
                               "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
                self.blobs[sha] = (name, path)
            commit = hashlib.sha1(json.dumps(sorted((n, f["sha256"]) for n, f in files.items())).encode()).hexdigest()
            self.repos[repo] = {"files": files, "gated": r.get("gated", False), "sha": r.get("sha", commit)}

    def record(self, entry):
        if self.log:
            with self.lock, open(self.log, "a") as f:
                f.write(json.dumps(entry) + "\n")


def make_handler(hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def error(self, status, code, message):
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def authorized(self, repo):
            if not hub.repos[repo]["gated"]:
                return True
            auth = self.headers.get("Authorization")
            if auth is None:
                self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it and be authenticated to access it." % repo)
                return False
            if auth != "Bearer " + hub.spec.get("token", ""):
                self.error(403, "GatedRepo", "Access to model %s is restricted and you are not in the authorized list." % repo)
                return False
            return True

        def do_HEAD(self):
            self.handle_any()

        def do_GET(self):
            self.handle_any()

        def handle_any(self):
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.record({"method": self.command, "path": path, "range": self.headers.get("Range"),
                        "authorization": self.headers.get("Authorization")})
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                return self.model_info("/".join(parts[2:4]))
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
            if len(parts) == 2 and parts[0] == "cdn":
                return self.blob(parts[1])
            self.error(404, "NotFound", "no route " + path)

        def model_info(self, repo):
            r = hub.repos.get(repo)
            if r is None:
                return self.error(404, "RepoNotFound", "Repository Not Found for url: " + self.path)
            siblings = [{"rfilename": name, "size": f["size"], "blobId": f["blobId"],
                         "lfs": {"sha256": f["sha256"], "size": f["size"], "pointerSize": 134}}
                        for name, f in sorted(r["files"].items())]
            body = json.dumps({"id": repo, "modelId": repo, "sha": r["sha"], "private": False,
                               "gated": "manual" if r["gated"] else False, "siblings": siblings}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def resolve(self, repo, revision, name):
            r = hub.repos.get(repo)
            if r is None:
                return self.error(404, "RepoNotFound", "Repository Not Found")
            if revision not in ("main", r["sha"]):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            f = r["files"].get(name)
            if f is None:
                return self.error(404, "EntryNotFound", "Entry not found")
            if not self.authorized(repo):
                return
            host, port = self.server.server_address[:2]
            self.send_response(302)
            self.send_header("Location", "http://%s:%d/cdn/%s" % (host, port, f["sha256"]))
            self.send_header("X-Repo-Commit", r["sha"])
            self.send_header("X-Linked-Etag", '"%s"' % f["sha256"])
            self.send_header("X-Linked-Size", str(f["size"]))
            self.send_header("ETag", '"%s"' % f["blobId"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def blob(self, sha):
            if sha not in hub.blobs:
                return self.error(404, "EntryNotFound", "no such blob")
            name, path = hub.blobs[sha]
            data = bytearray(open(path, "rb").read())
            if name in hub.spec.get("corrupt", []):
                data[len(data) // 2] ^= 0xFF
            start, end = 0, len(data) - 1
            status = 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                start = int(a)
                end = int(b) if b else len(data) - 1
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = bytes(data[start:end + 1])
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", '"%s"' % sha)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            cut = None
            if self.command == "GET":
                with hub.lock:
                    if name in hub.spec.get("drop_after", {}) and name not in hub.dropped:
                        hub.dropped.add(name)
                        cut = max(0, hub.spec["drop_after"][name] - start)
                if name in hub.spec.get("drop_always", []):
                    cut = len(body) // 2
            if cut is not None and cut < len(body):
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_WR)
                return
            self.wfile.write(body)

    return Handler


def main():
    parser = argparse.ArgumentParser(description="A mock Hugging Face Hub on 127.0.0.1 for tests.")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--log")
    args = parser.parse_args()
    # A parent that blocks signals (a test runner's thread) passes its mask on: unblock them so SIGTERM stops us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    hub = Hub(json.load(open(args.spec)), args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(hub))
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
