from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import (
    AutocompleteMixin,
    AutocompleteSelect,
    AutocompleteSelectMultiple,
)
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Count, Field, ForeignKey, ManyToManyField, Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from organisations.config_syntax import parse_overrides, unknown_keys
from organisations.models import Organisation, SettingsProfile
from organisations.phone_settings import NETWORK_SETTINGS, SIP_SETTINGS
from organisations.scoping import (
    is_provider,
    may_edit,
    scope_queryset,
    scoped_model,
    staff_organisation,
)
from organisations.time_zones import zone_choices

M = TypeVar("M", bound=Model)
if TYPE_CHECKING:  # what the mixins below are mixed into
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec, _ListFilterT
    from django_stubs_ext import StrOrPromise

    _AdminBase = admin.options.BaseModelAdmin[Any]
    _ModelAdminBase = admin.ModelAdmin[Any]
    _InlineBase = admin.options.InlineModelAdmin[Any, Any]
else:
    _AdminBase = _ModelAdminBase = _InlineBase = object


class _KnownIdsOnly(AutocompleteMixin):
    """An autocomplete widget that shows again only the posted values that are ids. Django's
    looks each one up to show it, and a value that is no id (a tampered or stale form)
    raised there, a 500, instead of the field's own "not a valid choice" error."""

    def optgroups(
        self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        meta = self.field.related_model._meta
        key = meta.get_field(getattr(self.field.remote_field, "field_name", None) or meta.pk.name)
        return super().optgroups(name, [v for v in value if _is_value_of(key, v)], attr)


def _is_value_of(field: Any, value: str) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


class KnownIdsSelect(_KnownIdsOnly, AutocompleteSelect):
    pass


class KnownIdsSelectMultiple(_KnownIdsOnly, AutocompleteSelectMultiple):
    pass


class ScopedAdminMixin(_AdminBase):
    """Organisation staff see only their organisation's rows, everywhere the admin looks:
    lists, search, form choices, autocomplete (the related admin's queryset), actions.

    Every ModelAdmin and inline of the project uses it (a test checks), with the model's
    path to its organisation registered in `organisations.scoping`.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        self._scope_choices(db_field, request, kwargs)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KnownIdsSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField[Any] | None:
        self._scope_choices(db_field, request, kwargs)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KnownIdsSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(
        self, db_field: Field[Any, Any], request: HttpRequest, kwargs: dict[str, Any]
    ) -> None:
        related = db_field.remote_field.model if db_field.remote_field else None
        if not isinstance(related, type) or scoped_model(related) is None:
            return
        if not is_provider(request.user):
            queryset = kwargs.get("queryset", related._default_manager.all())
            kwargs["queryset"] = scope_queryset(queryset, request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not is_provider(request.user):
            # Organisation staff never move an object to another organisation.
            fields += [name for name in organisation_fields(self.model) if name not in fields]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and may_edit(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and may_edit(request.user, obj)


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin[M]):
    """A ModelAdmin scoped to the user's organisation; another's object is a 404."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> M:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(gettext("No such object."))
        return obj

    def response_action(self, request: HttpRequest, queryset: QuerySet[M]) -> HttpResponse | None:
        # Django filters the list by the selection as posted: a value that is no id (a
        # tampered or stale form) raised in the lookup, a 500.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if all(_is_value_of(self.model._meta.pk, value) for value in selected):
            return super().response_action(request, queryset)
        self.message_user(
            request,
            gettext("The selection holds rows this list does not have; select them again."),
            messages.WARNING,
        )
        return HttpResponseRedirect(request.get_full_path())

    def get_list_filter(self, request: HttpRequest) -> list[_ListFilterT]:
        filters = super().get_list_filter(request)
        if is_provider(request.user):
            return list(filters)
        adapted = (staff_list_filter(self.model, spec) for spec in filters)
        return [spec for spec in adapted if spec is not None]

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[M]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        organisation = staff_organisation(request.user)
        names = organisation_fields(self.model)
        if obj is not None or organisation is None or not names:
            return form

        class StaffForm(form):  # type: ignore[valid-type, misc]  # a class made at run time
            # Set before validation, so clean() and unique checks see the organisation.
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                for name in names:
                    setattr(self.instance, name, organisation)

        return StaffForm


def organisation_fields(model: type[Model]) -> list[str]:
    return [
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, ForeignKey) and field.related_model is Organisation
    ]


