from bugsift.jobs.commands import cli

cli()
