"""Rendering a phone's files from the database: one function per file, used by the views,
the admin and the tests.

A config is an ordered mapping of Yealink keys to values, built in layers: defaults ->
organisation -> device model -> device -> raw overrides (organisation's, then device's).
A later layer replaces a key in place; it never duplicates it.

Other apps add keys without this module importing them: they register a contributor
(`register_device_contributor`) in their AppConfig.ready(), and the MAC file calls each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from django.conf import settings

from devices.models import Device, SipAccount
from devices.phone_models import PhoneModel, common_file_name, models_for_code
from devices.serving import sip_accounts
from organisations.config_syntax import parse_overrides, render_lines
from organisations.models import Organisation

Config = dict[str, str]
DeviceContributor = Callable[[Device], Iterable[tuple[str, str]] | Mapping[str, str]]

_device_contributors: list[DeviceContributor] = []

DEFAULTS: Config = {
    "static.auto_provision.pnp_enable": "0",
    "static.auto_provision.repeat.enable": "1",
    "static.auto_provision.repeat.minutes": "30",
    "local_time.ntp_server1": "pool.ntp.org",
    "lang.gui": "English",
    "lang.wui": "English",
}


def register_device_contributor(contributor: DeviceContributor) -> DeviceContributor:
    """Add keys to every MAC file: `contributor(device)` returns (key, value) pairs.

    It runs once per MAC file request, so it must cost a constant number of queries.
    """
    if contributor not in _device_contributors:
        _device_contributors.append(contributor)
    return contributor


def common_config(organisation: Organisation, model_code: int | None = None) -> Config:
    """What every phone of the organisation shares: `y0000000000XX.cfg`."""
    config = dict(DEFAULTS)
    config.update(organisation_layer(organisation))
    for model in models_for_code(model_code) if model_code is not None else []:
        config.update(model.keys)
    config.update(parse_overrides(organisation.raw_overrides, lenient=True))
    return config


def device_config(device: Device) -> Config:
    """What only this phone gets: `<mac>.cfg`. Its SIP passwords appear nowhere else."""
    organisation = device.organisation
    config: Config = {}
    model = device.phone_model
    if model:
        config.update(model.keys)
    config.update(accounts_layer(device, sip_accounts(device), model))
    for contributor in _device_contributors:
        pairs = contributor(device)
        config.update(pairs.items() if isinstance(pairs, Mapping) else pairs)
    # Raw overrides come last in the MAC file too, so an organisation's override still beats
    # a key the MAC file sets (the phone applies the MAC file after the common file).
    config.update(parse_overrides(organisation.raw_overrides, lenient=True))
    config.update(parse_overrides(device.raw_overrides, lenient=True))
    return config


def organisation_layer(organisation: Organisation) -> Config:
    return {
        "static.auto_provision.server.url": settings.PROVISIONING_URL,
        "static.auto_provision.server.username": organisation.provisioning_username,
        "static.auto_provision.server.password": organisation.provisioning_password,
        "static.auto_provision.repeat.minutes": str(organisation.provisioning_interval_minutes),
        "local_time.time_zone": organisation.time_zone,
        "local_time.time_zone_name": organisation.time_zone_name,
        "local_time.ntp_server1": organisation.ntp_server,
        "lang.gui": organisation.language,
        "lang.wui": organisation.language,
    }


def accounts_layer(device: Device, accounts: list[SipAccount], model: PhoneModel | None) -> Config:
    """Every line of the model: configured ones enabled, the rest switched off, so an
    account removed in the admin is removed from the phone too."""
    by_index = {account.index: account for account in accounts}
    lines = max([model.lines if model else 1, *by_index])
    config: Config = {}
    for index in range(1, lines + 1):
        account = by_index.get(index)
        if account is None:
            config[f"account.{index}.enable"] = "0"
        else:
            config.update(account_keys(device.organisation, account))
    return config


def account_keys(organisation: Organisation, account: SipAccount) -> Config:
    prefix = f"account.{account.index}"
    transport = account.server_transport
    return {
        f"{prefix}.enable": "1" if account.is_enabled else "0",
        f"{prefix}.label": account.label or account.user_name,
        f"{prefix}.display_name": account.display_name or account.user_name,
        f"{prefix}.auth_name": account.auth_name or account.user_name,
        f"{prefix}.user_name": account.user_name,
        f"{prefix}.password": account.password,
        f"{prefix}.sip_server.1.address": account.server_host or organisation.sip_server_host,
        f"{prefix}.sip_server.1.port": str(account.server_port or organisation.sip_server_port),
        f"{prefix}.sip_server.1.transport_type": str(
            organisation.sip_transport if transport is None else transport
        ),
    }


def boot_file(model_code: int | None, mac: str | None) -> str:
    """A V81+ boot file naming the phone's common file and, when known, its MAC file.

    Without a model code the catch-all common file name is listed; we serve every
    `y` + 12 digits name, so that still reaches the organisation's common file.
    No `overwrite_mode = 1`: it would reset settings made on the phone itself; removed
    SIP accounts are switched off explicitly instead (accounts_layer).
    """
    lines = ["#!version:1.0.0.1"]
    lines.append(f'include:config "{common_file_name(model_code or 0)}"')
    if mac:
        lines.append(f'include:config "{mac}.cfg"')
    return "\n".join(lines) + "\n"


def render_common_config(organisation: Organisation, model_code: int | None = None) -> str:
    return render_lines(common_config(organisation, model_code))


def render_device_config(device: Device) -> str:
    return render_lines(device_config(device))


SECRET_KEY_MARKERS = ("password", "aes_key")
# Secrets of the organisation as a whole, masked for organisation staff even when revealed.
PROVIDER_SECRETS = ("static.auto_provision.server.password", "static.security.user_password")


def mask_secrets(text: str, only: tuple[str, ...] | None = None) -> str:
    """A rendered file with every secret value replaced, for showing it in the admin; with
    `only`, just the values of those keys (and of encryption keys)."""
    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and value and _is_secret(key.lower(), only):
            line = f"{key} = ********"
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def _is_secret(key: str, only: tuple[str, ...] | None) -> bool:
    if only is None:
        return any(marker in key for marker in SECRET_KEY_MARKERS)
    return key in only or "aes_key" in key
