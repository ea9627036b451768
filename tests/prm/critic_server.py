"""A small OpenAI-compatible chat server standing in for an LLM critic, run as its own process.

It reads the number of steps from either protocol's user turn (surestep's "Solution (N steps)",
or PRMBench's " Solutions: Step 1: ... \\n\\n" layout). The reply depends on a keyword in the
question of the last user turn:
- MALFORMED: prose without any JSON object;
- SHORT: one validity score fewer than the solution has steps;
- LONG: one validity score more than the solution has steps;
- RANGE: a validity score of 2;
- FENCED: the object inside a ```json fence, with prose, a brace inside a string and a
  trailing comma;
- COMMENTED: the object spread over lines with a ``// ...`` comment after the first list;
- WORDS: validity scores given as words;
- NANS: a bare NaN as the first validity score;
- BRACE: a stray '}' before a good object;
- FLAKY: HTTP 429 with Retry-After on the first request for that prompt, then a good reply;
- DOWN: always HTTP 500;
- otherwise a good reply: validity 0.5 for every step except -1 for the last, redundancy -0.5
  except 1 for the first.
GET /stats returns the number of chat requests, and the message count, roles and temperature of
the last one.
"""

from __future__ import annotations

import json
import re
import sys
import threading

from tests.json_server import JSONHandler, serve

STEPS = re.compile(r"Solution \((\d+) steps\)")
PRMBENCH_SOLUTIONS = " Solutions: "
STATE: dict = {"requests": 0, "last_messages": 0, "last_roles": [], "last_temperature": None, "seen": set()}
LOCK = threading.Lock()


def good_reply(steps: int) -> dict:
    validity = [0.5] * (steps - 1) + [-1]
    redundancy = [1] + [-0.5] * (steps - 1)
    return {"validity": validity, "redundancy": redundancy}


def count_steps(prompt: str) -> int:
    """Steps of the solution in a user turn of either protocol."""
    found = STEPS.search(prompt)
    if found:
        return int(found.group(1))
    return prompt.split(PRMBENCH_SOLUTIONS, 1)[1].count(" \n\n")


def content_for(prompt: str, steps: int) -> str:
    reply = good_reply(steps)
    if "MALFORMED" in prompt:
        return "Every step looks fine to me, although step 2 is a little terse."
    if "SHORT" in prompt:
        return json.dumps({**reply, "validity": reply["validity"][:-1]})
    if "LONG" in prompt:
        return json.dumps({**reply, "validity": [*reply["validity"], 0.25]})
    if "RANGE" in prompt:
        return json.dumps({**reply, "validity": [2.0, *reply["validity"][1:]]})
    if "FENCED" in prompt:
        inner = json.dumps({"note": "the {first} step", **reply})[:-1] + ",}"
        return f"Here is my review.\n```json\n{inner}\n```\nHope this helps {{:"
    if "COMMENTED" in prompt:
        return (
            f'{{\n"validity": {json.dumps(reply["validity"])}, // my scores\n'
            f'"redundancy": {json.dumps(reply["redundancy"])}\n}}'
        )
    if "WORDS" in prompt:
        return json.dumps({**reply, "validity": ["good"] * steps})
    if "NANS" in prompt:
        return json.dumps({**reply, "validity": ["NAN_HERE", *reply["validity"][1:]]}).replace(
            '"NAN_HERE"', "NaN"
        )
    if "BRACE" in prompt:
        return "} " + json.dumps(reply)
    return json.dumps(reply)


class Handler(JSONHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with LOCK:
            self._send(
                200,
                {key: STATE[key] for key in ("requests", "last_messages", "last_roles", "last_temperature")},
            )

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        steps = count_steps(prompt)
        with LOCK:
            STATE["requests"] += 1
            STATE["last_messages"] = len(body["messages"])
            STATE["last_roles"] = [m["role"] for m in body["messages"]]
            STATE["last_temperature"] = body.get("temperature")
            first_time = prompt not in STATE["seen"]
            STATE["seen"].add(prompt)
        if "DOWN" in prompt:
            return self._send(500, {"error": "server error"})
        if "FLAKY" in prompt and first_time:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
        content = content_for(prompt, steps)
        # usage as a server bills it: here words of every message, and of the reply
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        self._send(
            200,
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(content.split())},
            },
        )


def main() -> None:
    serve(Handler)


if __name__ == "__main__":
    sys.exit(main())
