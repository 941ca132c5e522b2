"""goat-train: trains and evaluates models from goat-datasets Hub ids (never imports the builders)."""

__version__ = "0.1.0"
