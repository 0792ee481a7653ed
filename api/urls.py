from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api.errors import NoSuchRoute
from api.resources import (
    access_log,
    devices,
    media,
    organisations,
    phonebooks,
    profiles,
    unassigned,
)

router = SimpleRouter(trailing_slash=False)
for resource in (organisations, devices, profiles, phonebooks, media, unassigned, access_log):
    resource.register(router)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
    # Last: any other path under /api/v1/ is a problem document too, not Django's HTML 404.
    re_path(r"^[\s\S]*$", NoSuchRoute.as_view(), name="api-no-such-route"),  # newlines too
]
