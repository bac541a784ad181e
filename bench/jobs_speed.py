"""Job queue speed: backlog classification through the queue with one and with two workers, and the
overhead of the queue itself (the round trip of an empty `ping` job), on the embedded backend and on
Celery with Redis.

    python bench/jobs_speed.py --home DIR [--task defect] [--limit N] [--pings 100] \
        [--backends embedded,redis] [--broker redis://127.0.0.1:6379/0]

DIR is a data directory holding the reports and an active model of TASK, for example:

    BUGSIFT_HOME=DIR bugsift import jira ../shared/data/apache-jira/jira_issues.jsonl.xz
    BUGSIFT_HOME=DIR bugsift train defect

Each run deletes every model label first (so the whole backlog is predicted: use a bench store), starts real
`bugsift worker` processes and times the jobs by their own started/finished stamps in the jobs table
(model loading included). Two workers share the backlog as two jobs (``shard``/``shards``).

``--hosts`` gives each worker a data directory of its own (DIR/hosts/host-N), as on separate machines:
the workers then share only the database (``--database URL``, e.g. PostgreSQL; default DIR's SQLite
file), the broker and the models directory (`BUGSIFT_MODELS_PATH`), as docs/deployment.md describes.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import delete, select

from bugsift.jobs.core import database_for, get_job, submit
from bugsift.settings import Settings
from bugsift.store.models import LabelRow


def settings_for(home: Path, backend: str, broker: str, batch: int) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "jobs_queue": f"bench-{uuid.uuid4().hex[:8]}",
        "classify_batch_size": batch,
    }
    if backend != "embedded":
        values.update(jobs_backend="celery", broker_url=broker)
    return Settings(**values)  # type: ignore[arg-type]


def as_host(settings: Settings, n: int) -> Settings:
    """The settings of a worker on another machine: its own data directory, the shared rest."""
    return settings.model_copy(
        update={
            "home": settings.home / "hosts" / f"host-{n}",
            "database_url": settings.resolved_database_url,
            "models_path": settings.models_dir,
        }
    )


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGSIFT_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"BUGSIFT_{name.upper()}"] = str(value)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bugsift", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def wait_done(
    settings: Settings, job_ids: list[int], timeout: float = 3600, poll: float = 0.2
) -> list[tuple[float, int]]:
    """Wait for the jobs; returns (monotonic time, summed progress 'done') samples taken while waiting."""
    database = database_for(settings)
    deadline = time.monotonic() + timeout
    samples = []
    while time.monotonic() < deadline:
        jobs = [get_job(database, job_id) for job_id in job_ids]
        samples.append((time.monotonic(), sum(int(j.progress.get("done") or 0) for j in jobs)))
        if any(j.state == "failed" for j in jobs):
            raise SystemExit(f"a job failed: {[j.error for j in jobs]}")
        if all(j.state == "done" for j in jobs):
            return samples
        time.sleep(poll)
    raise SystemExit(f"jobs {job_ids} not done after {timeout}s")


def classify_run(
    settings: Settings, task: str, workers: int, limit: int | None, logs: Path, hosts: bool = False
) -> str:
    database = database_for(settings)
    with database.session() as session:
        session.execute(delete(LabelRow).where(LabelRow.source == "model"))
    procs = [
        start_worker(as_host(settings, n) if hosts else settings, logs / f"worker-{workers}-{n}.log")
        for n in range(workers)
    ]
    try:
        wait_done(settings, [submit("ping", settings) for _ in range(workers)], 120, 0.05)  # workers up
        each = None if limit is None else -(-limit // workers)
        job_ids = [
            submit("classify", settings, task=task, shard=n, shards=workers, limit=each)
            for n in range(workers)
        ]
        samples = wait_done(settings, job_ids)
    finally:
        stop(procs)
    jobs = [get_job(database, job_id) for job_id in job_ids]
    predicted = sum(job.result["predicted"] for job in jobs)
    seconds = (max(j.finished_at for j in jobs) - min(j.started_at for j in jobs)).total_seconds()
    # Steady rate: from the first committed batch to the end (leaves out imports and model loading).
    first = next((t, done) for t, done in samples if done > 0)
    steady = (samples[-1][1] - first[1]) / max(1e-9, samples[-1][0] - first[0])
    return (
        f"{workers} worker(s): {predicted} reports in {seconds:.1f} s = {predicted / seconds:,.0f} reports/s "
        f"(job start to end, model loading included); after the first batch {steady:,.0f} reports/s"
    )


def ping_run(settings: Settings, count: int, logs: Path) -> str:
    database = database_for(settings)
    procs = [start_worker(settings, logs / "worker-ping.log")]
    try:
        wait_done(settings, [submit("ping", settings)], 120, 0.01)
        rounds = []
        for _ in range(count):  # one at a time: submit -> done, polling the jobs table every 2 ms
            started = time.perf_counter()
            wait_done(settings, [submit("ping", settings)], 60, 0.002)
            rounds.append(time.perf_counter() - started)
        started = time.perf_counter()
        wait_done(settings, [submit("ping", settings) for _ in range(count)], 600, 0.02)
        burst = time.perf_counter() - started
    finally:
        stop(procs)
    rounds.sort()
    with database.session() as session:
        session.execute(select(1))
    return (
        f"empty job round trip: median {1000 * statistics.median(rounds):.0f} ms, "
        f"p90 {1000 * rounds[int(0.9 * len(rounds))]:.0f} ms; a burst of {count}: "
        f"{1000 * burst / count:.1f} ms per job ({count / burst:,.0f} jobs/s)"
    )


def predictor_split(settings: Settings, task: str, count: int, batch: int) -> str:
    """Where one worker's time goes, in process: loading rows, features, probabilities, explanations."""
    from bugsift.learn.explain import explain_batch
    from bugsift.learn.tasks import TaskOptions, get_task
    from bugsift.store.models import ReportRow
    from bugsift.store.reports import row_to_report

    database = database_for(settings)
    model = get_task(task).predictor(database, TaskOptions()).loaded.model
    spent = dict.fromkeys(("load rows", "features", "probabilities", "explanations"), 0.0)
    for start in range(0, count, batch):
        clock = time.perf_counter()
        with database.session() as session:
            query = select(ReportRow).order_by(ReportRow.id).offset(start).limit(batch)
            reports = [row_to_report(row) for row in session.scalars(query)]
        spent["load rows"] += time.perf_counter() - clock
        clock = time.perf_counter()
        matrix = model.features_.transform(reports)
        spent["features"] += time.perf_counter() - clock
        clock = time.perf_counter()
        proba = model.model_.predict_proba(matrix)
        spent["probabilities"] += time.perf_counter() - clock
        clock = time.perf_counter()
        explain_batch(model, matrix, proba.argmax(axis=1))
        spent["explanations"] += time.perf_counter() - clock  # the first batch includes the one-time setup
    parts = ", ".join(f"{name} {1000 * seconds / count:.2f}" for name, seconds in spent.items())
    return (
        f"in process, ms per report over {count}: {parts}; total {count / sum(spent.values()):,.0f} reports/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--task", default="defect")
    parser.add_argument("--limit", type=int, default=None, help="reports per classify run (default: all)")
    parser.add_argument("--batch", type=int, default=500, help="classify_batch_size")
    parser.add_argument("--pings", type=int, default=100)
    parser.add_argument("--backends", default="embedded,redis")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--skip-classify", action="store_true")
    parser.add_argument("--hosts", action="store_true", help="a data directory per worker (see above)")
    parser.add_argument("--database", default=None, help="database URL (default: DIR's SQLite file)")
    parser.add_argument(
        "--split", type=int, default=4000, help="reports of the in-process breakdown (0: none)"
    )
    args = parser.parse_args()
    if args.split and not args.skip_classify:
        local = Settings(home=args.home, database_url=args.database)
        print(predictor_split(local, args.task, args.split, args.batch), flush=True)
    logs = args.home / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for backend in args.backends.split(","):
        settings = settings_for(args.home, backend, args.broker, args.batch)
        settings = settings.model_copy(update={"database_url": args.database})
        print(
            f"== {backend} (queue {settings.jobs_queue}, batch {args.batch}, {os.cpu_count()} CPUs)",
            flush=True,
        )
        if not args.skip_classify:
            for workers in (1, 2):
                run = classify_run(settings, args.task, workers, args.limit, logs, args.hosts)
                print(f"classify{' (a host each)' if args.hosts else ''} {run}", flush=True)
        print(ping_run(settings, args.pings, logs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
