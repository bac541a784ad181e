"""The OpenAPI 3 document of /api/v1 (a test checks it lists exactly the API's routes)."""

from __future__ import annotations

from typing import Any

from bugsift.jobs.args import json_schema
from bugsift.learn.tasks import TASKS as MODEL_TASKS
from bugsift.web.converters import MAX_ID
from bugsift.web.joblist import DEFAULT_LIMIT, LIMIT_RANGE, QUEUEABLE, web_arg_specs
from bugsift.web.suggest import DEFAULT_FIELD_CHARS, MAX_BATCH, MAX_FIELD_CHARS, TEXT_FIELDS

_ERROR = {"$ref": "#/components/responses/Error"}


_NOT_BLANK = r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028-\u2029\u202f\u205f\u3000]"
"""A character Python's ``str.strip`` keeps (the server's idea of not empty), in a pattern ECMA and Python
read alike: the exact complement of ``str.isspace`` (a test checks it)."""
_NON_BLANK = {"pattern": _NOT_BLANK, "description": "At least one character that is not white space."}
_REPORT_IN = {
    "type": "object",
    "description": (
        "A report; give a title or a description (or both) with at least one character that is not "
        "white space (a report with neither is a 400)."
    ),
    "properties": {
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "Your id, echoed back."},
        **{
            name: {"type": "string", "maxLength": MAX_FIELD_CHARS.get(name, DEFAULT_FIELD_CHARS)}
            for name in TEXT_FIELDS
        },
        "steps": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["steps"],
            "description": "Steps to reproduce, appended to the description.",
        },
        "created_at": {"type": "string", "format": "date-time"},
    },
    "anyOf": [
        {"required": ["title"], "properties": {"title": _NON_BLANK}},
        {"required": ["description"], "properties": {"description": _NON_BLANK}},
    ],
}

_PREDICTION = {
    "type": "object",
    "required": ["id", "prediction", "probability", "candidates", "uncertain", "explanation"],
    "properties": {
        "id": {"type": "string"},
        "prediction": {
            "oneOf": [{"type": "string"}, {"type": "number"}],
            "nullable": True,
            "description": "null when nothing qualifies (duplicates: no stored report is similar); "
            "fix-time: the median number of days to a fix (see unit and interval)",
        },
        "unit": {"type": "string", "description": "fix-time: what prediction counts (days)"},
        "interval": {
            "type": "object",
            "description": "fix-time: the range the fix falls in with the given probability",
            "properties": {
                "low": {"type": "number"},
                "high": {"type": "number"},
                "quantiles": {"type": "array", "items": {"type": "number"}},
                "probability": {"type": "number"},
            },
        },
        "summary": {"type": "string", "description": "fix-time: the estimate in words"},
        "label_text": {
            "type": "string",
            "nullable": True,
            "description": "the prediction in words for a person (not_defect: 'Not a defect'); names the "
            "tracker gave (components, ids, paths) as they are; null with the prediction",
            "example": "Not a defect",
        },
        "probability": {
            "type": "number",
            "description": "the answer's chance; fix-time: the interval's (0.8), no class probability",
        },
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "label_text": {"type": "string", "description": "the label in words"},
                    "probability": {"type": "number"},
                    "score": {"type": "number", "description": "duplicates by text similarity: its score"},
                    "days": {"type": "number", "description": "fix-time: fixed within this many days"},
                    "catch_all": {
                        "type": "boolean",
                        "description": "component: a bucket (Untriaged, General, a folded '(other)'), "
                        "never the prediction",
                    },
                },
            },
        },
        "catch_all": {
            "type": "string",
            "description": "component: the bucket the model ranked first; the prediction is then the best "
            "real component and uncertain",
        },
        "uncertain": {"type": "boolean"},
        "explanation": {
            "type": "array",
            "description": "the 3-6 strongest reasons, strongest first, in words a person reads (never a "
            "feature name or a stop word)",
            "items": {
                "type": "object",
                "required": ["text", "weight", "kind"],
                "properties": {
                    "text": {"type": "string", "example": "a long log is pasted (120 lines)"},
                    "weight": {"type": "number", "description": "how strongly it pushed the answer"},
                    "kind": {
                        "type": "string",
                        "description": "words, field, product, similar, history or note",
                        "example": "words",
                    },
                },
            },
        },
        "model_version": {"type": "string"},
        "scale": {
            "type": "string",
            "description": "severity and priority: the ordered scale the answer is on "
            "(bugsift.learn.scale.scales), e.g. jira-priority",
            "example": "bugzilla-severity",
        },
        "ranker": {
            "type": "string",
            "enum": ["learned", "text-similarity"],
            "description": "duplicates: the learned re-ranker, or text similarity while none is trained",
        },
        "score": {"type": "number", "description": "duplicates by text similarity: the best candidate's"},
        "calibrated": {
            "type": "boolean",
            "description": "duplicates by text similarity: whether probability is calibrated on the "
            "store's own links (false: too few links, probability 0 and every answer uncertain)",
        },
    },
}


