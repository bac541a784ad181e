"""Bug localization: rank the source files most likely to hold a report's bug (the ``files`` task).

Modules: `candidates` (files at the buggy version), `history` (similar past reports, fix frequency and
recency), `mentions` (names and stack frames in the report), `source_text` (file contents with ``--repo``),
`gitlog` (fixes named in commit messages), `features` + `ranker` (the learned combination), `replay`
(honest time-ordered evaluation), `model` (the trained localizer), `task` (the task handler).
"""
