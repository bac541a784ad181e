"""Sentence-embedding classifiers: skipped without torch and the packaged model, except under CI=true."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone

from bugsift.learn.embeddings import (
    DIMENSIONS,
    TRUSTED_TYPES,
    EmbeddingClassifier,
    SentenceEmbedder,
)
from bugsift.learn.kind.model import build_kind_model
from bugsift.sources.base import Report

# every test here needs the real encoder (tests/conftest.py: skipped on a laptop without it, fails in CI)
pytestmark = pytest.mark.usefixtures("sentence_model")


@pytest.fixture(scope="module")
def small(github: list[Report]) -> tuple[list[Report], list[str], list[Report], list[str]]:
    """20 issues per class to train on (oldest first), the next 5 per class to predict."""
    by_class: dict[str, list[Report]] = {}
    for r in github:
        by_class.setdefault(str(r.type), []).append(r)
    train = [r for rs in by_class.values() for r in rs[:20]]
    test = [r for rs in by_class.values() for r in rs[20:25]]
    return train, [str(r.type) for r in train], test, [str(r.type) for r in test]


def test_embeddings_are_unit_vectors_and_similar_texts_are_close() -> None:
    reports = [
        Report("github", "1", "App crashes on startup", "Segfault when I open the app."),
        Report("github", "2", "Crash when launching the app", "The application crashes at launch."),
        Report("github", "3", "Add a dark theme", "It would be nice to have a dark colour scheme."),
    ]
    emb = SentenceEmbedder().fit(reports).transform(reports)
    assert emb.shape == (3, DIMENSIONS)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_empty_input_and_long_bodies() -> None:
    embedder = SentenceEmbedder(max_length=32).fit([])
    assert embedder.transform([]).shape == (0, DIMENSIONS)
    huge = Report("github", "1", "title", "word " * 100_000)  # cut to max_chars before tokenizing
    assert embedder.transform([huge]).shape == (1, DIMENSIONS)


def test_embedding_classifier_learns_the_issue_types(small) -> None:  # type: ignore[no-untyped-def]
    train, y_train, test, y_test = small
    weights = np.linspace(0.5, 1.0, len(train))
    model = EmbeddingClassifier(max_length=128).fit(train, y_train, sample_weight=weights)
    proba = model.predict_proba(test)
    assert list(model.classes_) == ["bug", "feature", "question"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(test) == np.array(y_test)) > 1 / 3  # better than chance on 15 issues


def test_saved_model_holds_no_network(tmp_path, small) -> None:  # type: ignore[no-untyped-def]
    """skops round trip: only parameters and the logistic regression are saved, not torch objects."""
    train, y_train, test, _ = small
    model = EmbeddingClassifier(max_length=64).fit(train, y_train)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert not [t for t in untrusted if "torch" in t or "sentence_transformers" in t]
    loaded = sio.load(path, trusted=[*untrusted])
    assert set(untrusted) <= set(TRUSTED_TYPES) | {"numpy.dtype", "builtins.str", "builtins.int"}
    np.testing.assert_allclose(loaded.predict_proba(test), model.predict_proba(test), atol=1e-6)
    assert clone(model).get_params() == model.get_params()


def test_the_kind_model_averages_in_the_embedding_model(tmp_path, small) -> None:  # type: ignore[no-untyped-def]
    from bugsift.learn.kind.model import EMBEDDING_SHARE
    from bugsift.learn.persist import load_model, save_model

    train, y, test, _ = small
    plain = build_kind_model().fit(train, y)
    blended = build_kind_model(embeddings=True).fit(train, y)
    assert plain.embedding_model_ is None and blended.embedding_model_ is not None
    expected = (1 - EMBEDDING_SHARE) * plain.predict_proba(test) + EMBEDDING_SHARE * (
        blended.embedding_model_.predict_proba(test)
    )
    np.testing.assert_allclose(blended.predict_proba(test), expected, atol=1e-6)
    # saved and loaded through the project's trusted-types list: same probabilities
    path = tmp_path / "type.skops"
    save_model(blended, path)
    np.testing.assert_allclose(load_model(path).predict_proba(test), blended.predict_proba(test), atol=1e-6)


def test_large_training_sets_give_the_embeddings_a_smaller_share_and_never_pool(
    small, two_projects
) -> None:  # type: ignore[no-untyped-def]
    import bugsift.learn.kind.model as kind

    train, y, test, _ = small  # given the large-store settings, as training may choose them for any size
    plain = build_kind_model(size_profile="large").fit(train, y)
    blended = build_kind_model(embeddings=True, size_profile="large").fit(train, y)
    share = kind.LARGE_SET_EMBEDDING_SHARE
    assert blended.embedding_share_ == share < kind.EMBEDDING_SHARE
    expected = (1 - share) * plain.predict_proba(test) + share * blended.embedding_model_.predict_proba(test)
    np.testing.assert_allclose(blended.predict_proba(test), expected, atol=1e-6)
    # pooling lost on the large Jira set: "auto" keeps one pair there, even with embeddings
    assert build_kind_model(embeddings=True, size_profile="large").pooled_projects(two_projects) == []
    assert build_kind_model(embeddings=True, pool_projects=True).pooled_projects(two_projects) != []


def test_auto_uses_embeddings_only_for_small_training_sets() -> None:
    from bugsift.learn.features import AUTO_SMALL_N

    model = build_kind_model(embeddings="auto")
    assert model._uses_embeddings(300) is True
    assert model._uses_embeddings(AUTO_SMALL_N + 1) is False
    assert build_kind_model(embeddings=False)._uses_embeddings(300) is False


def test_encodings_are_reused(small) -> None:  # type: ignore[no-untyped-def]
    from bugsift.learn import embeddings

    train = small[0][:6]
    first = SentenceEmbedder().fit(train).transform(train)
    calls = []
    encoder = embeddings.load_encoder("cpu")
    original = encoder.encode
    encoder.encode = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[method-assign]
    try:
        again = SentenceEmbedder().fit(train).transform(train + train[:1])
    finally:
        encoder.encode = original  # type: ignore[method-assign]
    assert not calls  # every text came from the cache
    np.testing.assert_array_equal(again[:6], first)
    np.testing.assert_array_equal(again[6], first[0])


def test_body_windows_cut_the_first_and_last_254_word_pieces() -> None:
    from bugsift.learn.embeddings import (
        MAX_WINDOWS,
        WINDOW,
        body_windows,
        body_windows_many,
        clear_cache,
        load_encoder,
    )

    tokenizer = load_encoder().tokenizer
    assert body_windows("") == ("[UNK]", "[UNK]")
    short = "The save button does nothing when the file is read-only."
    assert body_windows(short)[0] == body_windows(short)[1]  # one window: one text, encoded once
    words = [f"word{i}" for i in range(3000)]
    first, last = body_windows(" ".join(words))
    ids = tokenizer(" ".join(words), add_special_tokens=False, verbose=False)["input_ids"]
    assert first == tokenizer.decode(ids[:WINDOW])
    assert last == tokenizer.decode(ids[WINDOW * (MAX_WINDOWS - 1) : WINDOW * MAX_WINDOWS])  # 8th window
    medium = " ".join(words[:150])  # a remainder window shorter than 254 word pieces
    ids = tokenizer(medium, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(ids) > WINDOW and body_windows(medium)[1] == tokenizer.decode(
        ids[WINDOW * ((len(ids) - 1) // WINDOW) :]
    )
    # many at once (one tokenizer batch, repeats cut once): the same windows, in the callers' order
    clear_cache()
    texts = [medium, short, "", medium]
    assert body_windows_many(texts) == [body_windows(text) for text in texts]


def test_three_views_by_default_and_old_single_view_models_still_load(tmp_path, small) -> None:  # type: ignore[no-untyped-def]
    from bugsift.learn.embeddings import DEFAULT_VIEWS, LEGACY_VIEWS, view_texts

    train, y_train, test, _ = small
    model = EmbeddingClassifier(C=1.0).fit(train, y_train)
    assert model.views_ == DEFAULT_VIEWS and model.model_.coef_.shape[1] == 3 * DIMENSIONS
    titles = SentenceEmbedder().fit(test)  # the title view is the title alone
    assert (
        view_texts(test, "title") == [r.title for r in test] and titles.transform(test).shape[1] == DIMENSIONS
    )

    # a model from before the views: title + description in one view, no views / views_ attributes
    old = EmbeddingClassifier(C=1.0, views=LEGACY_VIEWS).fit(train, y_train)
    expected = old.model_.predict_proba(SentenceEmbedder().fit(test).transform(test).astype(np.float64))
    np.testing.assert_allclose(old.predict_proba(test), expected, atol=1e-9)
    del old.views, old.views_
    path = tmp_path / "old.skops"
    sio.dump(old, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert loaded.views == loaded.views_ == LEGACY_VIEWS
    np.testing.assert_allclose(loaded.predict_proba(test), expected, atol=1e-9)
    assert clone(loaded).get_params()["views"] == LEGACY_VIEWS


def test_the_kind_model_pools_projects_with_embeddings(tmp_path, two_projects) -> None:  # type: ignore[no-untyped-def]
    from bugsift.learn.kind.model import EMBEDDING_SHARE
    from bugsift.learn.persist import load_model, save_model

    y = [r.type for r in two_projects]
    model = build_kind_model(embeddings=True).fit(two_projects, y)  # pool_projects "auto": on
    assert sorted(model.project_members_) == ["facebook/react", "microsoft/vscode"]
    assert not build_kind_model(embeddings=False).fit(two_projects, y).project_members_
    react = model.project_members_["facebook/react"]
    vscode = model.project_members_["microsoft/vscode"]
    assert not np.allclose(react.embedding_model_.model_.coef_, vscode.embedding_model_.model_.coef_)
    reports = [two_projects[0], two_projects[-1]]
    expected = [
        (1 - EMBEDDING_SHARE) * m.model_.predict_proba(model.features_.transform([r]))[0]
        + EMBEDDING_SHARE * m.embedding_model_.predict_proba([r])[0]
        for m, r in zip((react, vscode), reports, strict=True)
    ]
    np.testing.assert_allclose(model.predict_proba(reports), expected, atol=1e-9)
    path = tmp_path / "pooled.skops"
    save_model(model, path)
    np.testing.assert_allclose(load_model(path).predict_proba(reports), expected, atol=1e-9)


def test_the_registry_names_the_pooled_projects(tmp_path, two_projects) -> None:  # type: ignore[no-untyped-def]
    from bugsift.learn.lifecycle import train_task
    from bugsift.settings import Settings
    from bugsift.store.db import open_database
    from bugsift.store.reports import upsert_reports

    settings = Settings(home=tmp_path / "home", embeddings="on")
    database = open_database(settings)
    try:
        with database.session() as session:
            upsert_reports(session, two_projects)
        row, _ = train_task(database, settings, "type")
    finally:
        database.dispose()
    assert row.params["uses_embeddings"] is True
    assert row.params["pooled_projects"] == ["facebook/react", "microsoft/vscode"]


def test_encodings_kept_on_disk_are_not_encoded_again(tmp_path, monkeypatch, small) -> None:  # type: ignore[no-untyped-def]
    import bugsift.learn.embeddings as embeddings
    from bugsift.learn.encoding_store import disk_store, use_disk_cache

    texts = [f"{r.title}\n{r.description}"[:500] for r in small[2][:6]]
    use_disk_cache(tmp_path / "encodings.sqlite3")
    try:
        first = embeddings.encode_texts(texts, 128)
        assert len(disk_store(embeddings.DIMENSIONS)) == len(set(texts))
        embeddings.clear_cache()  # a new process: only the file remembers

        def no_encoder(device: str = "cpu") -> None:
            raise AssertionError("encoded again")

        monkeypatch.setattr(embeddings, "load_encoder", no_encoder)
        np.testing.assert_array_equal(embeddings.encode_texts(texts, 128), first)
        with pytest.raises(AssertionError, match="encoded again"):  # another token limit: another key
            embeddings.encode_texts(texts[:1], 64)
    finally:
        use_disk_cache(None)


def test_an_interrupted_encoding_keeps_the_chunks_it_finished(tmp_path, monkeypatch, github) -> None:  # type: ignore[no-untyped-def]
    import bugsift.learn.embeddings as embeddings
    from bugsift.learn.encoding_store import disk_store, use_disk_cache

    real = embeddings.load_encoder()
    calls = []

    class FailsOnTheSecondChunk:
        max_seq_length = 128

        def encode(self, texts, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            if len(calls) == 2:
                raise KeyboardInterrupt  # Ctrl-C in the middle of a long training
            real.max_seq_length = self.max_seq_length
            return real.encode(texts, **kwargs)

    monkeypatch.setattr(embeddings, "ENCODE_CHUNK", 4)
    monkeypatch.setattr(embeddings, "load_encoder", lambda device="cpu": FailsOnTheSecondChunk())
    texts = [f"{r.title} (interrupted)" for r in github[:10]]
    use_disk_cache(tmp_path / "encodings.sqlite3")
    try:
        with pytest.raises(KeyboardInterrupt):
            embeddings.encode_texts(texts, 128)
        assert calls == [4, 4] and len(disk_store(embeddings.DIMENSIONS)) == 4
        embeddings.clear_cache()
        monkeypatch.setattr(embeddings, "load_encoder", lambda device="cpu": real)
        resumed = embeddings.encode_texts(texts, 128)
        assert len(disk_store(embeddings.DIMENSIONS)) == len(set(texts))
        real.max_seq_length = 128
        expected = real.encode(texts, normalize_embeddings=True)  # every row in its place
        np.testing.assert_allclose(resumed, np.asarray(expected, dtype=np.float32), atol=1e-5)
    finally:
        use_disk_cache(None)


def test_a_few_texts_are_encoded_on_one_torch_thread(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch

    import bugsift.learn.embeddings as embeddings

    real = embeddings.load_encoder()
    threads_seen: list[int] = []

    class Recording:
        max_seq_length = 128

        def encode(self, texts, **kwargs):  # type: ignore[no-untyped-def]
            threads_seen.append(torch.get_num_threads())
            real.max_seq_length = self.max_seq_length
            return real.encode(texts, **kwargs)

    monkeypatch.setattr(embeddings, "load_encoder", lambda device="cpu": Recording())
    monkeypatch.setattr(embeddings, "ENCODE_CHUNK", 8)
    default = torch.get_num_threads()
    embeddings.clear_cache()
    embeddings.encode_texts(["one report typed in the form", "and its title"], 128)
    many = [f"report number {i} of a training set" for i in range(embeddings.FEW_TEXTS)]
    embeddings.encode_texts(many, 128)
    assert threads_seen[0] == 1 and set(threads_seen[1:]) == {default}
    assert torch.get_num_threads() == default  # restored
