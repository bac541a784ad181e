"""Days from filing to a fix, with still-open reports as lower bounds: `target`, `history`, `censored`,
`model`, `evaluation`, `predict` and the task handler (`task`)."""
