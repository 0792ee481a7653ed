from django.contrib import admin
from django.urls import include, path

from voipconfig.views import healthz, metrics

admin.site.site_header = "voipconfig"
admin.site.site_title = "voipconfig"
admin.site.index_title = "Provisioning"

handler500 = "voipconfig.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("api.urls")),
    path("", include("devices.urls")),
    path("", include("phonebooks.urls")),
    path("", include("firmware.urls")),
    path("", include("media_assets.urls")),
]
