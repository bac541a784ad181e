"""What the demo prints: one line of held-out figures per model, and each answer in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bugsift.learn.kind.selection import candidate_scores
from bugsift.sources.base import Report
from bugsift.store.models import ModelRow
from bugsift.web.names import model_title, value_words


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _chosen(evaluation: dict[str, Any]) -> str:
    selection = evaluation.get("selection") or {}
    if not selection.get("candidates"):
        return ""
    tried = candidate_scores(selection["candidates"])
    return f"\n  settings: {selection['chosen']}, chosen on the training part's newest reports (AUC {tried})"


def _kind_line(evaluation: dict[str, Any]) -> str:
    m, b, t = evaluation["metrics"], evaluation["baseline"], evaluation["at_threshold"]
    hindsight = b.get("hindsight_majority") or {}
    figures = (
        f"  accuracy {_f(m['accuracy'])} (always '{value_words(b.get('majority_class'))}', the training "
        f"majority: {_f(b['accuracy'])}; the test period's: {_f(hindsight.get('accuracy'))}), "
        f"macro-F1 {_f(m['macro_f1'])}, ROC AUC {_f(m.get('roc_auc'))}; sure of {t['coverage']:.0%} of "
        f"the test reports, right on {_f(t['precision'])} of those"
    )
    return figures + _chosen(evaluation)


def _component_line(evaluation: dict[str, Any]) -> str:
    model, base = evaluation["mean"]["model"], evaluation["mean"]["baseline"]
    return (
        f"  the answer a person is shown (never a bucket such as Untriaged): right at top-1 "
        f"{_f(model.get('answer_top1'))}, top-3 {_f(model.get('answer_top3'))}; counting a bucket as right, "
        f"top-1 {_f(model['top1'])}, top-3 {_f(model['top3'])} (the most common components: "
        f"{_f(base['top1'])}, {_f(base['top3'])})"
    )


def _files_line(evaluation: dict[str, Any]) -> str:
    lines = []
    for project in evaluation["projects"]:
        model, plain = project["model"], project["plain"]
        lines.append(
            f"  {project['project']}: a fixed file in the top 5 for {_f(model['top5'])} of "
            f"{project['n_evaluated']} replayed bugs (plain text similarity: {_f(plain['top5'])}), "
            f"MAP {_f(model['map'])} ({_f(plain['map'])})"
        )
    return "\n".join(lines)


LINES = {"defect": _kind_line, "type": _kind_line, "component": _component_line, "files": _files_line}


def trained_line(task: str, evaluation: dict[str, Any]) -> str:
    """The held-out figures of a model just trained."""
    return LINES[task](evaluation)


def kept_line(row: ModelRow, evaluation: dict[str, Any]) -> str:
    """A model trained by an earlier run: its name and, when its evaluation file is there, its figures."""
    when = f"{row.created_at:%Y-%m-%d %H:%M}" if row.created_at else "earlier"
    head = f"  kept {model_title(row)} (trained {when}; `bugsift demo --retrain` trains again)"
    try:
        return f"{head}\n{trained_line(row.task, evaluation)}"
    except (KeyError, TypeError, IndexError):  # no evaluation kept beside the file
        return head


def _reasons(result: dict[str, Any], n: int = 4) -> str:
    texts = [item["text"] for item in result.get("explanation", [])[:n]]
    return f" because {'; '.join(texts)}" if texts else ""


def _sure(result: dict[str, Any]) -> str:
    return " (not sure)" if result.get("uncertain") else ""


def _candidates(result: dict[str, Any]) -> str:
    """The ranked candidates; a bucket (Untriaged, a folded group) is marked: it is never the answer."""
    return ", ".join(
        f"{value_words(c['label'])} {c['probability']:.0%}" + (" (a bucket)" if c.get("catch_all") else "")
        for c in result.get("candidates", [])
    )


def _duplicates(result: dict[str, Any]) -> str:
    found = result.get("candidates", [])
    if not found:
        return "none: no stored bug shares its rarer words"
    best = found[0]
    closest = f"#{best['label']} {str(best.get('title', ''))[:48]!r} (similarity {best.get('score', 0):.2f})"
    if result.get("uncertain"):
        return f"probably none (p {best['probability']:.2f}); the closest is {closest}"
    return f"{closest}, p {best['probability']:.2f}"


def duplicate_lines(reports: Sequence[Report], results: Sequence[dict[str, Any]]) -> list[str]:
    """Where the recorded original of each duplicate ranks among the top 3 (None: further down)."""
    lines, ranks = [], []
    for report, result in zip(reports, results, strict=True):
        labels = [c["label"] for c in result.get("candidates", [])]
        rank = labels.index(report.duplicate_of) + 1 if report.duplicate_of in labels else None
        ranks.append(rank)
        where = f"ranked {rank}" if rank else "not in the top 3"
        lines.append(
            f"    bug {report.external_id} {report.title[:56]!r}: its original #{report.duplicate_of} {where}"
        )
    first = sum(1 for rank in ranks if rank == 1)
    top3 = sum(1 for rank in ranks if rank)
    lines.append(f"    original first for {first} of {len(ranks)}, in the top 3 for {top3}")
    return lines


def report_lines(report: Report, answers: dict[str, dict[str, Any]]) -> list[str]:
    """One newer Mozilla bug: its real defect / component / duplicates answers, beside what Bugzilla says."""
    defect, component, duplicates = answers["defect"], answers["component"], answers["duplicates"]
    now = f"{report.product}::{report.component}" if report.product else "?"
    return [
        f"  bug {report.external_id} {report.title[:72]!r}",
        f"    real defect? {value_words(defect['prediction'])} {defect['probability']:.0%}{_sure(defect)}"
        f"{_reasons(defect)} [Bugzilla type: {report.type or '?'}]",
        f"    component: {value_words(component['prediction'])}{_sure(component)}; ranked: "
        f"{_candidates(component)} [in Bugzilla now: {now}]",
        f"    may duplicate: {_duplicates(duplicates)}"
        + (f" [Bugzilla: duplicate of #{report.duplicate_of}]" if report.duplicate_of else ""),
    ]


def typed_lines(reports: Sequence[Report], results: Sequence[dict[str, Any]]) -> list[str]:
    return [
        f"  {report.title!r} -> {value_words(result['prediction'])} {result['probability']:.0%}"
        f"{_sure(result)}{_reasons(result, 3)}"
        for report, result in zip(reports, results, strict=True)
    ]


def file_lines(report: Report, result: dict[str, Any]) -> list[str]:
    """The five most likely files of a held-out bug, the ones its fix touched marked with *."""
    fixed = set(report.fixed_files)
    shown = [
        f"{'*' if c['label'] in fixed else ' '} {c['label'].rsplit('/', 1)[-1]} {c['probability']:.0%}"
        for c in result.get("candidates", [])
    ]
    hit = sum(1 for c in result.get("candidates", []) if c["label"] in fixed)
    return [
        f"  bug {report.external_id} {report.title[:72]!r}: {hit} of its {len(fixed)} fixed file(s) in the "
        "top 5 (* = touched by the fix)",
        *(f"    {line}" for line in shown),
    ]
