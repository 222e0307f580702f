"""Ordered schema migrations (``NNN_name.py`` with ``up(migrator, db)`` / ``down``), applied by
``zapx migrate``. They never import the application's models."""

import pathlib

DIRECTORY = str(pathlib.Path(__file__).parent)
