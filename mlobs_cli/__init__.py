"""mlobs: a command-line toolkit for the on-call engineers of ML model serving."""

__version__ = "0.1.0"
