"""How often two reports of the same problem carry the same component: a ceiling on component precision.

    .venv/bin/python bench/component_label_consistency.py [--data ../shared/data]

Uses the known duplicate pairs of the Apache Jira file whose two reports are in the same project and both
have components. A pair agrees when the reports share at least one component: that is how often a model
that recognised the problem perfectly, and answered with the other report's components, would be right.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections import Counter
from pathlib import Path

from bugsift.sources import read_reports
from bugsift.sources.base import Report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    jira = args.data / "apache-jira"
    components = {
        r.external_id: set(r.components)
        for r in read_reports("jira", jira / "jira_issues.jsonl.xz")
        if isinstance(r, Report)
    }
    pairs, agree = Counter(), Counter()
    with open(jira / "duplicate_pairs.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            first, second = row["duplicate"], row["original"]
            project = first.split("-")[0]
            if project != second.split("-")[0]:
                continue
            a, b = components.get(first), components.get(second)
            if a and b:
                pairs[project] += 1
                agree[project] += bool(a & b)
    print(f"{'project':<12}{'pairs':>7}{'share a component':>20}")
    for project in sorted(pairs):
        print(f"{project:<12}{pairs[project]:>7}{agree[project] / pairs[project]:>20.3f}")
    total = sum(pairs.values())
    print(f"{'all':<12}{total:>7}{sum(agree.values()) / total:>20.3f}")


if __name__ == "__main__":
    main()
