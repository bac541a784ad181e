"""`bugsift bot plan|run|log|undo|digest`: the triage bot from the command line."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import click


def _rules(app: Any) -> list[Any]:
    from bugsift.bot.rules import RulesError, load_rules

    try:
        return load_rules(app.settings.bot_rules_path)
    except RulesError as error:
        raise click.ClickException(str(error)) from None


def _adapters(app: Any) -> Any:
    """Rule -> its tracker's adapter, one per kind, made on first use."""
    from bugsift.bot.trackers import adapter_for, check_rule

    made: dict[str, Any] = {}

    def adapter(rule: Any) -> Any:
        kind = rule.kind or rule.tracker
        try:
            if kind not in made:
                made[kind] = adapter_for(kind, app.settings)
            check_rule(made[kind], rule)
        except ValueError as error:
            raise click.ClickException(f"rule {rule.name}: {error}") from None
        return made[kind]

    adapter.made = made  # type: ignore[attr-defined]
    return adapter


@click.group()
def bot() -> None:
    """The triage bot: writes confident answers back into the tracker under the rules in
    BUGSIFT_BOT_RULES (default: bot.toml in the data directory; see docs/bot.md)."""


@bot.command("plan")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per decision.")
@click.option("--rule", "rule_name", help="Only this rule.")
@click.option("--all", "show_all", is_flag=True, help="List every suggestion too, not only their counts.")
@click.pass_obj
def plan_command(app: Any, as_json: bool, rule_name: str | None, show_all: bool) -> None:
    """Show what the bot would do now and why (probability, threshold, reasons); changes nothing."""
    from bugsift.bot.planner import plan

    rules = [r for r in _rules(app) if rule_name in (None, r.name)]
    if not rules:
        raise click.ClickException(f"no rule named {rule_name!r}")
    adapters = _adapters(app)
    for rule in rules:
        adapters(rule)  # a rule its tracker cannot carry out is refused now, whatever the model answers
    plans = plan(app.database, rules, lambda rule, raw: _version(adapters, rule, raw))
    for rule_plan in plans:
        if as_json:
            if rule_plan.problem:
                click.echo(json.dumps({"rule": rule_plan.rule.name, "problem": rule_plan.problem}))
            for decision in rule_plan.decisions:
                click.echo(json.dumps(decision.as_dict(), default=str))
            continue
        _echo_plan(rule_plan, show_all)


def _trusted_label(chosen: Any, target: float) -> str:
    """One trusted label in words: from which probability, how precise there, and how common it is."""
    text = (
        f"{chosen.label!r} from p={chosen.threshold:.2f}: held-out precision {chosen.precision:.2f} "
        f"over {chosen.support} answers"
    )
    if chosen.base_rate is None:
        return text
    text += f"; {chosen.base_rate:.0%} of held-out reports are {chosen.label!r}"
    if chosen.says_little(target):
        text += " (writing it on every report would meet this precision too: it tells people little)"
    return text


def _version(adapters: Any, rule: Any, raw: dict[str, Any]) -> str | None:
    return adapters(rule).version_of(raw)


def _echo_plan(rule_plan: Any, show_all: bool) -> None:
    rule = rule_plan.rule
    act = [d for d in rule_plan.decisions if d.verdict == "act"]
    trusted = sorted(label for label, t in rule_plan.thresholds.items() if t.threshold is not None)
    click.echo(
        f"rule {rule.name} ({rule.task} -> {rule.action} on {rule.tracker}, precision {rule.precision:.2f}, "
        f"apply {'yes' if rule.apply else 'no: suggestions only'})"
    )
    if rule_plan.scale:
        click.echo(f"  answers on the scale {rule_plan.scale}; the tracker's default is never written")
    if rule_plan.problem:
        click.echo(f"  cannot plan: {rule_plan.problem}")
        return
    if rule_plan.paused:
        click.echo(f"  {rule_plan.paused}")
    if rule_plan.margin:
        click.echo(
            f"  thresholds aim at {min(0.99, rule.precision + rule_plan.margin):.2f}: on this store's own "
            f"held-out reports, precision fell {rule_plan.margin:.2f} from the older half to the newer half"
        )
    if rule_plan.thresholds:
        click.echo(f"  labels trusted at this precision: {len(trusted)} of {len(rule_plan.thresholds)}")
        aimed = min(0.99, rule.precision + rule_plan.margin)
        for label in trusted:
            click.echo(f"    {_trusted_label(rule_plan.thresholds[label], aimed)}")
    click.echo(f"  {len(act)} to do, {len(rule_plan.decisions) - len(act)} only suggested")
    shown = rule_plan.decisions if show_all else act
    for decision in shown:
        verb = "DO " if decision.verdict == "act" else "   "
        change = f"{decision.field}: {decision.old_value or '(none)'} -> {decision.new_value or '(nothing)'}"
        click.echo(f"  {verb}{decision.tracker} {decision.external_id} {change}  [{decision.why}]")
        reasons = "; ".join(r.get("text", "") for r in decision.explanation[:3])
        if reasons and decision.verdict == "act":
            click.echo(f"       why: {reasons}")
    suggested = Counter(d.new_value for d in rule_plan.decisions if d.verdict != "act")
    if suggested and not show_all:
        counts = ", ".join(f"{value} {n}" for value, n in suggested.most_common(8))
        more = ", ..." if len(suggested) > 8 else ""
        click.echo(f"  only suggested: {counts}{more} (--all lists each with the reason)")


