"""The OpenAPI 3 document of /api/v1 (a test checks it lists exactly the API's routes)."""

from __future__ import annotations

from typing import Any

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
