from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def trivial(request: HttpRequest) -> HttpResponse:
    """No database, no template: what the stack itself costs per request."""
    return HttpResponse("ok\n", content_type="text/plain")


def naive(request: HttpRequest, mac: str) -> HttpResponse:
    """The issue's yardstick: one select and one insert per request, nothing else."""
    from devices.models import AccessLog, Device

    device = Device.objects.get(mac=mac)
    AccessLog.objects.create(
        path=request.path, mac=mac, device=device, outcome="success", status_code=200
    )
    return HttpResponse(device.label, content_type="text/plain")


urlpatterns = [
    path("bench/trivial", trivial),
    path("bench/naive/<str:mac>", naive),
    path("", include("voipconfig.urls")),
]
