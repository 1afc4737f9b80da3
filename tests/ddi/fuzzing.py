"""Hostile DDI requests from a seed: shared by tests/ddi/test_fuzz.py and bench/fuzz_ddi.py.

A plain ``random.Random`` so that the benchmark can send tens of thousands of requests to a real
server without hypothesis, and the suite can draw seeds with hypothesis; both see the same shapes:
every DDI endpoint, odd methods, headers, tenants and ids, and bodies that are structured-but-
hostile JSON (wrong types, deep nesting, huge numbers, unicode digits, surrogates, NUL) or raw
bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

HAWKBIT_ERROR_KEYS = {"exceptionClass", "errorCode", "message"}


@dataclass(frozen=True)
class Target:
    """What exists on the server under test, so that some requests reach the deep code paths."""

    controller_id: str
    action_id: int
    software_id: int
    filename: str
    canceling_controller_id: str
    canceling_action_id: int


@dataclass
class FuzzRequest:
    method: str
    path: str  # percent-encoded, ASCII
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def describe(self) -> str:
        return f"{self.method} {self.path} headers={self.headers!r} body={self.body[:300]!r}"


_WEIRD_STRINGS = [
    "",
    " ",
    "²",
    "⁵",
    "--5",
    "٣",
    "1_0",
    "9" * 5000,
    "-" + "9" * 30,
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u2028",
    "😀",
    "NaN",
    "null",
    "closed",
    "success",
    "proceeding",
    "x" * 20_000,
    "<script>",
    "%s%n",
    "../../etc/passwd",
]
_EXECUTIONS = [
    "closed",
    "proceeding",
    "canceled",
    "scheduled",
    "rejected",
    "resumed",
    "download",
    "downloaded",
]
_FINISHED = ["success", "failure", "none"]


def _scalar(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(_WEIRD_STRINGS)
    if kind == 1:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**300, 2**70])
    if kind == 2:
        return rng.choice([1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice(_EXECUTIONS + _FINISHED + ["merge", "replace", "remove", "MERGE"])
    return "".join(rng.choice("ab ²٣\x00\ud800😀-_9") for _ in range(rng.randrange(12)))


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON-able value: mostly scalars, sometimes lists and objects, rarely deep."""
    roll = rng.random()
    if depth > 4 or roll < 0.6:
        return _scalar(rng)
    if roll < 0.8:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(_scalar(rng)): hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _maybe(rng: random.Random, good: Any) -> Any:
    return good if rng.random() < 0.6 else hostile_value(rng)


def feedback_json(rng: random.Random) -> Any:
    result: dict[str, Any] = {"finished": _maybe(rng, rng.choice(_FINISHED))}
    if rng.random() < 0.5:
        result["progress"] = _maybe(rng, {"cnt": _maybe(rng, 1), "of": _maybe(rng, 2)})
    status: dict[str, Any] = {
        "execution": _maybe(rng, rng.choice(_EXECUTIONS)),
        "result": _maybe(rng, result),
    }
    if rng.random() < 0.7:
        status["details"] = _maybe(rng, [_maybe(rng, "Downloaded 50%") for _ in range(rng.randrange(5))])
    if rng.random() < 0.4:
        status["code"] = hostile_value(rng)
    body: dict[str, Any] = {"status": _maybe(rng, status)}
    if rng.random() < 0.3:
        body[str(_scalar(rng))] = hostile_value(rng)
    return _maybe(rng, body)


def config_json(rng: random.Random) -> Any:
    data = {str(_scalar(rng)) if rng.random() < 0.4 else "hw_boardname": _maybe(rng, "board")}
    data.update({f"k{i}": _maybe(rng, "v") for i in range(rng.randrange(4))})
    body: dict[str, Any] = {"data": _maybe(rng, data)}
    if rng.random() < 0.5:
        body["mode"] = _maybe(rng, rng.choice(["merge", "replace", "remove"]))
    return _maybe(rng, body)


def _deep_text(rng: random.Random) -> str:
    depth = rng.choice([33, 100, 1000, 5000])
    return "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth


def _encode_json(rng: random.Random, value: Any) -> bytes:
    roll = rng.random()
    if roll < 0.08:
        return _deep_text(rng).encode()
    if roll < 0.14:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if roll < 0.17:
        return b""
    text = json.dumps(value)
    if roll < 0.22:  # raw surrogate bytes, as a broken client would send them
        return text.encode("utf-8", "surrogatepass")
    if roll < 0.25:
        return text.encode("utf-16")
    return text.encode("utf-8", "surrogatepass")


def _segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _controller_id(rng: random.Random, target: Target) -> str:
    roll = rng.random()
    if roll < 0.55:
        return target.controller_id
    if roll < 0.65:
        return target.canceling_controller_id
    if roll < 0.75:
        return f"fuzz-{rng.randrange(50)}"
    return rng.choice(["x" * 257, "x" * 5000, "😀", "\ud800", "a\x00b", "a\tb", " ", "..", "²", "a%2Fb", "%"])


def _id(rng: random.Random, real: int) -> str:
    roll = rng.random()
    if roll < 0.6:
        return str(real)
    return _segment(
        rng.choice(["0", "-1", "9" * 18, "9" * 19, "9" * 5000, "abc", "٣", "1.5", " 1", f"{real}x"])
    )


