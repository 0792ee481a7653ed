"""The API's `organisations` resources (docs/architecture.md, "The REST API")."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
