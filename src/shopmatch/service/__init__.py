"""The HTTP service: search, catalog updates, explanations, metrics and the web page (the ``serve`` extra)."""

from shopmatch.extras import require

require("serve", "the HTTP service")

from shopmatch.service.app import create_app  # noqa: E402
from shopmatch.service.settings import ServiceSettings  # noqa: E402

__all__ = ["ServiceSettings", "create_app"]
