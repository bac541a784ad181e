"""How bugsift's costs grow with the store: the shared Jira reports replicated 1x, 3x, 10x, 30x.

    nice -n 10 .venv/bin/python bench/scale.py [--factors 1,3,10] [--data ../shared/data] [--keep DIR]

Copy k of the 32,721 Apache Jira reports is renamed (project HIVE becomes HIVE, HIVEX1, HIVEX2 ...; keys
and duplicate links follow), so every copy is a tracker of its own with the same text. For each factor, in
a fresh SQLite home, each stage runs in a child process so its peak RSS is its own:
- import: `ingest.import_reports` of the replicated file (seconds, reports/s, peak RSS);
- train defect: `bugsift train defect` (filing mode, word-only, settings chosen as a user's `train` does);
- queries (one process, models loaded first): median ms of `predict` for one report in process, of the
  duplicates top 10 (text similarity: no ranker is trained here) and of the form's `/suggest` endpoint
  (Flask test client: server time, rendering included), each over the same 30 held-back titles;
- the database file and its bytes per report.
The last table divides each cost by the 1x figure beside the factor itself: linear growth reads 3.0 at
3x, sub-linear less. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JIRA = "apache-jira/jira_issues.jsonl.xz"
KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-(\d+)$")

# ru_maxrss of a child started by fork + exec counts the parent's size at the fork (Linux keeps the old
# mm's high-water mark at exec): this bench's own 458 MB showed as every import's peak. VmHWM does not.
PEAK = """
def own_peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
"""

IMPORT = PEAK + """
import json, resource, sys, time
from pathlib import Path
from bugsift.ingest import import_reports
from bugsift.settings import Settings
from bugsift.store.db import open_database
database = open_database(Settings(home=Path(sys.argv[2])))
start = time.perf_counter()
summary = import_reports(database, "jira", [Path(sys.argv[1])], batch_size=1000)
reader_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # at least ours at its start
print(json.dumps({"seconds": time.perf_counter() - start, "n": summary.counts.imported,
                  "peak_mb": max(own_peak_mb(), reader_mb)}))  # the larger of the importer and its reader
"""

TRAIN = PEAK + """
import json, sys, time
from pathlib import Path
from bugsift.learn.lifecycle import train_task
from bugsift.settings import Settings
from bugsift.store.db import open_database
settings = Settings(home=Path(sys.argv[1]), embeddings="off")
database = open_database(settings)
start = time.perf_counter()
row, evaluation = train_task(database, settings, "defect", None, "filing", None, None, None)
print(json.dumps({"seconds": time.perf_counter() - start, "auc": evaluation.metrics.get("roc_auc"),
                  "peak_mb": own_peak_mb()}))
"""

QUERIES = PEAK + """
import json, re, statistics, sys, time
from pathlib import Path
from bugsift.learn.tasks import TaskOptions, get_task
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import open_database
from bugsift.web.app import create_app
# one client asks 31 times in a row: the per-address limit would answer 429, which is not a cost
settings = Settings(home=Path(sys.argv[1]), embeddings="off", web_suggest_tasks="defect,duplicates",
                    web_suggest_rate_limit="10000 per minute")
database = open_database(settings)
titles = json.loads(Path(sys.argv[2]).read_text())
asked = [Report(tracker="jira", external_id=f"ask-{i}", project="HIVE", title=t, description=d)
         for i, (t, d) in enumerate(titles)]
defect = get_task("defect").predictor(database, TaskOptions(mode="filing"))
duplicates = get_task("duplicates").predictor(database, TaskOptions())
client = create_app(settings, database).test_client()
page = client.get("/").get_data(as_text=True)  # the form's CSRF token, as the page's script sends it
token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

def median_ms(run):
    run(asked[0])  # warm caches and lazy imports; not counted
    times = []
    for report in asked:
        start = time.perf_counter()
        run(report)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)

