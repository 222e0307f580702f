"""The HTTP API (Falcon): ``create_app(deps)`` and ``get_app()`` for gunicorn."""

from api.app import create_app, get_app, routes
from api.resources.base import Deps

__all__ = ["Deps", "create_app", "get_app", "routes"]
