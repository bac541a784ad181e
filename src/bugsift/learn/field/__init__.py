"""`label:NAME` and `field:NAME` tasks: any imported label set or tracker field as filed (`targets`), and
the task handler (`task`)."""
