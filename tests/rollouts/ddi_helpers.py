"""Drive devices through the real DDI endpoints, as SWUpdate would."""

from __future__ import annotations

import json

BASE = "/DEFAULT/controller/v1"


def poll(client, cid: str) -> dict:
    """One root poll; returns the links offered (empty dict when there is nothing to do)."""
    response = client.get(f"{BASE}/{cid}", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return response.json().get("_links", {})


def offered_action_id(client, cid: str) -> int | None:
    """The action id of the deploymentBase link offered on a poll, if any."""
    link = poll(client, cid).get("deploymentBase")
    if link is None:
        return None
    return int(link["href"].split("/deploymentBase/")[1].split("?")[0])


def feedback(client, cid: str, action_id: int, execution: str, finished: str = "none") -> int:
    body = {"id": action_id, "status": {"execution": execution, "result": {"finished": finished}}}
    response = client.post(
        f"{BASE}/{cid}/deploymentBase/{action_id}/feedback",
        json.dumps(body),
        content_type="application/json",
    )
    return response.status_code


def install(client, cid: str, *, finished: str = "success") -> int:
    """Poll, retrieve the deployment, report progress and close with ``finished``."""
    action_id = offered_action_id(client, cid)
    assert action_id is not None, f"{cid} was offered no deployment"
    assert client.get(f"{BASE}/{cid}/deploymentBase/{action_id}").status_code == 200
    assert feedback(client, cid, action_id, "proceeding") == 200
    assert feedback(client, cid, action_id, "closed", finished) == 200
    return action_id
