"""Stored values in words wherever a person reads them: the JSON of /suggest and of the API carries
``label_text`` beside the raw ``prediction`` (the form's script shows it), the server-side form and the
pages say "Not a defect", never ``not_defect``; registry keys become "Real defect? · at filing · v1"."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from bugsift.web.names import heading, model_title, reason_markup, value_words, version_words

from .conftest import Web, bearer, csrf_token

WORDS = {"defect": "A defect", "not_defect": "Not a defect"}
REPORT = {"title": "Firefox crashes when printing", "description": "Segfault in the print dialog."}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not_defect", "Not a defect"),
        ("defect", "A defect"),
        ("needs_info", "Needs info"),  # another machine name: humanised
        ("bug", "Bug"),
        ("False", "No"),  # an imported flag
        ("Core::Layout", "Core::Layout"),  # names the tracker gave stay as they are
        ("HADOOP-12", "HADOOP-12"),
        ("src/main/java/org/a_b.java", "src/main/java/org/a_b.java"),
        ("1222958", "1222958"),
        ("Core::(other)", "Core: one of its smaller components"),  # the component model's folded bucket
        ("(other)", "one of the smaller components"),
        (None, ""),
    ],
)
def test_value_words(value: object, words: str) -> None:
    assert value_words(value) == words


def test_model_names() -> None:
    assert version_words("defect:is_bug:filing:v3") == "Real defect? (is_bug) · at filing · v3"
    assert version_words("type:type:backlog:v1") == "Type · in the backlog · v1"
    assert version_words("duplicates-text-similarity") == "duplicates text similarity"
    assert version_words(None) == ""
    row = SimpleNamespace(task="defect", label="defect", mode="filing", version=2)
    assert model_title(row) == "Real defect? · at filing · v2"
    assert heading("Real defect?") == "Real defect?" and heading("Type") == "Type:"
    assert str(reason_markup("words: *freeze*, *<b>*")) == "words: <em>freeze</em>, <em>&lt;b&gt;</em>"


def test_suggest_and_predict_json_carry_the_words(web: Web) -> None:
    token = csrf_token(web.client)
    suggested = web.client.post("/suggest", json=REPORT, headers={"X-CSRFToken": token}).json["defect"]
    assert suggested["label_text"] == WORDS[suggested["prediction"]]
    assert suggested["task_text"] == "Real defect?"
    assert {c["label_text"] for c in suggested["candidates"]} <= set(WORDS.values())
    api = bearer(web.tokens["predict"])
    answer = web.client.post("/api/v1/predict/defect", json=REPORT, headers=api).json
    assert answer["label_text"] == WORDS[answer["prediction"]]
    assert all(c["label_text"] == WORDS[c["label"]] for c in answer["candidates"])
    batch = web.client.post("/api/v1/predict/defect", json=[REPORT], headers=api)
    assert batch.json[0]["label_text"] == answer["label_text"]
    schema = web.client.get("/api/v1/openapi.json").json["paths"]["/predict/{task}"]["post"]
    prediction = schema["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert "label_text" in prediction["properties"]
    assert "label_text" in prediction["properties"]["candidates"]["items"]["properties"]


def test_the_form_without_javascript_shows_words(web: Web) -> None:
    fields = {**REPORT, "csrf_token": csrf_token(web.client), "preview": "1"}
    page = web.client.post("/", data=fields).get_data(as_text=True)
    shown = re.search(r'<div id="suggestion-list">(.*?)</section>', page, re.S)
    assert shown, page
    text = re.sub(r"<[^>]+>", " ", shown.group(1))  # what a person reads (attributes keep the raw value)
    assert "not_defect" not in text and "Real defect?" in text
    assert re.search(r"<strong data-value=\"(not_)?defect\">(A defect|Not a defect)</strong>", page)
