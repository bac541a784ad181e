"""`bugsift serve`: waitress (production WSGI server, threads) by default, Flask's dev server with --dev."""

from __future__ import annotations

import click

from bugsift.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader and debugger.")
@click.option(
    "--threads", type=int, default=None, help="Worker threads of waitress [default: setting web_threads]."
)
def serve(host: str, port: int, dev: bool, threads: int | None) -> None:
    """Serve the report form, triage queue, dashboard and JSON API (/api/v1)."""
    from bugsift.web.app import create_app

    settings = Settings()
    app = create_app(settings)
    loaded = app.extensions["bugsift"].predictors.warm(app.config["SUGGEST_TASKS"])
    models = ", ".join(f"{task} {name}" for task, name in loaded.items()) or "none (run `bugsift train TASK`)"
    click.echo(f"bugsift web on http://{host}:{port}/  models: {models}")
    if dev:
        app.run(host=host, port=port, debug=True)
        return
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads or settings.web_threads, ident="bugsift")