def staff_list_filter(model: type[Model], spec: _ListFilterT) -> _ListFilterT | None:
    """For organisation staff: no filter by organisation or by a provider-only model; related
    filters list only what they can see (RelatedOnlyFieldListFilter asks the scoped
    queryset)."""
    name = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(name, str):
        return spec
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, admin.utils.NotRelationField):
        return spec
    if not field.is_relation:
        return spec
    if field.related_model is Organisation:
        return None
    related = scoped_model(field.related_model) if isinstance(field.related_model, type) else None
    if related is not None and related.path is None:
        return None  # the provider's (settings profiles): not even their names
    return (name, admin.RelatedOnlyFieldListFilter)


class ScopedInline(ScopedAdminMixin):
    """Mixin for inlines: choices scoped, and edits only on the user's own parent."""


def warn_about_unknown_keys(request: HttpRequest, overrides: str) -> None:
    """An override naming a key no public template uses is probably a typo the phone ignores."""
    unknown = unknown_keys(parse_overrides(overrides, lenient=True))
    if unknown:
        messages.warning(
            request,
            gettext(
                "These override keys are not in the list of known Yealink keys; check them for "
                "typos (a phone silently ignores an unknown key): %(keys)s"
            )
            % {"keys": ", ".join(unknown)},
        )


class WidgetsMixin(_AdminBase):
    """`widgets = {field name: widget}` on a ModelAdmin or inline, as on a ModelForm's Meta."""

    widgets: dict[str, forms.Widget] = {}

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if db_field.name in self.widgets:
            kwargs["widget"] = self.widgets[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def overrides_widget(rows: int = 6) -> forms.Widget:
    return forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField"})


class ProviderOnlyFieldsMixin(_AdminBase):
    """`provider_only_fields`: left out of every fieldset for organisation staff (they
    neither see nor change them)."""

    provider_only_fields: list[str] = []

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> _FieldsetSpec:
        fieldsets = super().get_fieldsets(request, obj)
        if is_provider(request.user):
            return fieldsets
        hidden = set(self.provider_only_fields)
        shown = [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]
        return cast("_FieldsetSpec", [(name, opts) for name, opts in shown if opts["fields"]])


WEB_PASSWORDS = ("phone_admin_password", "phone_user_password", "phone_var_password")
REQUIRED = forms.Field.default_error_messages["required"]


class _KeptSecretFields(_AdminBase):
    """A secret (`kept_secrets`) is never written into a page, not even as dots: its input
    is empty, and left empty it keeps the stored value; a value typed replaces it. A secret
    the model requires must be typed for a new row. Provider staff see secrets through a
    recorded reveal (the config preview, the organisation's web passwords)."""

    kept_secrets: tuple[str, ...] = ()

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if db_field.name not in self.kept_secrets:
            return super().formfield_for_dbfield(db_field, request, **kwargs)
        kwargs["widget"] = forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "new-password", "placeholder": gettext("unchanged")},
        )
        kwargs["required"] = False  # left empty it is kept; a new row's is checked on save
        kwargs["show_hidden_initial"] = False  # a generated default would be in the page
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            # Changed only when a value was typed: the history is where reveals are read.
            field.has_changed = lambda initial, data: bool(data)  # type: ignore[method-assign]
        return field

    def _keeping_secrets(self, form: type[forms.ModelForm[Any]]) -> type[forms.ModelForm[Any]]:
        secrets = [name for name in self.kept_secrets if name in form.base_fields]
        if not secrets:
            return form
        meta = self.model._meta
        required = {name for name in secrets if not meta.get_field(name).blank}

        def _post_clean(self: forms.ModelForm[Any]) -> None:
            for name in secrets:
                if name in self.errors:
                    continue
                if self.cleaned_data.get(f"clear_{name}"):
                    self.cleaned_data[name] = ""
                elif not self.cleaned_data.get(name):
                    kept = getattr(self.instance, name)
                    if not kept and name in required:  # a new row: nothing to keep
                        self.add_error(name, forms.ValidationError(REQUIRED, code="required"))
                        continue
                    self.cleaned_data[name] = kept
            form._post_clean(self)  # type: ignore[attr-defined]  # ModelForm's, missing from django-stubs

        return type(f"KeptSecrets{form.__name__}", (form,), {"_post_clean": _post_clean})