@bot.command("run")
@click.option(
    "--once", is_flag=True, help="One pass, then exit (without it: a pass every BUGSIFT_BOT_EVERY_MINUTES)."
)
@click.option("--json", "as_json", is_flag=True, help="The pass's counts as JSON.")
@click.pass_obj
def run_command(app: Any, once: bool, as_json: bool) -> None:
    """Carry out the rules with apply = true: review earlier actions, plan, check each report live, write."""
    from bugsift.bot.runner import run_once

    every = app.settings.bot_every_minutes
    if not once and every <= 0:
        raise click.ClickException("say --once, or set BUGSIFT_BOT_EVERY_MINUTES for a pass every N minutes")
    while True:
        rules = _rules(app)
        adapters = _adapters(app)
        try:
            summary = run_once(app.database, rules, adapters, log=lambda line: click.echo(line, err=True))
        finally:
            for adapter in adapters.made.values():
                adapter.close()
        if as_json:
            click.echo(json.dumps(summary.as_dict()))
        else:
            click.echo(
                f"bot: {summary.done} done, {summary.skipped} skipped (a person acted), "
                f"{summary.failed} failed, "
                f"{summary.suggested} only suggested, {summary.reverted} reverted by people, "
                f"{summary.resumed} resumed from an interrupted run"
            )
        if once:
            return
        time.sleep(every * 60)


@bot.command("log")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per action.")
@click.option("--rule", "rule_name", help="Only this rule.")
@click.option("--state", help="Only actions in this state (done, skipped, suggest, reverted ...).")
@click.option("--limit", default=50, show_default=True, help="Newest actions shown.")
@click.pass_obj
def log_command(app: Any, as_json: bool, rule_name: str | None, state: str | None, limit: int) -> None:
    """What the bot did, skipped and only suggested, newest first, with the tracker's answers."""
    from bugsift.bot.log import actions, live_precision

    rows = actions(app.database, rule_name, state, limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, default=str))
        else:
            click.echo(
                f"#{row['id']} {row['updated_at']:%Y-%m-%d %H:%M} {row['rule']} {row['state']}: "
                f"{row['tracker']} "
                f"{row['external_id']} {row['field']} {row['old_value'] or '(none)'} -> {row['new_value']} "
                f"p={row['probability'] or 0:.2f} [{row['reason']}]"
            )
    if not as_json:
        for line in live_precision(app.database, _rules(app)):
            click.echo(line.text())


@bot.command("undo")
@click.argument("action_id", type=int, required=False)
@click.option("--since", help="Undo every action done since this ISO 8601 time (e.g. 2026-12-01T10:00).")
@click.pass_obj
def undo_command(app: Any, action_id: int | None, since: str | None) -> None:
    """Put back the old value of ACTION_ID (or of every action since a time), unless a person changed it."""
    from bugsift.bot.log import done_since
    from bugsift.bot.runner import undo

    if (action_id is None) == (since is None):
        raise click.ClickException("give one ACTION_ID or --since TIME")
    ids = [action_id] if action_id is not None else done_since(app.database, _parse_time(since))
    rules = {rule.name: rule for rule in _rules(app)}
    adapters = _adapters(app)
    failures = 0
    for one in ids:
        rule = rules.get(_rule_of(app, one))
        if rule is None:
            raise click.ClickException(f"action {one}: its rule is no longer in the rules file")
        try:
            undo(app.database, rule, adapters(rule), one)
            click.echo(f"action {one}: undone")
        except (LookupError, ValueError) as error:
            failures += 1
            click.echo(str(error), err=True)
    if failures and action_id is not None:
        raise SystemExit(1)
    if since is not None:
        click.echo(f"{len(ids) - failures} of {len(ids)} actions undone")


def _rule_of(app: Any, action_id: int) -> str | None:
    from bugsift.store.models import BotActionRow

    with app.database.session() as session:
        row = session.get(BotActionRow, action_id)
        if row is None:
            raise click.ClickException(f"no bot action {action_id} (see `bugsift bot log`)")
        return row.rule


def _parse_time(text: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise click.ClickException(
            f"--since {text!r}: not an ISO 8601 time (e.g. 2026-12-01T10:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bot.command("digest")
@click.option("--hours", default=24.0, show_default=True, help="The period the digest covers.")
@click.option("--send", is_flag=True, help="Mail it to BUGSIFT_BOT_DIGEST_TO instead of printing it.")
@click.pass_obj
def digest_command(app: Any, hours: float, send: bool) -> None:
    """What the bot did and what it only suggests, over the last HOURS."""
    from bugsift.bot.digest import digest_text, send_digest

    subject, body = digest_text(app.database, _rules(app), hours)
    if not send:
        click.echo(f"{subject}\n\n{body}")
        return
    try:
        sent = send_digest(app.settings, subject, body)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"digest not sent: {error}") from None
    click.echo(f"digest sent to {', '.join(sent)}")
