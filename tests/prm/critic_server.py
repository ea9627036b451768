"""A small OpenAI-compatible chat server standing in for an LLM critic, run as its own process.

The reply depends on a keyword in the question of the last user turn:
- MALFORMED: prose without any JSON object;
- SHORT: one validity score fewer than the solution has steps;
- RANGE: a validity score of 2;
- FENCED: the object inside a ```json fence, with prose, a brace inside a string and a
  trailing comma;
- FLAKY: HTTP 429 with Retry-After on the first request for that prompt, then a good reply;
- DOWN: always HTTP 500;
- otherwise a good reply: validity 0.5 for every step except -1 for the last, redundancy -0.5
  except 1 for the first.
GET /stats returns the number of chat requests and the message count of the last one.
"""

from __future__ import annotations

import json
import re
import sys
import threading

from tests.json_server import JSONHandler, serve

STEPS = re.compile(r"Solution \((\d+) steps\)")
STATE: dict = {"requests": 0, "last_messages": 0, "seen": set()}
LOCK = threading.Lock()


def good_reply(steps: int) -> dict:
    validity = [0.5] * (steps - 1) + [-1]
    redundancy = [1] + [-0.5] * (steps - 1)
    return {"validity": validity, "redundancy": redundancy}


class Handler(JSONHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with LOCK:
            self._send(200, {"requests": STATE["requests"], "last_messages": STATE["last_messages"]})

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        steps = int(STEPS.search(prompt).group(1))
        with LOCK:
            STATE["requests"] += 1
            STATE["last_messages"] = len(body["messages"])
            first_time = prompt not in STATE["seen"]
            STATE["seen"].add(prompt)
        reply = good_reply(steps)
        if "DOWN" in prompt:
            return self._send(500, {"error": "server error"})
        if "FLAKY" in prompt and first_time:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
        if "MALFORMED" in prompt:
            content = "Every step looks fine to me, although step 2 is a little terse."
        elif "SHORT" in prompt:
            content = json.dumps({**reply, "validity": reply["validity"][:-1]})
        elif "RANGE" in prompt:
            content = json.dumps({**reply, "validity": [2.0, *reply["validity"][1:]]})
        elif "FENCED" in prompt:
            inner = json.dumps({"note": "the {first} step", **reply})[:-1] + ",}"
            content = f"Here is my review.\n```json\n{inner}\n```\nHope this helps {{:"
        else:
            content = json.dumps(reply)
        self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                      "finish_reason": "stop"}]})


def main() -> None:
    serve(Handler)


if __name__ == "__main__":
    sys.exit(main())
