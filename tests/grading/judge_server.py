"""A small OpenAI-compatible chat server for judge tests, run as its own process on 127.0.0.1.

Replies depend on the candidate answer in the prompt:
- contains MALFORMED: a reply without a boxed verdict;
- contains FLAKY: the first request for that prompt gets 429 with Retry-After, then a verdict;
- contains ERROR500: always HTTP 500;
- otherwise \\boxed{yes} when candidate and reference match ignoring case and spaces, else \\boxed{no}.
GET /stats returns the number of chat requests served and the Authorization headers seen.
"""

from __future__ import annotations

import json
import re
import sys
import threading

from tests.json_server import JSONHandler, serve

PROMPT = re.compile(r"Reference answer:\n(.*?)\n\nCandidate's final answer:\n(.*?)\n\nReply", re.S)
STATE = {"requests": 0, "auth": [], "seen": set()}
LOCK = threading.Lock()


class Handler(JSONHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with LOCK:
            self._send(200, {"requests": STATE["requests"], "auth": STATE["auth"]})

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        reference, candidate = PROMPT.search(prompt).groups()
        with LOCK:
            STATE["requests"] += 1
            STATE["auth"].append(self.headers.get("Authorization"))
            first_time = prompt not in STATE["seen"]
            STATE["seen"].add(prompt)
        if "ERROR500" in candidate:
            return self._send(500, {"error": "server error"})
        if "FLAKY" in candidate and first_time:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
        if "MALFORMED" in candidate:
            content = "I think so, probably."
        else:
            same = "".join(reference.lower().split()) == "".join(
                candidate.replace("FLAKY", "").lower().split()
            )
            content = "\\boxed{yes}" if same else "\\boxed{no}"
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})


def main() -> None:
    serve(Handler)


if __name__ == "__main__":
    sys.exit(main())
