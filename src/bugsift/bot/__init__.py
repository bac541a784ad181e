"""The triage bot: writes bugsift's confident answers back into the tracker, under rules people set, and
never against a person (`bugsift bot plan|run|log|undo|digest`; see docs/bot.md)."""
