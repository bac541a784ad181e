"""Models: one package per task on a shared base.

Tasks: `kind` (type and defect), `component`, `files`, `duplicates`, `scale` (severity and priority),
`fix_time`, `field` (any label set or tracker field). Each holds its model and its `task` handler, which
`bugsift.learn.tasks` registers.

The shared base: `features` and `vectorizers` (text features), `embeddings` (sentence encodings),
`targets` and `training` (labels as filed, time-ordered splits), `explain` and `reasons` (why, in words),
`persist` (model files: skops with a trusted-types list), `lifecycle` (store to file and back).
Nothing is imported here so that ``import bugsift.learn.x`` stays cheap.
"""