class KeptSecretsMixin(_KeptSecretFields, _ModelAdminBase):
    """`kept_secrets` on a ModelAdmin (see `_KeptSecretFields`); a secret that may be empty
    also gets a "clear" box that removes it."""

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> _FieldsetSpec:
        fieldsets = super().get_fieldsets(request, obj)
        clearable = set(self._clearable())
        return cast(
            "_FieldsetSpec",
            [
                (
                    name,
                    {
                        **options,
                        "fields": [
                            item
                            for field in options["fields"]
                            for item in (
                                [field, f"clear_{field}"] if field in clearable else [field]
                            )
                        ],
                    },
                )
                for name, options in fieldsets
            ],
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        # The "clear" boxes are the form's own fields, not the model's.
        fields = kwargs.get("fields")
        if fields is None:
            fields = admin.utils.flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [f for f in fields if not f.startswith("clear_")]
        form = self._keeping_secrets(super().get_form(request, obj, change=change, **kwargs))
        attrs: dict[str, Any] = {}
        for name in self._clearable():
            if name not in form.base_fields:
                continue
            label = self.model._meta.get_field(name).verbose_name
            attrs[f"clear_{name}"] = forms.BooleanField(
                required=False,
                label=gettext("clear the %(field)s") % {"field": label},
                help_text=gettext("Back to the default."),
            )
        return type(form.__name__, (form,), attrs) if attrs else form

    def _clearable(self) -> list[str]:
        return [name for name in self.kept_secrets if self.model._meta.get_field(name).blank]


class KeptSecretsInlineMixin(_KeptSecretFields, _InlineBase):
    """`kept_secrets` on an inline (see `_KeptSecretFields`), each row's kept alike."""

    def get_formset(
        self, request: HttpRequest, obj: Any = None, **kwargs: Any
    ) -> type[BaseInlineFormSet[Any, Any, Any]]:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._keeping_secrets(formset.form)
        return formset


def time_zone_widget() -> forms.Widget:
    return forms.Select(
        choices=[("", _("(none: the offset only, no daylight saving)")), *zone_choices()]
    )


def settings_fieldsets(
    sip_first: tuple[str, ...] = (),
) -> list[tuple[StrOrPromise, _FieldOpts]]:
    """The settings of `phone_settings` grouped as staff think of them."""
    return [
        (_("Lines: SIP"), {"fields": [*sip_first, *SIP_SETTINGS], "classes": ["collapse"]}),
        (_("Network"), {"fields": list(NETWORK_SETTINGS), "classes": ["collapse"]}),
    ]


@admin.register(SettingsProfile)
class SettingsProfileAdmin(ScopedModelAdmin[SettingsProfile]):
    list_display = ["name", "description", "organisation_count", "device_count"]
    search_fields = ["name", "description"]
    fieldsets = [(None, {"fields": ["name", "description"]}), *settings_fieldsets()]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SettingsProfile]:
        counted: QuerySet[SettingsProfile] = (
            super()
            .get_queryset(request)
            .annotate(
                organisation_total=Count("organisations", distinct=True),
                device_total=Count("devices", distinct=True),
            )
        )
        return counted

    @admin.display(description=_("organisations"), ordering="organisation_total")
    def organisation_count(self, obj: Any) -> int:
        return int(obj.organisation_total)

    @admin.display(description=_("phones of its own"), ordering="device_total")
    def device_count(self, obj: Any) -> int:
        return int(obj.device_total)


