from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.db.models import Count, IntegerField, Model, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Replace
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from organisations.admin import ScopedModelAdmin
from organisations.csv_files import MAX_UPLOAD_BYTES, CsvFileError
from phonebooks.csv_io import ImportPlan, column_name, export_csv, import_contacts, plan_import
from phonebooks.delivery import phonebook_url, phones_missing_books
from phonebooks.families import FAMILIES, MAX_BYTES, MAX_BYTES_SOME_MODELS
from phonebooks.models import BOOKS_PER_PHONE, Contact, Phonebook
from phonebooks.numbers import dialable
from phonebooks.render import projected_size, refresh_size
from phonebooks.tasks import queue_import, row_count

# The preview shows this many rows of each kind; every bad row is always shown.
PREVIEW_ROWS = 200
IMPORT_TOKEN_MAX_AGE = 3600
# The confirmation posts the file back in a hidden field; Django refuses a form body over
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default), so stay well below it.
MAX_TOKEN_CHARS = 2_000_000


def format_size(size: int | None) -> str:
    if size is None:
        return gettext("not computed yet")
    if size >= 1024:
        return gettext("%(size)s KB") % {"size": f"{size / 1024:,.0f}"}
    return ngettext("%(size)d byte", "%(size)d bytes", size) % {"size": size}


def _missing_description() -> str:
    return gettext("phones that do not get it (they hold %(count)d books)") % {
        "count": BOOKS_PER_PHONE
    }


def _label(value: str) -> str:
    """A number's label (office, mobile, other) in the reader's words."""
    return str(Contact.Label(value).label) if value in Contact.Label.values else value


class PhonebookForm(forms.ModelForm[Phonebook]):
    class Meta:
        model = Phonebook
        fields = ["organisation", "name", "title", "position", "audience", "devices"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns (typed as optional)
        devices = cleaned.get("devices")
        # Organisation staff see the organisation read-only: it is on the instance then.
        organisation = cleaned.get("organisation") or getattr(self.instance, "organisation", None)
        if devices is not None and organisation is not None:
            self.instance.organisation = organisation
            try:
                self.instance.check_devices(devices)
            except forms.ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Phonebook)
