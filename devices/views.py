"""The phone's configuration files: boot files, the common file and the MAC file."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from devices import config_cache
from devices.config import boot_file, render_common_config, render_device_config
from devices.phone import phone_endpoint


def text_file(body: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Length"] = str(len(response.content))
    # These carry credentials: no proxy or browser cache may keep them.
    response["Cache-Control"] = "no-store"
    return response


@phone_endpoint(auth="required")
def common_config(request: HttpRequest, code: str) -> HttpResponse:
    organisation = request.phone.organisation
    # The same for every phone of the organisation and model: rendered once per version.
    render = partial(render_common_config, organisation, int(code))
    return text_file(config_cache.memo(f"common-file:{organisation.pk}:{code}", render))


@phone_endpoint(auth="required")
def mac_config(request: HttpRequest, mac: str) -> HttpResponse:
    phone = request.phone
    render = partial(render_device_config, phone.device)
    body = config_cache.rendered(phone.mac, phone.version, "mac", render)
    # Keyed: a plain hash of a file whose other lines are known would let a database dump
    # guess the SIP passwords in it.
    digest = salted_hmac("voipconfig.last-config", body, algorithm="sha256").hexdigest()
    if digest != phone.device.last_config_sha256:
        # Kept for the admin's "what changed since the phone's last download"; written with
        # the last-seen update, and only when it changed.
        phone.remember.update(last_config_sha256=digest, last_config=body)
    return text_file(body)


@phone_endpoint(auth="required")
def mac_boot(request: HttpRequest, mac: str) -> HttpResponse:
    phone = request.phone
    code = phone.user_agent.model_code or _model_code(phone.device)
    return text_file(boot_file(code, mac))


@phone_endpoint(auth="required")
def common_boot(request: HttpRequest) -> HttpResponse:
    phone = request.phone
    code = phone.user_agent.model_code or _model_code(phone.device)
    return text_file(boot_file(code, phone.device.mac if phone.device else None))


def _model_code(device) -> int | None:
    model = device.phone_model if device else None
    return model.code if model else None
