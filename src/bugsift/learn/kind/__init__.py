"""The kind tasks, `type` (bug / feature / question) and `defect` (a real defect or not): `model`, its
settings chosen on the user's reports (`selection`) and the task handler (`task`)."""
