"""Schemathesis against the app's own OpenAPI document, in process (WSGI), with an admin's token holding
every scope: generated requests, valid and invalid, must never get a 5xx or an answer the document does
not describe. Bounded and derandomized (the same cases on every run, no shrinking): about 20 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.specs.openapi.checks import response_schema_conformance

from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.roles import SCOPES
from bugsift.web.suggest import parse_report

from .conftest import Web

MAX_EXAMPLES = 100
"""Generated cases per operation and generation mode (positive, negative)."""
HYPOTHESIS_MAX_CHARS = 8_000
"""Hypothesis builds no string longer than 8 KiB: the negative case of ``maxLength: 200000`` (a string of
200,001 characters) would stop the whole run, so longer limits are read as this one."""
CHECKS: dict[str, Callable[..., Any]] = {
    "server_error": not_a_server_error,
    "schema_mismatch": response_schema_conformance,
}


@dataclass
class Tally:
    """What the run found: cases, statuses and, per check, the cases that failed it."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in CHECKS})

    def check(self, case: Any, response: Any) -> None:
        self.cases += 1
        self.statuses[response.status_code] += 1
        for name, check in CHECKS.items():
            try:
                case.validate_response(response, checks=[check])
            except (Failure, FailureGroup):
                where = f"{case.operation.label} {case.path_parameters} {case.query} {case.body!r:.200}"
                self.failures[name].append(f"{where}: {response.status_code} {response.text[:300]}")


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], tally: Tally) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases on every run
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected, not raised
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    # No feedback: schemathesis would otherwise mix in literals from whatever modules this test session
    # imported, and the cases would change with the set of tests run.
    @given(case=operation.as_strategy(generation_mode=mode, feedback=NO_FEEDBACK))
    def run(case: Any) -> None:
        tally.check(case, case.call(headers=headers))

    try:
        run()
    except Unsatisfiable:  # no invalid request exists for an operation without parameters or body
        assert mode == GenerationMode.NEGATIVE, operation.label


def cap_lengths(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("maxLength", 0) > HYPOTHESIS_MAX_CHARS:
            node["maxLength"] = HYPOTHESIS_MAX_CHARS
        for value in node.values():
            cap_lengths(value)
    elif isinstance(node, list):
        for value in node:
            cap_lengths(value)


def served_schema(web: Web) -> Any:
    """The document /api/v1/openapi.json serves, its text limits capped for Hypothesis, bound to the app."""
    document = web.client.get("/api/v1/openapi.json").json
    cap_lengths(document)
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig())
    schema.app = web.app  # requests go in process, through WSGI (as `from_wsgi` does)
    return schema


def known_cases(schema: Any, report_id: int, job_id: int) -> list[Any]:
    """Requests that reach stored rows (random ids almost never do): the 200 and 201 answers."""
    return [
        schema["/reports/{report_id}"]["GET"].Case(path_parameters={"report_id": report_id}),
        schema["/reports/{report_id}/labels"]["POST"].Case(
            path_parameters={"report_id": report_id},
            body={"name": "defect", "value": "not_defect", "note": "fuzz"},
            media_type="application/json",
        ),
        schema["/jobs/{job_id}"]["GET"].Case(path_parameters={"job_id": job_id}),
        schema["/predict/{task}"]["POST"].Case(
            path_parameters={"task": "defect"},
            body=[{"title": "Crash on start"}, {"description": "Add a dark theme", "id": 7}],
            media_type="application/json",
        ),
    ]


@pytest.mark.slow
def test_the_api_answers_as_its_openapi_document_says(web: Web) -> None:
    with web.database.session() as session:
        admin = accounts.get_user(session, "admin")
        token = accounts.create_token(session, admin, "fuzz", SCOPES)[1]
        upsert_reports(session, [parse_report({"id": "s1", "title": "Crash when printing"})])
    headers = {"Authorization": f"Bearer {token}"}
    queued = web.client.post("/api/v1/jobs", json={"task": "encode", "args": {}}, headers=headers)
    assert queued.status_code == 202, queued.json
    schema = served_schema(web)
    tally = Tally()
    started = time.perf_counter()
    for case in known_cases(schema, 1, queued.json["id"]):
        tally.check(case, case.call(headers=headers))
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(result.ok(), mode, headers, tally)
    took = time.perf_counter() - started
    found = {name: len(cases) for name, cases in tally.failures.items()}
    print(f"schemathesis: {tally.cases} cases in {took:.1f} s, statuses {dict(tally.statuses)}, {found}")
    assert tally.statuses[201] >= 1 and tally.statuses[202] > 0  # known cases and valid jobs got through
    assert tally.failures["server_error"] == [], "\n".join(tally.failures["server_error"])
    assert tally.failures["schema_mismatch"] == [], "\n".join(tally.failures["schema_mismatch"])
    assert tally.cases > 1000
