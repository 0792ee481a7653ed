"""The API's `phonebooks` resources (docs/architecture.md, "The REST API").

    /api/v1/phonebooks                               list, create
    /api/v1/phonebooks/{id}                          retrieve, PUT, PATCH, DELETE
    /api/v1/phonebooks/{id}/contacts                 list, create; PUT: replace them all
    /api/v1/phonebooks/{id}/contacts/{contact_id}    retrieve, PUT, PATCH, DELETE

The bulk replace plans with the CSV import's planner (`phonebooks.csv_io.plan_rows`), so
both follow one set of rules with the same messages, and writes all or nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from api import history
from api.base import ModelCleanSerializer, ScopedModelViewSet
from api.fields import DeviceMacField, OrganisationSlugField, field_client
from api.resources.devices_serializers import required
from organisations.models import Organisation
from organisations.scoping import scope_queryset
from phonebooks.csv_io import MAX_ROWS, ImportPlan, plan_rows, write_planned
from phonebooks.delivery import phonebook_url
from phonebooks.families import FAMILIES
from phonebooks.models import Contact, Phonebook
from phonebooks.render import refresh_size


def with_list_route_methods(
    actions: dict[str, Any] | None, extra: dict[str, str]
) -> dict[str, Any] | None:
    """SimpleRouter maps only GET and POST on a collection's URL; a resource that answers
    more there (a bulk replace is a PUT on the collection) adds them to that route."""
    if actions is not None and actions.get("get") == "list":
        return {**actions, **extra}
    return actions


# --- phonebooks ----------------------------------------------------------------------------


def _contact_count() -> Coalesce:
    per_book = Contact.objects.filter(phonebook=OuterRef("pk")).order_by().values("phonebook")
    counted = per_book.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class PhonebookSerializer(ModelCleanSerializer[Phonebook]):
    organisation = OrganisationSlugField(
        required=False,
        help_text="Slug. An organisation token's own unless given; required for a provider.",
    )
    devices = DeviceMacField(
        many=True,
        required=False,
        help_text="MACs of the phones that may read it when audience is 'chosen'; phones of "
        "the book's organisation only.",
    )
    contact_count = serializers.IntegerField(read_only=True)
    size_bytes = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Bytes of the largest XML flavour."
    )
    size_warning = serializers.CharField(
        read_only=True, help_text="Empty when every phone accepts its size."
    )
    phone_urls = serializers.SerializerMethodField(
        help_text="By phone family: where phones read it (each phone under its own token)."
    )

    class Meta:
        model = Phonebook
        validators: ClassVar[list[Any]] = []  # the model's full_clean() says it: its messages
        fields = [
            "id",
            "organisation",
            "name",
            "title",
            "position",
            "audience",
            "devices",
            "contact_count",
            "size_bytes",
            "size_warning",
            "phone_urls",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_phone_urls(self, obj: Phonebook) -> dict[str, str]:
        return {slug: phonebook_url(obj, family) for slug, family in FAMILIES.items()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and "organisation" not in attrs:
            attrs["organisation"] = self._default_organisation()
        attrs = super().validate(attrs)
        self._check_devices(attrs)
        return attrs

    def _default_organisation(self) -> Organisation:
        organisation = field_client(self).organisation
        if organisation is None:
            raise serializers.ValidationError({"organisation": [required()]}, code="required")
        return organisation

    def _check_devices(self, attrs: dict[str, Any]) -> None:
        """As the admin's form does: the chosen phones must be the book's organisation's."""
        current = self.instance
        organisation = attrs.get("organisation") or (current.organisation if current else None)
        book = Phonebook(organisation=organisation)
        devices = attrs.get("devices")
        if devices is None and current is not None:
            devices = list(current.devices.all())
        try:
            book.check_devices(devices or [])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("organisation", OpenApiTypes.STR, description="Organisation slug.")
        ]
    )
)
class PhonebookViewSet(ScopedModelViewSet[Phonebook]):
    """Remote phonebooks, as the admin offers them: which phones may read each, in which
    order phones get them, how large they are."""

    queryset = Phonebook.objects.all()
    serializer_class = PhonebookSerializer

    def get_queryset(self) -> QuerySet[Phonebook]:
        books = super().get_queryset().select_related("organisation").prefetch_related("devices")
        slug = self.request.query_params.get("organisation")
        if slug:
            books = books.filter(organisation__slug=slug)
        return books.annotate(contact_count=_contact_count())

    def perform_create(self, serializer: serializers.BaseSerializer[Phonebook]) -> None:
        super().perform_create(serializer)
        self._after_write(serializer)

    def perform_update(self, serializer: serializers.BaseSerializer[Phonebook]) -> None:
        super().perform_update(serializer)
        self._after_write(serializer)

    def _after_write(self, serializer: serializers.BaseSerializer[Phonebook]) -> None:
        book = serializer.instance
        assert book is not None
        refresh_size(book)  # the title is in the file
        book.contact_count = book.contacts.count()  # type: ignore[attr-defined]


# --- one book's contacts -------------------------------------------------------------------


class ContactSerializer(ModelCleanSerializer[Contact]):
    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "group",
            "number_1",
            "label_1",
            "number_2",
            "label_2",
            "number_3",
            "label_3",
            "position",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:  # a new contact goes into the book of the URL
            attrs["phonebook"] = self.context["phonebook"]
        return super().validate(attrs)

    def excluded_from_clean(self, attrs: dict[str, Any]) -> list[str]:
        # The book comes from the URL: checked with it, so a name twice in a book is refused.
        return [name for name in super().excluded_from_clean(attrs) if name != "phonebook"]


