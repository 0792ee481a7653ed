"""The phone's configuration files: boot files, the common file and the MAC file."""

from __future__ import annotations

from functools import partial

from django.http import HttpResponseBase
from django.utils.crypto import salted_hmac

from devices.config import boot_file, firmware_keys, render_common_config, render_device_config
from devices.models import Device
from devices.serving import (
    PhoneHttpRequest,
    keys,
    memo,
    phone_endpoint,
    release,
    rendered,
    text_file,
)


@phone_endpoint(auth="required", kind="common_file")
def common_config(request: PhoneHttpRequest, code: str) -> HttpResponseBase:
    organisation = request.phone.organisation
    assert organisation is not None  # authenticated
    legacy = request.phone.user_agent.legacy_key_names
    # The same for every phone of the organisation, model and firmware generation: rendered
    # once per version.
    render = partial(render_common_config, organisation, int(code), legacy=legacy)
    name = keys.COMMON_FILE(organisation.pk, code, "v80" if legacy else "v81")
    return text_file(request, memo(name, render))


@phone_endpoint(auth="required", kind="mac_file")
def mac_config(request: PhoneHttpRequest, mac: str) -> HttpResponseBase:
    phone = request.phone
    device = phone.device
    assert device is not None  # authenticated for this MAC
    legacy = phone.user_agent.legacy_key_names  # firmware before V81 reads older key names
    name = keys.MAC_FILE_V80 if legacy else keys.MAC_FILE
    # Two files at most: with the firmware keys (a phone not on its target version) or
    # without. Not one per version reported: a phone could send any number of those.
    firmware = firmware_keys(device, phone.user_agent.firmware)
    if firmware:
        name += ":firmware"
    body = rendered(device, name, partial(_render_mac_file, device, legacy, firmware))
    # Keyed: a plain hash of a file whose other lines are known would let a database dump
    # guess the SIP passwords in it.
    digest = salted_hmac("voipconfig.last-config", body, algorithm="sha256").hexdigest()
    if digest != device.last_config_sha256:
        # Kept for the admin's "what changed since the phone's last download"; written with
        # the last-seen update, and only when it changed.
        phone.remember["last_config_sha256"] = digest
        phone.remember["last_config"] = body
    running = phone.user_agent.firmware[:32]
    if running and running != device.provisioned_firmware:  # how a rollout sees it come back
        phone.remember["provisioned_firmware"] = running
    return text_file(request, body)


def _render_mac_file(device: Device, legacy: bool, firmware: dict[str, str]) -> str:
    body = render_device_config(device, legacy=legacy, firmware=firmware)
    release(device)  # the file is kept now; its accounts and keys need not be
    return body


@phone_endpoint(auth="required", kind="mac_boot")
def mac_boot(request: PhoneHttpRequest, mac: str) -> HttpResponseBase:
    phone = request.phone
    code = phone.user_agent.model_code or _model_code(phone.device)
    return text_file(request, boot_file(code, mac))


@phone_endpoint(auth="required", kind="common_boot")
def common_boot(request: PhoneHttpRequest) -> HttpResponseBase:
    phone = request.phone
    code = phone.user_agent.model_code or _model_code(phone.device)
    return text_file(request, boot_file(code, phone.device.mac if phone.device else None))


def _model_code(device: Device | None) -> int | None:
    model = device.phone_model if device else None
    return model.code if model else None
