"""A hawkBit Management API client that knows nothing of this project: HTTP Basic, JSON, /rest/v1.

It is what a script written for Eclipse hawkBit would do with ``urllib`` (no Django, no project
imports), so the end-to-end tests that use it check the server as such a script sees it.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass
class Answer:
    """One response: its status, headers and body (JSON when it was JSON, else bytes)."""

    status: int
    headers: dict[str, str]
    body: Any

    def __repr__(self) -> str:  # shown by pytest when an assertion on an answer fails
        return f"Answer({self.status}, {self.body!r})"


class HawkbitMgmtClient:
    """``client.get("targets/dev-1")`` and so on, against ``<base_url>/rest/v1``."""

    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 30) -> None:
        self.root = base_url.rstrip("/") + "/rest/v1/"
        credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}", "Accept": "application/json"}
        self.timeout = timeout

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = path if path.startswith("http") else self.root + path.lstrip("/")
        return url + (f"?{urlencode(query)}" if query else "")

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Answer:
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url(path, query), data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return self._answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return self._answer(error.code, dict(error.headers), error.read())

    @staticmethod
    def _answer(status: int, headers: dict[str, str], raw: bytes) -> Answer:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        body: Any = raw
        if raw and "json" in content_type:
            body = json.loads(raw)
        return Answer(status, headers, body)

    def get(self, path: str, **query: Any) -> Answer:
        return self.send("GET", path, query=query or None)

    def post(self, path: str, payload: Any) -> Answer:
        return self.send("POST", path, body=json.dumps(payload).encode(), content_type="application/json")

    def put(self, path: str, payload: Any) -> Answer:
        return self.send("PUT", path, body=json.dumps(payload).encode(), content_type="application/json")

    def delete(self, path: str) -> Answer:
        return self.send("DELETE", path)

    def upload(self, path: str, filename: str, content: bytes, **fields: str) -> Answer:
        """multipart/form-data with the file in part ``file``, as hawkBit's artifact upload takes it."""
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.send(
            "POST", path, body=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
        )