_ACCEPTS = [
    "",
    "application/json",
    "application/hal+json",
    "*/*",
    "text/html",
    "application/*;q=0",
    "\x7f",
    ",,,",
]
_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=bogus",
    "APPLICATION/JSON",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
]
_RANGES = [
    "bytes=0-0",
    "bytes=0-",
    "bytes=-1",
    "bytes=0-1,3-4",
    "bytes=" + "9" * 5000 + "-",
    "bytes=0-" + "9" * 5000,
    "bytes=-" + "9" * 5000,
    "bytes=٣-٥",
    "bytes=5-1",
    "bytes=" + ",".join(["0-0"] * 300),
    "items=0-1",
    "bytes=",
]
_CONDITIONS = ["*", '"abc"', 'W/"abc"', "Thu, 01 Jan 1970 00:00:00 GMT", "garbage", "9" * 5000, '"', ""]


def fuzz_request(rng: random.Random, target: Target) -> FuzzRequest:
    """One hostile request against ``target``'s server."""
    tenant = "DEFAULT" if rng.random() < 0.8 else rng.choice(["default", "other", "😀", "x" * 300, "%00"])
    cid = _controller_id(rng, target)
    action = target.canceling_action_id if cid == target.canceling_controller_id else target.action_id
    base = f"/{_segment(tenant) if tenant != '%00' else tenant}/controller/v1/{_segment(cid)}"
    endpoint = rng.randrange(11)
    method, body = "GET", b""
    if endpoint == 0:
        path = base
    elif endpoint == 1:
        path, method, body = f"{base}/configData", "PUT", _encode_json(rng, config_json(rng))
    elif endpoint == 2:
        history = rng.choice(["", "?actionHistory=3", "?actionHistory=-1", "?actionHistory=%C2%B2", "?c=5"])
        path = f"{base}/deploymentBase/{_id(rng, action)}{history}"
        if rng.random() < 0.3:
            path += "&actionHistory=" + _segment(str(_scalar(rng))) if "?" in path else "?c=" + "9" * 5000
    elif endpoint == 3:
        path, method = f"{base}/deploymentBase/{_id(rng, action)}/feedback", "POST"
        body = _encode_json(rng, feedback_json(rng))
    elif endpoint == 4:
        path = f"{base}/cancelAction/{_id(rng, target.canceling_action_id)}"
    elif endpoint == 5:
        path, method = f"{base}/cancelAction/{_id(rng, target.canceling_action_id)}/feedback", "POST"
        body = _encode_json(rng, feedback_json(rng))
    elif endpoint == 6:
        path = f"{base}/installedBase/{_id(rng, action)}"
        if rng.random() < 0.3:
            method, body = "PUT", _encode_json(rng, feedback_json(rng))
    elif endpoint == 7:
        path = f"{base}/softwaremodules/{_id(rng, target.software_id)}/artifacts"
    else:
        name = rng.choice([target.filename, target.filename + ".MD5SUM", "other.swu", "😀", "x" * 300])
        path = f"{base}/softwaremodules/{_id(rng, target.software_id)}/artifacts/{_segment(name)}"
        method = "HEAD" if rng.random() < 0.2 else "GET"
    if rng.random() < 0.12:
        method = rng.choice(["DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "POST", "PUT", "GET", "HEAD"])
        if method in ("POST", "PUT", "PATCH") and not body:
            body = _encode_json(rng, feedback_json(rng))
    if method in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE") and rng.random() > 0.1:
        body = b""

    headers: dict[str, str] = {}
    if rng.random() < 0.3:
        headers["Accept"] = rng.choice(_ACCEPTS)
    if body or rng.random() < 0.1:
        headers["Content-Type"] = rng.choice(_CONTENT_TYPES) if rng.random() < 0.3 else "application/json"
    if endpoint >= 8 and rng.random() < 0.5:
        headers["Range"] = rng.choice(_RANGES)
        if rng.random() < 0.3:
            headers["If-Range"] = rng.choice(_CONDITIONS)
    if rng.random() < 0.15:
        headers[rng.choice(["If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since"])] = (
            rng.choice(_CONDITIONS)
        )
    if rng.random() < 0.1:
        headers["Authorization"] = rng.choice(
            ["TargetToken x", "GatewayToken ", "Basic Og==", "TargetToken  ", "x"]
        )
    if rng.random() < 0.05:
        headers["X-Forwarded-For"] = rng.choice(["1.2.3.4", "garbage", "::1, 999.1.1.1", ""])
    return FuzzRequest(method=method, path=path, headers=headers, body=body)


def problems(status: int, content_type: str, content: bytes) -> list[str]:
    """What is wrong with an answer: any 5xx, or a 4xx JSON body that is not hawkBit's shape."""
    if status >= 500:
        return [f"status {status}"]
    if 400 <= status < 500 and content_type.split(";")[0].strip() == "application/json" and content:
        try:
            body = json.loads(content)
        except ValueError:
            return ["4xx JSON body that is not JSON"]
        if not isinstance(body, dict) or set(body) != HAWKBIT_ERROR_KEYS:
            return [f"4xx JSON body not in hawkBit's error shape: {content[:200]!r}"]
        if not all(isinstance(body[key], str) for key in HAWKBIT_ERROR_KEYS):
            return [f"4xx error body with a non-string field: {content[:200]!r}"]
    return []
