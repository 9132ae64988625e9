"""A scripted OpenAI-compatible server on 127.0.0.1 for the endpoint's fault tests.

It speaks the real HTTP protocol of `POST /v1/chat/completions`, so the real `openai` client
(its retries, timeouts, errors) is what gets tested. `mode` says how it answers:

- "ok": a deterministic JSON reply built from the request (`answer`);
- "401", "404", "500": that status, every time;
- "429-then-ok": 429 for the first `fail_first` requests, then "ok";
- "not-json": a reply whose content is prose, not JSON;
- "judge": a judge's JSON verdict `{"explanation", "rating"}` (`verdict`);
- "judge-text": the same verdict as MT-Bench prose, "... Rating: [[n]]", not JSON;
- "no-rating": a judge's prose without any rating, every time;
- "no-rating-then-judge": "no-rating" for the first `fail_first` requests, then "judge".

Every "ok" answer waits `delay` seconds first (client timeouts, kills mid-run).
Every request is logged (`log`): its body's hash and whether a full reply was sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-ragft-test-9f8e7d6c5b4a"  # the key the server accepts in "ok" modes


def answer(body: dict) -> dict:
    """A reply that satisfies the schema the request carries, from the text it quotes."""
    user = body["messages"][-1]["content"]
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    props = schema.get("properties", {})
    text = re.search(r"Text:\n(.*?)\n\nReply as", user, re.S)
    words = re.findall(r"[A-Z]\w+", text.group(1) if text else user) or ["Nothing"]
    if "types" in props or '"types"' in user:
        names = re.findall(r"^- (\w+):", user, re.M)
        return {"types": names[:1]}
    if "paraphrases" in props or '"paraphrases"' in user:
        q = re.search(r"Question: (.*)\n", user).group(1)
        word = re.search(r"follows (\w+)", q)
        return {"paraphrases": [f"Name the next word after {word.group(1) if word else q}"]}
    return {"records": [{"instruction": f"Which word follows {words[0]} in the text?",
                         "input": "", "output": words[min(1, len(words) - 1)]}]}  # fmt: skip


def verdict(body: dict) -> tuple[str, int]:
    """A judge's (explanation, rating) from the request: 9 when the answer (ragft.judge's
    default template) contains the reference, else 2."""
    user = body["messages"][-1]["content"]
    found = re.search(r"\[Reference answer\]\n(.*?)\n\n\[Answer\]\n(.*?)\n\n", user, re.S)
    if found and found.group(1).strip().lower() in found.group(2).lower():
        return "The answer says what the reference says.", 9
    return "The answer does not say what the reference says.", 2


def content(mode: str, body: dict) -> str:
    """The reply text of a 200 answer in `mode`."""
    if mode == "not-json":
        return "Sure! Here is the answer."
    if mode == "no-rating":
        return "The answer seems reasonable, though it could say more."
    if mode in ("judge", "judge-text"):
        why, rating = verdict(body)
        if mode == "judge-text":
            return f"{why} Rating: [[{rating}]]"
        return json.dumps({"explanation": why, "rating": rating})
    return json.dumps(answer(body))


class Server:
    def __init__(self, mode: str = "ok", fail_first: int = 0, delay: float = 0.0, port: int = 0):
        self.mode, self.fail_first, self.delay = mode, fail_first, delay
        self.log: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answered(self) -> list[str]:
        """Body hashes of the requests that got a full 200 reply."""
        return [r["hash"] for r in self.log if r["status"] == 200]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                entry = {"hash": hashlib.sha256(raw).hexdigest(), "status": None,
                         "auth": self.headers.get("Authorization", "")}  # fmt: skip
                with server.lock:
                    server.log.append(entry)
                    n = len(server.log)
                status, payload = server._respond(n, body, entry["auth"])
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    entry["status"] = status
                except (BrokenPipeError, ConnectionResetError):
                    entry["status"] = "dropped"

        return Handler

    def _respond(self, n: int, body: dict, auth: str) -> tuple[int, dict]:
        mode = self.mode
        if mode == "429-then-ok":
            mode = "429" if n <= self.fail_first else "ok"
        if mode == "no-rating-then-judge":
            mode = "no-rating" if n <= self.fail_first else "judge"
        if mode in ("401", "404", "429", "500"):
            return int(mode), {"error": {"message": f"scripted {mode}", "type": "test"}}
        if auth != f"Bearer {KEY}":
            return 401, {"error": {"message": "bad key", "type": "auth"}}
        if self.delay:
            time.sleep(self.delay)
        text = content(mode, body)
        return 200, {
            "id": f"c{n}", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }  # fmt: skip
