"""The OpenAPI 3 document of /api/v1 (a test checks it lists exactly the API's routes)."""

from __future__ import annotations

from typing import Any

from bugsift.web.joblist import QUEUEABLE

_ERROR = {"$ref": "#/components/responses/Error"}

_REPORT_IN = {
    "type": "object",
    "description": "A report; give a title or a description (or both).",
    "properties": {
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "Your id, echoed back."},
        "title": {"type": "string", "maxLength": 1000},
        "description": {"type": "string"},
        "steps": {"type": "string", "description": "Steps to reproduce, appended to the description."},
        "product": {"type": "string"},
        "component": {"type": "string"},
        "version": {"type": "string"},
        "project": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

_PREDICTION = {
    "type": "object",
    "required": ["id", "prediction", "probability", "candidates", "uncertain", "explanation"],
    "properties": {
        "id": {"type": "string"},
        "prediction": {"type": "string"},
        "probability": {"type": "number"},
        "candidates": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "probability": {"type": "number"}},
            },
        },
        "uncertain": {"type": "boolean"},
        "explanation": {"type": "array", "items": {}},
        "model_version": {"type": "string"},
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


def document() -> dict[str, Any]:
    bearer = [{"bearerToken": []}]
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
                    "responses": {"200": _json({"type": "object"}), "503": _ERROR},
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
                        "401": _ERROR,
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
                                "type": "string",
                                "enum": ["type", "defect", "component", "files", "duplicates"],
                            },
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_REPORT_IN, {"type": "array", "items": _REPORT_IN}]}
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"oneOf": [_PREDICTION, {"type": "array", "items": _PREDICTION}]}),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "404": _ERROR,
                        "413": _ERROR,
                    },
                }
            },
            "/reports/{report_id}": {
                "get": {
                    "summary": "A stored report with its labels (scope read)",
                    "security": bearer,
                    "parameters": [_report_id()],
                    "responses": {"200": _json({"type": "object"}), "401": _ERROR, "404": _ERROR},
                }
            },
            "/reports/{report_id}/labels": {
                "post": {
                    "summary": "Add a human label (it wins over model and imported labels); scope label",
                    "security": bearer,
                    "parameters": [_report_id()],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name", "value"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "value": {"type": "string"},
                                        "note": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "object"}, "Created"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "404": _ERROR,
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
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        },
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": _JOB}),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                    },
                },
                "post": {
                    "summary": "Queue a train, classify, sync or encode job (scope jobs, an admin's token)",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["task"],
                                    "properties": {
                                        "task": {"type": "string", "enum": list(QUEUEABLE)},
                                        "args": {
                                            "type": "object",
                                            "description": 'The job\'s arguments: {"task": "defect"}',
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json(_JOB, "Queued; the Location header names the job"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "503": _ERROR,
                    },
                },
            },
            "/jobs/{job_id}": {
                "get": {
                    "summary": "One job with its whole log (scope read)",
                    "security": bearer,
                    "parameters": [
                        {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {"200": _json(_JOB), "401": _ERROR, "403": _ERROR, "404": _ERROR},
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
    return {
        "name": "report_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
        "description": "bugsift's row id of the report (as /api/v1/reports and the triage queue show it).",
    }
