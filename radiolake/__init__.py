"""Radio Star Lakehouse: cross-match radio surveys against stellar catalogues to find radio stars."""

__version__ = "0.1.0"