_JOB = {
    "type": "object",
    "required": ["id", "task", "args", "state", "progress", "attempts", "last_log", "result", "error"],
    "properties": {
        "id": {"type": "integer"},
        "task": {"type": "string"},
        "args": {"type": "object"},
        "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "progress": {"type": "object", "description": "e.g. {done, total}"},
        "attempts": {"type": "integer"},
        "last_log": {"type": "string"},
        "result": {"type": "object", "nullable": True},
        "error": {"type": "string", "nullable": True},
        "worker": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "log": {"type": "string", "description": "The whole log (one job only)."},
    },
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _id_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "description": f"{description} A larger id than {MAX_ID} is a 400.",
    }


def _job_request() -> dict[str, Any]:
    """One schema per queueable job: its task name and its arguments, as `bugsift.jobs.args` checks them."""
    tasks = MODEL_TASKS  # its pattern admits label:NAME and field:NAME
    variants = []
    for task in QUEUEABLE:
        specs = web_arg_specs(task)
        args = {
            "type": "object",
            "properties": {name: json_schema(spec, tasks) for name, spec in specs.items()},
            "required": [name for name, spec in specs.items() if spec.required],
            "additionalProperties": False,
        }
        if not args["required"]:
            del args["required"]
        variants.append(
            {
                "type": "object",
                "required": ["task", "args"] if "required" in args else ["task"],
                "properties": {"task": {"type": "string", "enum": [task]}, "args": args},
            }
        )
    return {
        "oneOf": variants,
        "description": (
            "The job and its arguments. A sync job takes no url: tracker URLs come from the settings "
            "(BUGSIFT_BUGZILLA_URL, BUGSIFT_GITHUB_API_URL, BUGSIFT_JIRA_URL)."
        ),
    }


def document() -> dict[str, Any]:
    bearer = [{"bearerToken": []}]
    low, high = LIMIT_RANGE
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "bugsift API",
            "version": "1",
            "description": "Triage predictions, reports, labels, models. Errors are JSON: {error, message}.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/health": {
                "get": {
                    "summary": "Database reachable and models loaded",
                    "responses": {"200": _json({"type": "object"}), **_errors(503)},
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
            },
            "/models": {
                "get": {
                    "summary": "Model registry: versions, metrics, thresholds (scope read)",
                    "security": bearer,
                    "responses": {
                        "200": _json({"type": "array", "items": {"type": "object"}}),
                        **_errors(401, 403),
                    },
                }
            },
            "/predict/{task}": {
                "post": {
                    "summary": "Predict one report or a list (the predict contract); scope predict",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "task",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "anyOf": [
                                    {"type": "string", "enum": list(MODEL_TASKS)},
                                    {"type": "string", "pattern": f"^{MODEL_TASKS.pattern}$"},
                                ],
                                "description": "a task, or label:NAME / field:NAME (docs/fields.md)",
                            },
                        }
                    ],
                    "requestBody": _body(
                        {
                            "oneOf": [
                                _REPORT_IN,
                                {"type": "array", "items": _REPORT_IN, "minItems": 1, "maxItems": MAX_BATCH},
                            ]
                        }
                    ),
                    "responses": {
                        "200": _json({"oneOf": [_PREDICTION, {"type": "array", "items": _PREDICTION}]}),
                        **_errors(400, 401, 403, 404, 413),
                    },
                }
            },
            "/reports/{report_id}": {
                "get": {
                    "summary": "A stored report with its labels (scope read)",
                    "security": bearer,
                    "parameters": [_report_id()],
                    "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 403, 404)},
                }
            },
            "/reports/{report_id}/labels": {
                "post": {
                    "summary": (
                        "Add a human label (it wins over model and imported labels); scope label, "
                        "a triager's or an admin's token"
                    ),
                    "security": bearer,
                    "parameters": [_report_id()],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["name", "value"],
                            "properties": {
                                "name": {"type": "string", "pattern": _NOT_BLANK, "maxLength": 100},
                                "value": {"type": "string", "pattern": _NOT_BLANK, "maxLength": 200},
                                "note": {"type": "string"},
                            },
                        }
                    ),
                    "responses": {
                        "201": _json({"type": "object"}, "Created"),
                        **_errors(400, 401, 403, 404, 413),
                    },
                }
            },
            "/jobs": {
                "get": {
                    "summary": "The newest background jobs, newest first (scope read)",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": low,
                                "maximum": high,
                                "default": DEFAULT_LIMIT,
                            },
                        },
                    ],
                    "responses": {"200": _json({"type": "array", "items": _JOB}), **_errors(400, 401, 403)},
                },
                "post": {
                    "summary": "Queue a train, classify, sync or encode job (scope jobs, an admin's token)",
                    "security": bearer,
                    "requestBody": _body(_job_request()),
                    "responses": {
                        "202": _json(_JOB, "Queued; the Location header names the job"),
                        **_errors(400, 401, 403, 413, 503),
                    },
                },
            },
            "/jobs/{job_id}": {
                "get": {
                    "summary": "One job with its whole log (scope read)",
                    "security": bearer,
                    "parameters": [_id_parameter("job_id", "The job's id.")],
                    "responses": {"200": _json(_JOB), **_errors(400, 401, 403, 404)},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": _json(
                    {
                        "type": "object",
                        "required": ["error", "message"],
                        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                    },
                    "Error",
                )
            },
        },
    }


def _report_id() -> dict[str, Any]:
    return _id_parameter(
        "report_id", "bugsift's row id of the report (as /api/v1/reports and the triage queue show it)."
    )