CREDENTIALS_EXPLAINED = _(
    "Every phone has its own provisioning credentials: its MAC as user name and a random "
    "password, which RPS hands a phone fresh from the factory and every MAC file sets. They "
    "open that phone's files and no other's. The credentials below are the organisation's: "
    "they get a phone set up by hand (or registered before) to its first MAC file, and, with "
    "the default policy, stop opening a phone's files once it has used its own. A phone not "
    "in the admin that sends them gets 404 and is listed among the unassigned phones."
)


class OrganisationAdmin(
    KeptSecretsMixin, ProviderOnlyFieldsMixin, WidgetsMixin, ScopedModelAdmin[Organisation]
):
    widgets = {
        "raw_overrides": overrides_widget(),
        "time_zone_name": time_zone_widget(),
    }
    kept_secrets = ("provisioning_password", *WEB_PASSWORDS)
    list_display = [
        "name",
        "slug",
        "is_active",
        "provisioning_username",
        "sip_server_host",
        "provisioning_interval_minutes",
    ]
    list_filter = ["is_active", "language", "sip_transport", "profile"]
    search_fields = ["name", "slug", "provisioning_username"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = [
        "provisioning_url",
        "phone_web_ui_example",
        "previous_password_state",
        "unassigned_phones",
        "web_passwords",
        "hold_back",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        (
            _("Provisioning"),
            {
                "fields": [
                    "provisioning_url",
                    "provisioning_username",
                    "provisioning_password",
                    "password_grace_days",
                    "previous_password_state",
                    "organisation_credentials",
                    "phone_web_ui_example",
                    "enrol_unknown_phones",
                    "unassigned_phones",
                ],
                "description": CREDENTIALS_EXPLAINED,
            },
        ),
        (_("Settings profile"), {"fields": ["profile"]}),
        (
            _("Lines: SIP server"),
            {"fields": ["sip_server_host", "sip_server_port", "sip_transport"]},
        ),
        *settings_fieldsets(),
        (
            _("Time and language"),
            {
                "fields": [
                    "time_zone_name",
                    "time_zone",
                    "language",
                    "ntp_server",
                    "provisioning_interval_minutes",
                ]
            },
        ),
        (_("Security: the phones' web UI"), {"fields": [*WEB_PASSWORDS, "web_passwords"]}),
        (
            _("Firmware"),
            {"fields": ["firmware_hold_back_allowed", "firmware_hold_back", "hold_back"]},
        ),
        (_("Overrides"), {"fields": ["raw_overrides"], "classes": ["collapse"]}),
        (_("History"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    # What organisation staff may not even see: the phones' shared secret and web passwords,
    # the provider's profile, and the raw overrides, which may hold other provider settings.
    provider_only_fields = [
        "provisioning_password",
        "password_grace_days",
        "previous_password_state",
        "organisation_credentials",
        "profile",
        *WEB_PASSWORDS,
        "web_passwords",
        "raw_overrides",
        "firmware_hold_back_allowed",
    ]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/web-passwords/",
                view(self.web_passwords_view),
                name="organisations_organisation_web_passwords",
            ),
            path(
                "<path:object_id>/firmware-hold-back/",
                view(self.hold_back_view),
                name="organisations_organisation_hold_back",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("revealed"))
    def web_passwords(self, obj: Organisation) -> str:
        if obj._state.adding:
            return gettext("An admin password is generated when you save, unless you type one.")
        url = reverse("admin:organisations_organisation_web_passwords", args=[obj.pk])
        return format_html(
            '<a href="{}">{}</a> {}',
            url,
            gettext("Reveal the web passwords and the provisioning password"),
            gettext("(recorded)"),
        )

    def web_passwords_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        organisation = self.get_object(request, object_id)
        if not is_provider(request.user) or not self.has_change_permission(request, organisation):
            raise PermissionDenied
        self.log_change(
            request,
            organisation,
            "Revealed the phones' web passwords and the provisioning password.",
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": organisation,
            "title": gettext("Phone web passwords of %(organisation)s")
            % {"organisation": organisation},
            "passwords": [
                (user, getattr(organisation, f"phone_{user}_password"))
                for user in ("admin", "user", "var")
            ],
            # Its input on the organisation's page is always empty.
            "provisioning_password": organisation.provisioning_password,
        }
        return TemplateResponse(request, "admin/organisations/web_passwords.html", context)

    @admin.display(description=_("organisation staff"))
    def hold_back(self, obj: Organisation) -> str:
        if obj._state.adding:
            return "—"
        if not obj.firmware_hold_back_allowed:
            return gettext(
                "The provider decides whether the organisation may hold back its firmware."
            )
        url = reverse("admin:organisations_organisation_hold_back", args=[obj.pk])
        label = (
            gettext("Let firmware updates through")
            if obj.firmware_hold_back
            else gettext("Hold back updates")
        )
        return format_html('<a href="{}">{}</a>', url, label)

    def hold_back_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Organisation staff (who may only view their organisation) hold back its firmware,
        or let it through again, when the provider allows it."""
        organisation = self.get_object(request, object_id)
        if organisation is None or not organisation.firmware_hold_back_allowed:
            raise PermissionDenied
        # Staff only view their organisation, and may do this; the provider's own staff
        # need the right to change organisations.
        provider = is_provider(request.user)
        allowed = (
            self.has_change_permission(request, organisation)
            if provider
            else self.has_view_permission(request, organisation)
        )
        if not allowed:
            raise PermissionDenied
        if request.method == "POST":
            hold = request.POST.get("hold_back") == "on"
            organisation.firmware_hold_back = hold
            organisation.save(update_fields=["firmware_hold_back", "updated_at"])
            # The history keeps the record in English, as Django's own records are kept.
            done = "Holds back firmware updates." if hold else "Lets firmware updates through."
            self.log_change(request, organisation, done)
            said = (
                gettext("%(organisation)s: holds back firmware updates.")
                if hold
                else gettext("%(organisation)s: lets firmware updates through.")
            )
            self.message_user(request, said % {"organisation": organisation}, messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:organisations_organisation_change", args=[organisation.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": organisation,
            "title": gettext("Firmware updates of %(organisation)s")
            % {"organisation": organisation},
        }
        return TemplateResponse(request, "admin/organisations/hold_back.html", context)

    @admin.display(description=_("provisioning URL"))
    def provisioning_url(self, obj: Organisation) -> str:
        return settings.PROVISIONING_URL

    @admin.display(description=_("a phone set up by hand"))
    def phone_web_ui_example(self, obj: Organisation) -> str:
        # The menu and its fields as the phone's web UI names them, in its own language.
        return format_html(
            "<pre style='user-select:all'>Settings → Auto Provision\n"
            "  Server URL: {}\n  Username:   {}\n  Password:   {}</pre>{}",
            settings.PROVISIONING_URL,
            obj.provisioning_username if obj.pk else "…",
            gettext("(this organisation's provisioning password)"),
            gettext("Its first MAC file then gives it its own credentials."),
        )

    @admin.display(description=_("unassigned phones"))
    def unassigned_phones(self, obj: Organisation) -> str:
        if obj._state.adding:
            return "—"
        count = obj.unassigned_phones.count()
        listed = reverse("admin:devices_unassignedphone_changelist")
        url = f"{listed}?organisation__id__exact={obj.pk}"
        phones = ngettext("%(count)d phone", "%(count)d phones", count) % {"count": count}
        said = ngettext(
            "sent these credentials but is not among its phones (it got 404, no password prompt)",
            "sent these credentials but are not among its phones "
            "(they got 404, no password prompt)",
            count,
        )
        return format_html('<a href="{}">{}</a> {}', url, phones, said)

    @admin.display(description=_("previous password"))
    def previous_password_state(self, obj: Organisation) -> str:
        if obj.previous_password() is None:
            return gettext("none accepted")
        until = timezone.localtime(obj.previous_password_valid_until)
        return gettext("still accepted until %(time)s") % {"time": f"{until:%Y-%m-%d %H:%M %Z}"}

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warn_about_unknown_keys(request, obj.raw_overrides)
