"""goat-datasets: declarative builder of synthetic tool-use datasets on the Hugging Face Hub."""

__version__ = "0.1.0"