class ContactItemSerializer(serializers.Serializer[dict[str, Any]]):
    """A contact of a bulk replace: text, as a CSV row gives it, for the CSV's planner to
    judge (so labels and numbers are refused with the import's messages)."""

    name = serializers.CharField(allow_blank=True)
    group = serializers.CharField(required=False, allow_blank=True)
    number_1 = serializers.CharField(required=False, allow_blank=True)
    label_1 = serializers.CharField(
        required=False, allow_blank=True, help_text="office, mobile or other; default office."
    )
    number_2 = serializers.CharField(required=False, allow_blank=True)
    label_2 = serializers.CharField(
        required=False, allow_blank=True, help_text="office, mobile or other; default mobile."
    )
    number_3 = serializers.CharField(required=False, allow_blank=True)
    label_3 = serializers.CharField(
        required=False, allow_blank=True, help_text="office, mobile or other; default other."
    )
    position = serializers.IntegerField(
        required=False, help_text="Order, lower first; a contact's own is kept when left out."
    )


def _too_many_contacts() -> str:
    """DRF formats the message with str.format: no braces in it."""
    return gettext("More than %(count)s contacts; split the list.") % {
        "count": number_format(MAX_ROWS, force_grouping=True)
    }


class ContactsReplaceSerializer(serializers.Serializer[dict[str, Any]]):
    contacts: serializers.ListSerializer[dict[str, Any]] = serializers.ListSerializer(
        child=ContactItemSerializer(),
        max_length=MAX_ROWS,
        error_messages={"max_length": lazy(_too_many_contacts, str)()},
    )


COUNTS = inline_serializer(
    "ContactsReplaced",
    {name: serializers.IntegerField() for name in ("created", "updated", "deleted", "unchanged")},
)


@extend_schema(parameters=[OpenApiParameter("phonebook_id", OpenApiTypes.INT, "path")])
class ContactViewSet(ScopedModelViewSet[Contact]):
    """The contacts of one book; a PUT on the collection replaces them all at once."""

    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    lookup_url_kwarg = "contact_id"
    lookup_value_regex = "[0-9]+"
    registry_actions: ClassVar[dict[str, str]] = {"replace": "change"}

    @classmethod
    def as_view(cls, actions: dict[str, Any] | None = None, **initkwargs: Any) -> Any:
        return super().as_view(with_list_route_methods(actions, {"put": "replace"}), **initkwargs)

    @property
    def phonebook(self) -> Phonebook:
        """The book of the URL, if the token sees it (another organisation's: 404)."""
        if not hasattr(self, "_phonebook"):
            books = scope_queryset(Phonebook.objects.select_related("organisation"), self.client)
            book = books.filter(pk=self.kwargs["phonebook_id"]).first()
            if book is None:
                raise NotFound(gettext("No such phonebook."))
            self._phonebook = book
        return self._phonebook

    def get_queryset(self) -> QuerySet[Contact]:
        contacts = super().get_queryset().filter(phonebook=self.phonebook)
        return contacts.select_related("phonebook__organisation").order_by("position", "name", "pk")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if "phonebook_id" in self.kwargs:  # not while the schema is generated
            context["phonebook"] = self.phonebook
        return context

    def perform_create(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        with transaction.atomic():
            super().perform_create(serializer)
            refresh_size(self.phonebook)

    def perform_update(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        with transaction.atomic():
            super().perform_update(serializer)
            refresh_size(self.phonebook)

    def perform_destroy(self, instance: Contact) -> None:
        with transaction.atomic():
            super().perform_destroy(instance)
            refresh_size(self.phonebook)

    @extend_schema(
        operation_id="phonebooks_contacts_replace",
        request=ContactsReplaceSerializer,
        responses={200: COUNTS},
    )
    def replace(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replace every contact of the book, all or nothing, by the CSV import's rules:
        matched on name and group, unchanged ones left alone, missing ones deleted."""
        book = self.phonebook
        self.check_object_permissions(request, book)
        given = ContactsReplaceSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        rows = [
            (index, _as_text(item)) for index, item in enumerate(given.validated_data["contacts"])
        ]
        with transaction.atomic():
            plan = write_planned(
                book, lambda: plan_rows(book, rows, delete_missing=True, where=_at_item)
            )
            if plan.errors:
                raise serializers.ValidationError({"contacts": _item_errors(plan)})
            if plan.changes:
                history.record(self.client, book, history.CHANGE, fields=["contacts"])
        return Response(_counts(plan))


def _as_text(item: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in item.items()}


def _at_item(index: int) -> str:
    return gettext("at /contacts/%(index)d") % {"index": index}


def _item_errors(plan: ImportPlan) -> dict[str, dict[str, list[serializers.ErrorDetail]]]:
    """index -> field -> messages, which the error handler turns into `/contacts/7/name`."""
    errors: dict[str, dict[str, list[serializers.ErrorDetail]]] = {}
    for error in plan.field_errors:
        field = error.field or "non_field_errors"
        item = errors.setdefault(str(error.line), {})
        item.setdefault(field, []).append(serializers.ErrorDetail(error.message, code="invalid"))
    return errors


def _counts(plan: ImportPlan) -> dict[str, int]:
    return {
        "created": len(plan.create),
        "updated": len(plan.update),
        "deleted": len(plan.delete),
        "unchanged": len(plan.unchanged),
    }


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("phonebooks", PhonebookViewSet, basename="phonebook")
    router.register(
        r"phonebooks/(?P<phonebook_id>[0-9]+)/contacts", ContactViewSet, basename="contact"
    )