def suggest(report):
    body = {"title": report.title, "description": report.description}
    answer = client.post("/suggest", json=body, headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.status_code

print(json.dumps({
    "predict_ms": median_ms(lambda r: defect.predict([r], 3)),
    "duplicates_ms": median_ms(lambda r: duplicates.predict([r], 10)),
    "suggest_ms": median_ms(suggest),
    "peak_mb": own_peak_mb(),
}))
"""


def renamed(record: dict[str, Any], copy: int) -> dict[str, Any]:
    """The record as copy ``copy`` of its project: every key and link renamed alike (copy 0 unchanged)."""
    if copy == 0:
        return record

    def key(value: Any) -> Any:
        found = KEY.match(value) if isinstance(value, str) else None
        return f"{found.group(1)}X{copy}-{found.group(2)}" if found else value

    out = dict(record)
    out["key"] = key(record.get("key"))
    out["jira_project"] = f"{record.get('jira_project')}X{copy}"
    out["issuelinks"] = [
        {name: key(value) for name, value in link.items()} if isinstance(link, dict) else link
        for link in record.get("issuelinks") or []
    ]
    return out


def write_replicated(source: Path, factor: int, target: Path, held_back: int = 30) -> list[list[str]]:
    """Write ``factor`` renamed copies of every record; returns the titles and descriptions of the newest
    ``held_back`` records, which the query stage asks about (they stay in the store: a lookup, not a test)."""
    with lzma.open(source, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    with target.open("w", encoding="utf-8") as out:
        for copy in range(factor):
            for record in records:
                out.write(json.dumps(renamed(record, copy)) + "\n")
    newest = sorted(records, key=lambda r: r.get("created") or "")[-held_back:]
    return [[r.get("summary") or "", (r.get("description") or "")[:4000]] for r in newest]


def child(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"stage failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(data: Path, factor: int, scratch: Path) -> dict[str, Any]:
    home = scratch / f"home-{factor}x"
    home.mkdir()
    replicated = scratch / f"jira-{factor}x.jsonl"
    titles = scratch / "titles.json"
    titles.write_text(json.dumps(write_replicated(data / JIRA, factor, replicated)))
    row: dict[str, Any] = {"factor": factor}
    imported = child(IMPORT, str(replicated), str(home))
    replicated.unlink()  # the store holds it now; keeps the scratch disk to one copy
    row.update(reports=imported["n"], import_s=imported["seconds"], import_mb=imported["peak_mb"])
    row["db_bytes"] = (home / "bugsift.sqlite3").stat().st_size
    trained = child(TRAIN, str(home))
    row.update(train_s=trained["seconds"], train_mb=trained["peak_mb"], auc=trained["auc"])
    row.update(child(QUERIES, str(home), str(titles)))
    return row


def print_tables(rows: list[dict[str, Any]]) -> None:
    print("\n| reports | import s (reports/s) | import peak MB | train defect s | train peak MB | test AUC "
          "| predict ms | duplicates top-10 ms | suggest ms | database MB (bytes/report) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['reports']:,} | {r['import_s']:.0f} ({r['reports'] / r['import_s']:,.0f}) | "
            f"{r['import_mb']:,.0f} | {r['train_s']:.0f} | {r['train_mb']:,.0f} | {r['auc']:.3f} | "
            f"{r['predict_ms']:.1f} | {r['duplicates_ms']:.1f} | {r['suggest_ms']:.1f} | "
            f"{r['db_bytes'] / 1e6:,.0f} ({r['db_bytes'] / r['reports']:,.0f}) |"
        )
    base = rows[0]
    costs = ("import_s", "train_s", "train_mb", "predict_ms", "duplicates_ms", "suggest_ms", "db_bytes")
    print(f"\ngrowth against {base['reports']:,} reports (linear = the size ratio)\n")
    print("| size ratio | " + " | ".join(costs) + " |")
    print("| ---: |" + " ---: |" * len(costs))
    for r in rows[1:]:
        ratios = " | ".join(f"{r[c] / base[c]:.2f}" for c in costs)
        print(f"| {r['reports'] / base['reports']:.1f} | {ratios} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--factors", default="1,3,10", help="comma-separated copies of the Jira data")
    parser.add_argument("--keep", type=Path, help="build the stores here and keep them")
    args = parser.parse_args()
    factors = [int(f) for f in args.factors.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = args.keep or Path(scratch_name)
        scratch.mkdir(parents=True, exist_ok=True)
        for factor in factors:
            start = time.perf_counter()
            rows.append(measure(args.data, factor, scratch))
            seconds = time.perf_counter() - start
            print(f"{factor}x done in {seconds:.0f} s: {json.dumps(rows[-1])}", flush=True)
    print_tables(rows)


if __name__ == "__main__":
    main()
