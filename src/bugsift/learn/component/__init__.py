"""Which section of the code: product/component, one calibrated model per tracker or project (`model`),
and the task handler (`task`)."""
