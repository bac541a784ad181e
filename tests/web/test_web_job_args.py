"""POST /api/v1/jobs checks each job's arguments by the job's own rules (issue 19, item 10) and never
takes a tracker URL from a request; the OpenAPI document states the same rules."""

from __future__ import annotations

import pytest

from .conftest import Web, bearer

pytestmark = pytest.mark.usefixtures("dispose_job_databases")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"task": "classify", "args": {"task": "defect", "shards": 0}},
            "args.shards: must be from 1 to 1024",
        ),
        (
            {"task": "classify", "args": {"task": "defect", "batch_size": "abc"}},
            "args.batch_size: must be an integer",
        ),
        ({"task": "classify", "args": {"task": "defect", "limit": 10**30}}, "args.limit"),
        ({"task": "classify", "args": {"task": "defect", "notify": 1}}, "args.notify: must be true or false"),
        (
            {"task": "sync", "args": {"url": "file:///etc/passwd"}},
            "args.url: tracker URLs come from the settings",
        ),
        (
            {"task": "sync", "args": {"url": "https://example.org"}},
            "(BUGSIFT_BUGZILLA_URL), not from a request",
        ),
        ({"task": "sync", "args": {"source": "jira", "url": "http://10.0.0.1"}}, "(BUGSIFT_JIRA_URL)"),
        (
            {"task": "sync", "args": {"source": "github", "url": "https://x.example"}},
            "(BUGSIFT_GITHUB_API_URL)",
        ),
        ({"task": "sync", "args": {"source": "github", "repo": "o/r/../../x"}}, "args.repo"),
        ({"task": "sync", "args": {"classify_task": "weather"}}, "args.classify_task must be one of"),
        ({"task": "encode", "args": {"trackers": "jira"}}, "encode takes no argument trackers"),
    ],
)
def test_job_arguments_a_worker_would_reject_are_a_400(
    web: Web, admin_token: str, body: dict, words: str
) -> None:
    response = web.client.post("/api/v1/jobs", json=body, headers=bearer(admin_token))
    assert response.status_code == 400, response.json
    assert words in response.json["message"], response.json
    assert web.client.get("/api/v1/jobs", headers=bearer(admin_token)).json == []


def test_good_job_arguments_are_queued_as_given(web: Web, admin_token: str) -> None:
    body = {"task": "classify", "args": {"task": "defect", "report_ids": [1, 2], "shards": 2, "shard": 1}}
    response = web.client.post("/api/v1/jobs", json=body, headers=bearer(admin_token))
    assert response.status_code == 202, response.json
    assert response.json["args"] == body["args"]
    sync = {"task": "sync", "args": {"source": "github", "repo": "facebook/react", "since": "2024-01-31"}}
    assert web.client.post("/api/v1/jobs", json=sync, headers=bearer(admin_token)).status_code == 202


def test_the_document_states_each_jobs_arguments_without_a_url(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json
    schema = document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = {v["properties"]["task"]["enum"][0]: v["properties"]["args"] for v in schema["oneOf"]}
    assert set(variants) == {"train", "classify", "sync", "encode"}
    assert all(args["additionalProperties"] is False for args in variants.values())
    assert "url" not in variants["sync"]["properties"]
    assert variants["classify"]["properties"]["shards"] == {"type": "integer", "minimum": 1, "maximum": 1024}
    assert variants["classify"]["required"] == ["task"]
    assert "defect" in variants["train"]["properties"]["task"]["anyOf"][0]["enum"]  # and label:NAME ...
