"""The demo: the whole pipeline on real shared data, end to end, through the same functions as the CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bugsift.ingest import import_labels, import_reports
from bugsift.learn.lifecycle import load_active, train_task
from bugsift.learn.predict import predict_reports
from bugsift.learn.training import Evaluation
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import find_report_ids

MOZILLA = "bugzilla-mozilla"
FILES = {
    "bugs": f"{MOZILLA}/bugs_full_add08f170.jsonl.xz",
    "labels": f"{MOZILLA}/bugs_compact_labeled.jsonl",
    "newer": f"{MOZILLA}/fixture_bugs_history_union.jsonl.xz",
    "github": "github-issues/nlbse24_train.csv",
}


def _reports(path: Path) -> list[Report]:
    return [item for item in read_reports("bugzilla", path) if isinstance(item, Report)]


def _summary(evaluation: Evaluation) -> str:
    m, b, t = evaluation.metrics, evaluation.baseline, evaluation.at_threshold
    auc = m.get("roc_auc")
    precision = "n/a" if t["precision"] is None else f"{t['precision']:.3f}"
    return (
        f"  accuracy {m['accuracy']:.3f} (majority baseline {b['accuracy']:.3f}), "
        f"macro-F1 {m['macro_f1']:.3f}, "
        f"ROC AUC {'n/a' if auc is None else f'{auc:.3f}'}; confident on {t['coverage']:.0%} "
        f"of the test reports at precision {precision}"
    )


def run_demo(
    database: Database, settings: Settings, data_dir: Path, echo: Callable[[str], None] = print
) -> None:
    paths = {name: data_dir / relative for name, relative in FILES.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"the demo needs the shared data; missing: {', '.join(missing)}")

    echo(f"1. Import {paths['bugs'].name}: real Mozilla bugs with their comments and field history")
    summary = import_reports(database, "bugzilla", [paths["bugs"]], tracker="mozilla")
    echo(f"  {summary.line()}")
    labels = import_labels(database, paths["labels"], "is_bug", column="is_bug_derived", tracker="mozilla")
    echo(f"  labels is_bug (from is_bug_derived): {labels.line()}")

    echo("2. Train 'is it a real defect?' on the older 90%, test on the newest 10% (time-ordered)")
    for mode in ("filing", "backlog"):
        _, evaluation = train_task(database, settings, "defect", "is_bug", mode, "mozilla", test_fraction=0.1)
        echo(f" {mode} mode ({'title and first comment' if mode == 'filing' else 'everything known now'}):")
        echo(_summary(evaluation))

    echo(f"3. Import {paths['github'].name} and train the issue type (bug / feature / question)")
    echo(f"  {import_reports(database, 'github', [paths['github']], tracker='github').line()}")
    _, evaluation = train_task(database, settings, "type", None, "filing", tracker="github")
    echo(_summary(evaluation))

    echo(f"4. Predict for {paths['newer'].name}: the Mozilla bugs in it that the models never saw")
    fixture = _reports(paths["newer"])
    with database.session() as session:
        known = set(find_report_ids(session, "mozilla", [r.external_id for r in fixture]))
    newer = [report for report in fixture if report.external_id not in known]
    loaded = load_active(database, "defect", "is_bug", "filing")
    predictions = predict_reports(loaded.model, newer, loaded.threshold, top_k=2, explain_n=5)
    agreement: Counter[str] = Counter()
    for report, result in zip(newer, predictions, strict=True):
        if report.type and not result["uncertain"]:
            truth = "defect" if report.type == "defect" else "not_defect"
            agreement["right" if truth == result["prediction"] else "wrong"] += 1
    for report, result in list(zip(newer, predictions, strict=True))[:5]:
        words = "; ".join(item["text"] for item in result["explanation"][:5])
        echo(
            f"  bug {result['id']} [{report.type}] {report.title[:70]!r}\n"
            f"    -> {result['prediction']} p={result['probability']:.2f}"
            f"{' (uncertain)' if result['uncertain'] else ''}; because of: {words}"
        )
    confident = agreement["right"] + agreement["wrong"]
    if confident:
        echo(
            f"  against their own Bugzilla type field: {agreement['right']}/{confident} "
            "confident predictions "
            f"agree ({agreement['right'] / confident:.0%}); {len(newer) - confident} left as uncertain"
        )
    echo(
        "Next: `bugsift predict defect --input FILE`, `bugsift evaluate type --tracker github --split kfold`."
    )
