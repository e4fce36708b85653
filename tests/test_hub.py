"""Downloads through huggingface_hub against a fake Hub on 127.0.0.1 (no network).

A small HTTP server in this process serves one repo, `albert-np-test/tiny-mlm`, the
way huggingface.co answers hf_hub_download: HEAD and GET of
/{owner}/{name}/resolve/{revision}/{file}, with X-Repo-Commit and ETag for a file
that exists, and 404 with X-Error-Code EntryNotFound, RepoNotFound or
RevisionNotFound otherwise. The repo is tests/fixtures/tasks/mlm without
special_tokens_map.json, the optional file whose absence once ended in
`AttributeError: RemoteEntryNotFoundError` below huggingface_hub 1.0.

The client runs in a subprocess with HF_ENDPOINT pointing at the server, because
huggingface_hub reads its endpoint when it is imported. So the real
hf_hub_download of the installed version raises its own exception classes, and
albert_np.hub must turn each into its message: CI runs this file on the newest
huggingface_hub and on the lowest supported (0.20, see .ci/run).
"""
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCE = os.path.join(HERE, "fixtures", "tasks", "mlm")
REPO = "albert-np-test/tiny-mlm"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SERVED = ("config.json", "model.safetensors", "spiece.model", "tokenizer_config.json")
TEXT = "the capital of france is [MASK]."


class FakeHub(http.server.BaseHTTPRequestHandler):
    """huggingface.co's answers to hf_hub_download, for one repo at revision "main"."""

    def do_HEAD(self):
        self.answer(send_body=False)

    def do_GET(self):
        self.answer(send_body=True)

    def log_message(self, *args):           # quiet: the test reads self.server.requests instead
        pass

    def answer(self, send_body):
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        self.server.requests.append((self.command, path))
        parts = path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve" or "/".join(parts[:2]) != REPO:
            return self.refuse("RepoNotFound", "Repository not found", send_body)
        if parts[3] not in ("main", COMMIT):
            return self.refuse("RevisionNotFound", f"Invalid rev id: {parts[3]}", send_body)
        filename = "/".join(parts[4:])
        if filename not in SERVED:
            return self.refuse("EntryNotFound", f"{filename} does not exist on main", send_body)
        with open(os.path.join(SOURCE, filename), "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def refuse(self, code, message, send_body):
        body = json.dumps({"error": message}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


@pytest.fixture
def fake_hub():
    """The server's base URL and its request log; the server stops when the test ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


CLIENT = r"""
import json, sys
import huggingface_hub
import albert_np
from albert_np import hub

repo, local, text = sys.argv[1:4]

def error_of(call):
    try:
        call()
    except Exception as e:                      # what a user would see
        return [type(e).__name__, str(e)]
    return None

out = {"huggingface_hub": huggingface_hub.__version__,
       "fill_mask": albert_np.fill_mask(text, model=repo),
       "local": albert_np.fill_mask(text, model=local),
       "optional": hub.resolve_file(repo, "special_tokens_map.json", required=False),
       "missing": error_of(lambda: hub.resolve_file(repo, "no_such_file.json")),
       "no_repo": error_of(lambda: hub.resolve_file("albert-np-test/absent", "config.json")),
       "no_revision": error_of(lambda: hub.resolve_file(repo, "config.json", revision="v9"))}
print(json.dumps(out))
"""


def run_client(endpoint, tmp_path, offline=False):
    """CLIENT in a fresh interpreter whose huggingface_hub talks to `endpoint`; its JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_CACHE=str(tmp_path / "cache"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_IMPLICIT_TOKEN="1", HF_HUB_ETAG_TIMEOUT="5",
               HF_HUB_DOWNLOAD_TIMEOUT="5", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-c", CLIENT, REPO, SOURCE, TEXT], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hub_download_and_each_error(fake_hub, tmp_path):
    endpoint, requests = fake_hub
    out = run_client(endpoint, tmp_path)
    # the model and tokenizer came from the server, and give what the same folder gives locally
    assert out["fill_mask"] == out["local"] and len(out["fill_mask"]) == 5
    fetched = {p.rsplit("/", 1)[-1] for m, p in requests if m == "GET"}
    assert set(SERVED) <= fetched
    # the optional file was asked for, the server said EntryNotFound, and it is simply absent
    assert ("HEAD", f"/{REPO}/resolve/main/special_tokens_map.json") in requests
    assert out["optional"] is None
    assert out["missing"] == ["FileNotFoundError",
                              f"the Hub repo {REPO!r} has no file 'no_such_file.json'"]
    kind, message = out["no_repo"]
    assert kind == "FileNotFoundError" and "neither a folder on this machine nor a Hub repo" in message
    assert out["no_revision"] == ["FileNotFoundError", f"revision 'v9' of {REPO!r} not found on the Hub"]


def test_hub_cache_offline(fake_hub, tmp_path):
    """After one online run, HF_HUB_OFFLINE=1 loads the same model from the cache, asking nothing."""
    endpoint, requests = fake_hub
    online = run_client(endpoint, tmp_path)
    asked = len(requests)
    offline = run_client(endpoint, tmp_path, offline=True)
    assert len(requests) == asked, requests[asked:]
    assert offline["fill_mask"] == online["fill_mask"]
    assert offline["optional"] is None
    kind, message = offline["missing"]
    # never fetched: either the cache remembers the Hub's "no such file", or it is not cached at all
    assert (kind, message) == ("FileNotFoundError", f"the Hub repo {REPO!r} has no file 'no_such_file.json'") or (
        kind == "HubUnreachableError" and "HF_HUB_OFFLINE=1" in message), offline["missing"]
