"""Models: text features, one module per task (kind, component, ...), explanations and model files.

Kind family: `bugsift.learn.features.ReportFeatures`, `bugsift.learn.kind.KindClassifier` /
`build_kind_model`, `bugsift.learn.explain.explain`, `bugsift.learn.persist.save_model` / `load_model`.
Nothing is imported here so that ``import bugsift.learn.x`` stays cheap.
"""
