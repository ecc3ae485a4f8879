"""Command-line interface (``attnkit ...``)."""
