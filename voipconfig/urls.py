from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from voipconfig.views import healthz, metrics

admin.site.site_header = "voipconfig"
admin.site.site_title = "voipconfig"
admin.site.index_title = _("Provisioning")

handler500 = "voipconfig.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The admin's language switch (Django's set_language: POST, CSRF-checked, a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("api.urls")),
    path("", include("devices.urls")),
    path("", include("phonebooks.urls")),
    path("", include("firmware.urls")),
    path("", include("media_assets.urls")),
]
