"""The HTTP service: search, catalog updates, explanations, metrics and the web page."""

from shopmatch.service.app import create_app
from shopmatch.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
