"""Model files saved before 0.15, when the task modules were not packages under bugsift.learn, still load."""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bugsift.learn import persist
from bugsift.learn.kind.model import build_kind_model
from bugsift.learn.persist import MOVED_MODULES, load_model, save_model, untrusted_types
from bugsift.sources.base import Report

OLD_NAME = {new: old for old, new in MOVED_MODULES.items()}


def as_saved_before_0_15(path: Path) -> Path:
    """The same model file with the module names an older bugsift wrote (a file 0.14 saved looks so)."""
    with zipfile.ZipFile(path) as archive:
        items = {item.filename: archive.read(item) for item in archive.infolist()}
    schema = json.loads(items["schema.json"])

    def rename(node: object) -> None:
        if isinstance(node, dict):
            if node.get("__module__") in OLD_NAME:
                node["__module__"] = OLD_NAME[node["__module__"]]
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    rename(schema)
    items["schema.json"] = json.dumps(schema).encode()
    old = path.with_name(f"old-{path.name}")
    with zipfile.ZipFile(old, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return old


def test_a_kind_model_saved_under_the_old_module_names_loads_and_answers_the_same(
    mozilla: list[Report], tmp_path: Path
) -> None:
    train, test = mozilla[:400], mozilla[400:500]
    model = build_kind_model(char_ngrams=None, cv=3).fit(train, [r.labels["is_bug_derived"] for r in train])
    old = as_saved_before_0_15(save_model(model, tmp_path / "kind.skops"))
    assert '"bugsift.learn.kind"' in zipfile.ZipFile(old).read("schema.json").decode()  # as 0.14 wrote it

    assert untrusted_types(old) == []
    loaded = load_model(old)
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))


def test_an_old_file_with_a_type_no_one_trusts_is_still_refused(tmp_path: Path) -> None:
    class Smuggled:  # not in any trusted list, under the old name or the new one
        pass

    old = as_saved_before_0_15(save_model({"model": Smuggled()}, tmp_path / "evil.skops"))
    assert any(t.endswith("Smuggled") for t in untrusted_types(old))
    with pytest.raises(persist.RefusedModelFile):
        load_model(old)


def test_every_moved_module_holds_trusted_types_under_its_new_name() -> None:
    trusted = {t.rsplit(".", 1)[0] for t in persist.trusted_types()}
    for old, new in MOVED_MODULES.items():
        assert new in trusted, f"{old} -> {new} holds no trusted type: the mapping is stale"
        importlib.import_module(new)
