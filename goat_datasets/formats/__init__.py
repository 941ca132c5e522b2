"""Output row shapes and their `datasets` Features: one place that defines every published column."""