class PhonebookAdmin(ScopedModelAdmin[Phonebook]):
    form = PhonebookForm
    list_display = [
        "name",
        "title",
        "organisation",
        "readers",
        "position",
        "contacts_link",
        "size",
        "updated_at",
    ]
    list_filter = ["organisation", "audience"]
    list_select_related = ["organisation"]
    search_fields = ["name", "title", "organisation__name"]
    autocomplete_fields = ["organisation", "devices"]
    readonly_fields = ["contacts_link", "size", "phone_urls", "phones_missing_this_book"]
    actions = ["recalculate_size"]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "title", "position"]}),
        (_("Which phones may read it"), {"fields": ["audience", "devices"]}),
        (
            _("On the phones"),
            {"fields": ["contacts_link", "size", "phone_urls", "phones_missing_this_book"]},
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Phonebook]:
        books: QuerySet[Phonebook] = super().get_queryset(request)
        # Counted in subqueries: joining both would multiply contacts by chosen phones.
        return books.annotate(
            contact_count=_count(Contact.objects.filter(phonebook=OuterRef("pk"))),
            chosen_count=_count(Phonebook.devices.through.objects.filter(phonebook=OuterRef("pk"))),
        )

    @admin.display(description=_("phones"), ordering="audience")
    def readers(self, obj: Phonebook) -> str:
        if obj.audience == Phonebook.Audience.ALL:
            return gettext("all")
        chosen: int = getattr(obj, "chosen_count", 0)  # annotated by get_queryset
        return ngettext("%(count)d chosen", "%(count)d chosen", chosen) % {"count": chosen}

    @admin.display(description=_("contacts"))
    def contacts_link(self, obj: Phonebook) -> str:
        if obj._state.adding:
            return gettext("Save the phonebook first.")
        count: int | None = getattr(obj, "contact_count", None)  # annotated by get_queryset
        if count is None:
            count = obj.contacts.count()
        url = reverse("admin:phonebooks_contact_changelist") + f"?phonebook__id__exact={obj.pk}"
        text = ngettext("%(count)s contact", "%(count)s contacts", count) % {"count": f"{count:,}"}
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, obj: Phonebook) -> str:
        if obj.size_bytes is None and not obj._state.adding:
            refresh_size(obj)  # a book made outside the admin; measured once, then stored
        warning = obj.size_warning
        if not warning:
            return format_size(obj.size_bytes)
        return format_html(
            '{} <strong style="color: var(--error-fg, #ba2121)">⚠ {}</strong>',
            format_size(obj.size_bytes),
            warning,
        )

    @admin.display(description=_("URLs the phones use"))
    def phone_urls(self, obj: Phonebook) -> str:
        if obj._state.adding:
            return "-"
        return format_html_join(
            "\n",
            "<div>{}: <code>{}</code></div>",
            ((family.label, phonebook_url(obj, family)) for family in FAMILIES.values()),
        )

    @admin.display(description=lazy(_missing_description, str)())
    def phones_missing_this_book(self, obj: Phonebook) -> str:
        if obj._state.adding:
            return "-"
        missing = [
            device
            for device, books in phones_missing_books(obj.organisation).items()
            if obj in books
        ]
        if not missing:
            return gettext("None: every phone that may read it gets it.")
        said = ngettext(
            "%(count)d phone may read more than %(books)d books and gets the first %(books)d "
            "by position and name, without this one: %(phones)s",
            "%(count)d phones may read more than %(books)d books and get the first %(books)d "
            "by position and name, without this one: %(phones)s",
            len(missing),
        ) % {
            "count": len(missing),
            "books": BOOKS_PER_PHONE,
            "phones": ", ".join(str(device) for device in missing[:20])
            + (" …" if len(missing) > 20 else ""),
        }
        return said

    def save_model(
        self, request: HttpRequest, obj: Phonebook, form: forms.ModelForm[Phonebook], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        refresh_size(obj)  # the title is in the file

    def save_related(
        self,
        request: HttpRequest,
        form: forms.ModelForm[Phonebook],
        formsets: list[BaseInlineFormSet[Any, Phonebook, Any]],
        change: bool,
    ) -> None:
        super().save_related(request, form, formsets, change)
        book = form.instance
        warn_about_size(request, book)
        warn_about_missing_books(request, book)
        chosen = book.devices.exists()
        if book.audience == Phonebook.Audience.CHOSEN and not chosen:
            messages.warning(
                request, gettext("No phone is chosen: no phone gets '%(book)s'.") % {"book": book}
            )
        if book.audience == Phonebook.Audience.ALL and chosen:
            messages.info(
                request,
                gettext(
                    "Every phone of %(organisation)s gets '%(book)s': the chosen phones only "
                    "count with 'Only the chosen phones'."
                )
                % {"organisation": book.organisation, "book": book},
            )

    @admin.action(description=_("Recalculate the size of the selected phonebooks"))
    def recalculate_size(self, request: HttpRequest, queryset: QuerySet[Phonebook]) -> None:
        for book in queryset:
            refresh_size(book)
            warn_about_size(request, book)
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "Size recalculated for %(count)d phonebook.",
                "Size recalculated for %(count)d phonebooks.",
                count,
            )
            % {"count": count},
        )

    def get_deleted_objects(
        self, objs: Sequence[Phonebook] | QuerySet[Phonebook], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        """Summarise the contacts instead of listing thousands of them on the confirmation."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects([], request)
        books = list(objs)
        count = Contact.objects.filter(phonebook__in=books).count()
        contacts = ngettext("%(count)s contact", "%(count)s contacts", count)
        deleted = [str(book) for book in books] + [contacts % {"count": f"{count:,}"}]
        if count and not request.user.has_perm("phonebooks.delete_contact"):
            perms_needed.add("contact")
        model_count = {
            str(Phonebook._meta.verbose_name_plural): len(books),
            str(Contact._meta.verbose_name_plural): count,
        }
        return deleted, model_count, perms_needed, protected

    # --- CSV import and export -----------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<path:object_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="phonebooks_phonebook_import",
            ),
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="phonebooks_phonebook_export",
            ),
        ]
        return urls + super().get_urls()

    def _book(self, request: HttpRequest, object_id: str) -> Phonebook:
        # Through get_queryset, so whatever limits the admin's list limits these pages too.
        return self.get_object(request, object_id)  # another organisation's: 404

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        book = self._book(request, object_id)
        if not request.user.has_perm("phonebooks.view_contact"):
            raise PermissionDenied
        delimiter = ";" if request.GET.get("separator") == "semicolon" else ","
        response = HttpResponse(export_csv(book, delimiter), content_type="text/csv; charset=utf-8")
        filename = f"phonebook-{slugify(book.name) or book.pk}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def import_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        book = self._book(request, object_id)
        if not self._may_import(request, book):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._confirm_import(request, book)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data: bytes = form.cleaned_data["file"].read()
            delete_missing = form.cleaned_data["delete_missing"]
            if delete_missing and not request.user.has_perm("phonebooks.delete_contact"):
                raise PermissionDenied
            try:
                plan = plan_import(book, data, delete_missing=delete_missing)
            except CsvFileError as exc:
                form.add_error("file", str(exc))  # CSV errors are written for staff
            else:
                token = _import_token(request, book, data, delete_missing)
                if len(token) <= MAX_TOKEN_CHARS:
                    return self._preview(request, book, plan, token, delete_missing)
                form.add_error("file", gettext("This file is too large to preview; split it."))
        return self._render(request, book, "admin/phonebooks/phonebook/import_form.html", form=form)

    def _confirm_import(self, request: HttpRequest, book: Phonebook) -> HttpResponse:
        try:
            data, delete_missing = _read_import_token(request, book, request.POST["token"])
        except (signing.BadSignature, ValueError, KeyError, zlib.error):
            messages.error(request, gettext("The preview has expired; upload the file again."))
            return HttpResponseRedirect(request.path)
        if delete_missing and not request.user.has_perm("phonebooks.delete_contact"):
            raise PermissionDenied
        if row_count(data) >= settings.JOBS_IMPORT_ROWS:
            return self._queue_import(request, book, data, delete_missing)
        try:
            plan = import_contacts(book, data, delete_missing=delete_missing)
        except (CsvFileError, IntegrityError):
            messages.error(
                request, gettext("The phonebook changed meanwhile; upload the file again.")
            )
            return HttpResponseRedirect(request.path)
        if plan.errors:
            # The book changed since the preview: nothing was written, show why.
            messages.error(
                request, gettext("Nothing was imported: the file no longer fits the book.")
            )
            token = request.POST["token"]
            return self._preview(request, book, plan, token, delete_missing)
        self.message_user(
            request,
            gettext(
                "Imported into %(phonebook)s: %(created)s created, %(updated)s updated, "
                "%(unchanged)s unchanged, %(removed)s removed."
            )
            % {
                "phonebook": book,
                "created": f"{len(plan.create):,}",
                "updated": f"{len(plan.update):,}",
                "unchanged": f"{len(plan.unchanged):,}",
                "removed": f"{len(plan.delete):,}",
            },
            messages.SUCCESS,
        )
        warn_about_size(request, book)
        return HttpResponseRedirect(reverse("admin:phonebooks_phonebook_change", args=[book.pk]))

    def _queue_import(
        self, request: HttpRequest, book: Phonebook, data: bytes, delete_missing: bool
    ) -> HttpResponse:
        """A large file is written by the worker; its job's page follows it."""
        assert isinstance(request.user, User)  # the admin's user, logged in
        job = queue_import(request.user, book, data, delete_missing)
        self.message_user(
            request,
            gettext("The import into %(phonebook)s has started; this page follows it.")
            % {"phonebook": book},
            messages.INFO,
        )
        return HttpResponseRedirect(job.get_absolute_url())

    def _preview(
        self,
        request: HttpRequest,
        book: Phonebook,
        plan: ImportPlan,
        token: str,
        delete_missing: bool,
    ) -> HttpResponse:
        return self._render(
            request,
            book,
            "admin/phonebooks/phonebook/import_preview.html",
            plan=plan,
            token=token,
            delete_missing=delete_missing,
            creates=[_preview_row(c) for c in plan.create[:PREVIEW_ROWS]],
            updates=[(_preview_row(c), _field_names(f)) for c, f in plan.update[:PREVIEW_ROWS]],
            deletes=[_preview_row(c) for c in plan.delete[:PREVIEW_ROWS]],
            preview_rows=PREVIEW_ROWS,
            size_after=_size_after(book, plan),
            separator=gettext("semicolon") if plan.delimiter == ";" else gettext("comma"),
            in_worker=_rows(plan) >= settings.JOBS_IMPORT_ROWS,
        )

    def _render(
        self, request: HttpRequest, book: Phonebook, template: str, **context: object
    ) -> TemplateResponse:
        context.update(
            self.admin_site.each_context(request),
            opts=self.model._meta,
            original=book,
            title=gettext("Import contacts into %(phonebook)s") % {"phonebook": book},
            max_upload_mb=MAX_UPLOAD_BYTES // 1024 // 1024,
        )
        return TemplateResponse(request, template, context)

    def _may_import(self, request: HttpRequest, book: Phonebook) -> bool:
        user = request.user
        return (
            self.has_change_permission(request, book)
            and user.has_perm("phonebooks.add_contact")
            and user.has_perm("phonebooks.change_contact")
        )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 (with or without BOM), comma or semicolon separated, with a header line: "
            "name, group, number 1, label 1, number 2, label 2, number 3, label 3, order."
        ),
    )
    delete_missing = forms.BooleanField(
        required=False,
        label=_("Remove the contacts that are not in the file"),
        help_text=_("The file then becomes the whole phonebook."),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > MAX_UPLOAD_BYTES:  # a file field's upload always has a size
            raise forms.ValidationError(
                gettext("The file is larger than %(size)d MB; split it.")
                % {"size": MAX_UPLOAD_BYTES // 1024 // 1024}
            )
        return upload


def _token_salt(request: HttpRequest, book: Phonebook) -> str:
    # Bound to the book and the user: a preview cannot be confirmed elsewhere or by others.
    return f"phonebooks.import:{book.pk}:{request.user.pk}"


def _import_token(request: HttpRequest, book: Phonebook, data: bytes, delete: bool) -> str:
    """The uploaded bytes, compressed and signed, carried from the preview to the confirm
    in a hidden field: nothing is kept on the server, and nobody can alter them."""
    packed = base64.b64encode(zlib.compress(data, 9)).decode("ascii")
    return signing.dumps({"data": packed, "delete": delete}, salt=_token_salt(request, book))


def _read_import_token(request: HttpRequest, book: Phonebook, token: str) -> tuple[bytes, bool]:
    payload = signing.loads(token, salt=_token_salt(request, book), max_age=IMPORT_TOKEN_MAX_AGE)
    return zlib.decompress(base64.b64decode(payload["data"])), bool(payload["delete"])


def _rows(plan: ImportPlan) -> int:
    """The file's rows, as the confirm counts them (a plan without errors has each once)."""
    return len(plan.create) + len(plan.update) + len(plan.unchanged) + len(plan.errors)


def _size_after(book: Phonebook, plan: ImportPlan) -> dict[str, str] | None:
    """How large the book would be after the import, flagged before any phone fails on it."""
    if plan.errors:
        return None
    size = projected_size(book, plan.resulting_contacts())
    warning = Phonebook(size_bytes=size).size_warning
    return {"text": format_size(size), "warning": warning}


def _field_names(fields: list[str]) -> str:
    """The changed fields of a contact as the CSV's columns are called."""
    return ", ".join(column_name(name) for name in fields)


def _preview_row(contact: Contact) -> dict[str, str | int]:
    return {
        "name": contact.name,
        "group": contact.group,
        "numbers": ", ".join(f"{_label(label)}: {number}" for label, number in contact.numbers()),
        "position": contact.position,
    }


def warn_about_size(request: HttpRequest, book: Phonebook) -> None:
    if book.size_warning:
        messages.warning(
            request,
            gettext(
                "'%(book)s' is %(size)s. %(warning)s (limits: %(limit)d KB; %(lower_limit)d KB "
                "on some models). Split it into smaller books."
            )
            % {
                "book": book,
                "size": format_size(book.size_bytes),
                "warning": book.size_warning,
                "limit": MAX_BYTES // 1024,
                "lower_limit": MAX_BYTES_SOME_MODELS // 1024,
            },
        )


def warn_about_missing_books(request: HttpRequest, book: Phonebook) -> None:
    missing = phones_missing_books(book.organisation)
    if not missing:
        return
    names = ", ".join(
        gettext("%(phone)s (without %(books)s)")
        % {"phone": device, "books": ", ".join(str(b) for b in books)}
        for device, books in list(missing.items())[:10]
    )
    messages.warning(
        request,
        ngettext(
            "%(count)d phone may read more than %(books)d phonebooks and gets only the first "
            "%(books)d by position, then name: %(phones)s.",
            "%(count)d phones may read more than %(books)d phonebooks and get only the first "
            "%(books)d by position, then name: %(phones)s.",
            len(missing),
        )
        % {"count": len(missing), "books": BOOKS_PER_PHONE, "phones": names},
    )


@admin.register(Contact)
class ContactAdmin(ScopedModelAdmin[Contact]):
    list_display = ["name", "group", "numbers", "phonebook", "organisation", "position"]
    list_filter = ["phonebook", "phonebook__organisation"]
    list_select_related = ["phonebook", "phonebook__organisation"]
    search_fields = ["name", "group", "number_1", "number_2", "number_3", "phonebook__name"]
    search_help_text = _("Name, group or number (spaces and dashes in numbers do not matter).")
    autocomplete_fields = ["phonebook"]
    list_per_page = 100
    show_full_result_count = False
    fields = [
        "phonebook",
        ("name", "group"),
        ("number_1", "label_1"),
        ("number_2", "label_2"),
        ("number_3", "label_3"),
        "position",
    ]

    @admin.display(description=_("numbers"))
    def numbers(self, obj: Contact) -> str:
        return ", ".join(f"{number} ({_label(label)})" for label, number in obj.numbers())

    @admin.display(description=_("organisation"), ordering="phonebook__organisation__name")
    def organisation(self, obj: Contact) -> str:
        return str(obj.phonebook.organisation)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        digits = dialable(search_term.strip())
        if len(digits) >= 3 and set(digits) <= set("0123456789+*#"):
            return results | queryset.filter(_number_contains(digits)), may_have_duplicates
        return results, may_have_duplicates

    def save_model(
        self, request: HttpRequest, obj: Contact, form: forms.ModelForm[Contact], change: bool
    ) -> None:
        moved_from: int | None = form.initial.get("phonebook") if change else None
        super().save_model(request, obj, form, change)
        for book in _books({obj.phonebook_id, moved_from}):
            refresh_size(book)
            warn_about_size(request, book)

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        super().delete_model(request, obj)
        for book in _books({obj.phonebook_id}):
            refresh_size(book)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        book_ids = set(queryset.values_list("phonebook_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        for book in _books(book_ids):
            refresh_size(book)


def _count(queryset: QuerySet[Model]) -> Coalesce:
    counted = queryset.order_by().values("phonebook").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _books(ids: Iterable[int | None]) -> list[Phonebook]:
    return list(Phonebook.objects.filter(pk__in=[pk for pk in ids if pk]))


def _number_contains(digits: str) -> Q:
    """Numbers stored as typed (`06 12-34`) found by their digits (`061234`)."""
    query = Q()
    for field in ("number_1", "number_2", "number_3"):
        stripped = Replace(Replace(field, Value(" "), Value("")), Value("-"), Value(""))
        query |= Q(
            pk__in=Contact.objects.annotate(n=stripped).filter(n__contains=digits).values("pk")
        )
    return query
