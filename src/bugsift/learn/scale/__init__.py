"""Severity and priority on each tracker's ordered scale (`scales`), learned as filed (`targets`), with
settings chosen on the user's reports (`selection`), and the task handler (`task`)."""
