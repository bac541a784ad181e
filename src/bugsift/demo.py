"""The demo: all five answers on real shared data, through the same functions as the CLI.

Mozilla bugs give "real defect?", the component and duplicates; GitHub issues the type; Eclipse AspectJ
the files. The first run trains word-only models, which takes a few minutes on two cores; sentence
embeddings (when installed) are left to background jobs that `--serve` starts, each promoted only if it
beats the word model on held-out data. A later run keeps the models it finds (`--retrain` trains again).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bugsift.demo_lines import (
    duplicate_lines,
    file_lines,
    kept_line,
    report_lines,
    trained_line,
    typed_lines,
)
from bugsift.ingest import import_labels, import_reports
from bugsift.learn.tasks import TaskOptions, evaluation_path, get_task
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ModelRow
from bugsift.store.registry import active_model
from bugsift.store.reports import find_report_ids, row_to_report, select_reports

MOZILLA = "bugzilla-mozilla"
ECLIPSE = "eclipse-localization"
FILES = {
    "bugs": f"{MOZILLA}/bugs_full_add08f170.jsonl.xz",
    "labels": f"{MOZILLA}/bugs_compact_labeled.jsonl",
    "newer": f"{MOZILLA}/fixture_bugs_history_union.jsonl.xz",
    "github": "github-issues/nlbse24_train.csv",
    "eclipse": f"{ECLIPSE}/bug_reports.jsonl.xz",
}
FILES_PROJECT = "AspectJ"  # the smallest Eclipse project (593 reports): its replay takes under a minute
HELD_OUT_FIXES = 3  # AspectJ's newest fixed reports stay out of the store, to be ranked as new reports
SHOWN = 5  # newer Mozilla bugs shown with every answer

# Reports written for the demo (not from any tracker) to show the issue type on text nobody labelled.
OWN_REPORTS = (
    ("mine-1", "App crashes when saving a file with a long name", "Steps: open, save as, type 300 chars."),
    ("mine-2", "Add a dark theme to the settings page", "It would be nice to switch to dark colours."),
    ("mine-3", "How do I configure the proxy for downloads?", "I could not find it in the docs."),
)


@dataclass(frozen=True)
class DemoModel:
    task: str
    tracker: str
    label: str | None = None
    mode: str = "filing"
    project: str | None = None
    candidates: Path | None = None

    def options(self) -> TaskOptions:
        candidates = str(self.candidates) if self.candidates else None
        return TaskOptions(
            label=self.label,
            mode=self.mode,
            tracker=self.tracker,
            project=self.project,
            candidates=candidates,
        )


def _reports(fmt: str, path: Path, tracker: str) -> list[Report]:
    return [item for item in read_reports(fmt, path, tracker=tracker) if isinstance(item, Report)]


def _active(database: Database, model: DemoModel) -> ModelRow | None:
    with database.session() as session:
        try:
            row = active_model(session, model.task, model.label, model.mode)
        except LookupError:
            return None
        session.expunge(row)
        return row


def _kept_evaluation(row: ModelRow) -> dict[str, Any]:
    path = evaluation_path(row.path)
    return json.loads(path.read_text()) if path.is_file() else {}


def ensure_model(
    database: Database, settings: Settings, model: DemoModel, retrain: bool, echo: Callable[[str], None]
) -> None:
    """Train ``model`` unless an active one exists (and ``retrain`` is off); print its held-out figures."""
    row = None if retrain else _active(database, model)
    if row is not None:
        echo(kept_line(row, _kept_evaluation(row)))
        return
    outcome = get_task(model.task).train(database, settings, model.options())
    echo(trained_line(model.task, outcome.evaluation))


def _held_out_fixes(eclipse: list[Report]) -> list[Report]:
    fixed = [r for r in eclipse if r.project == FILES_PROJECT and r.fixed_files and r.created_at]
    return sorted(fixed, key=lambda r: r.created_at)[-HELD_OUT_FIXES:]  # type: ignore[arg-type,return-value]


def _recorded_duplicates(database: Database, tracker: str) -> list[Report]:
    """Stored reports whose recorded original is stored too (the search never offers a report itself)."""
    with database.session() as session:
        reports = [row_to_report(row) for row in session.scalars(select_reports(tracker))]
    stored = {r.external_id for r in reports}
    return [r for r in reports if r.duplicate_of in stored]


def run_demo(
    database: Database,
    settings: Settings,
    data_dir: Path,
    echo: Callable[[str], None] = print,
    retrain: bool = False,
) -> list[DemoModel]:
    """Import, train (or keep), evaluate and predict; returns the models it showed (for `--serve`)."""
    paths = {name: data_dir / relative for name, relative in FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"the demo needs the shared data; missing: {', '.join(missing)}")
    word_only = settings.model_copy(update={"embeddings": "off"})
    defect = [DemoModel("defect", "mozilla", "is_bug", mode) for mode in ("filing", "backlog")]
    component = DemoModel("component", "mozilla")
    issue_type = DemoModel("type", "github")
    files = DemoModel("files", "eclipse", project=FILES_PROJECT, candidates=data_dir / ECLIPSE)

    echo(f"1. Import {paths['bugs'].name}: 1,014 real Mozilla bugs with their comments and field history")
    echo(f"  {import_reports(database, 'bugzilla', [paths['bugs']], tracker='mozilla').line()}")
    labels = import_labels(database, paths["labels"], "is_bug", column="is_bug_derived", tracker="mozilla")
    echo(f"  labels is_bug (from is_bug_derived): {labels.line()}")
    echo("2. 'Is it a real defect?': trained on the older 80%, scored on the newest 20% (time-ordered)")
    for model in defect:
        known = "what the reporter wrote" if model.mode == "filing" else "all known now"
        echo(f" {model.mode} mode ({known}):")
        ensure_model(database, word_only, model, retrain, echo)
    echo("3. Component (product::component as filed), same split")
    ensure_model(database, word_only, component, retrain, echo)

    echo(f"4. Import {paths['github'].name} and learn the issue type (bug / feature / question)")
    echo(f"  {import_reports(database, 'github', [paths['github']], tracker='github').line()}")
    ensure_model(database, word_only, issue_type, retrain, echo)

    eclipse = _reports("bugzilla", paths["eclipse"], "eclipse")
    held_out = _held_out_fixes(eclipse)
    kept_out = {r.external_id for r in held_out}
    echo(
        f"5. Import Eclipse {FILES_PROJECT}'s fixed bugs (but its newest {len(held_out)}) and learn which "
        "source files hold a bug, replaying the history in time order"
    )
    summary = import_reports(
        database,
        "bugzilla",
        [paths["eclipse"]],
        tracker="eclipse",
        keep=lambda r: r.project == FILES_PROJECT and r.external_id not in kept_out,
    )
    echo(f"  {summary.line()}")
    ensure_model(database, word_only, files, retrain, echo)

    echo(f"6. Newer Mozilla bugs the models never saw ({paths['newer'].name}): every answer")
    fixture = _reports("bugzilla", paths["newer"], "mozilla")
    trained_on = {r.external_id for r in _reports("bugzilla", paths["bugs"], "mozilla")}
    unseen = [r for r in fixture if r.external_id not in trained_on]
    newer = unseen[:SHOWN]
    answers = {
        "defect": get_task("defect").predictor(database, defect[0].options()).predict(newer, 2),
        "component": get_task("component").predictor(database, component.options()).predict(newer, 3),
        "duplicates": get_task("duplicates").predictor(database, component.options()).predict(newer, 3),
    }
    for i, report in enumerate(newer):
        for line in report_lines(report, {name: results[i] for name, results in answers.items()}):
            echo(line)

    recorded = _recorded_duplicates(database, "mozilla")
    if recorded:
        echo(
            "  The stored bugs Bugzilla records as duplicates of another stored bug, searched like new ones:"
        )
        found = get_task("duplicates").predictor(database, component.options()).predict(recorded, 3)
        for line in duplicate_lines(recorded, found):
            echo(line)

    echo("7. The issue type of reports written for this demo (no tracker's labels):")
    own = [Report(tracker="demo", external_id=i, title=t, description=d) for i, t, d in OWN_REPORTS]
    for line in typed_lines(own, get_task("type").predictor(database, issue_type.options()).predict(own, 3)):
        echo(line)

    echo(f"8. Source files for {FILES_PROJECT}'s newest fixed bugs (kept out of the store):")
    ranked = get_task("files").predictor(database, files.options()).predict(held_out, 5)
    for report, result in zip(held_out, ranked, strict=True):
        for line in file_lines(report, result):
            echo(line)
    echo(f"9. The {len(unseen)} newer bugs arrive: stored, and answered as `classify` does, for the queue")
    arriving = {r.external_id for r in unseen}
    echo(f"  {queue_arrivals(database, settings, paths['newer'], arriving, [defect[0], component])}")
    return [*defect, component, issue_type, files]


def queue_arrivals(
    database: Database, settings: Settings, path: Path, arriving: set[str], models: list[DemoModel]
) -> str:
    """Import the arriving reports and run `classify` on them for each model: the triage queue then
    holds them with each answer's probability, "not sure" and reasons."""
    from bugsift.jobs.classify import classify
    from bugsift.jobs.core import JobContext

    summary = import_reports(
        database, "bugzilla", [path], tracker="mozilla", keep=lambda r: r.external_id in arriving
    )
    with database.session() as session:
        ids = [i for found in find_report_ids(session, "mozilla", sorted(arriving)).values() for i in found]
    context = JobContext(settings=settings, database=database)
    counts = [
        classify(context, m.task, label=m.label, mode=m.mode, tracker=m.tracker, report_ids=ids)["predicted"]
        for m in models
    ]
    answered = ", ".join(f"{m.task} {n}" for m, n in zip(models, counts, strict=True))
    return f"{summary.line()}; answered: {answered} (the queue: /triage/ once logged in)"
