from __future__ import annotations

from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.request import Request


class Pages(PageNumberPagination):
    """`?page=2&page_size=500`: 100 a page unless asked, at most 1,000."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class NewestFirst(CursorPagination):
    """For tables of millions of rows (the access log): no count, no offset, so page 5,000
    costs what page 1 does; `next` carries the position."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a cursor it cannot read with 404, as if the list were not there.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {
                    "cursor": [
                        gettext("Not a cursor of this list: use the `next` or `previous` link.")
                    ]
                },
                code="invalid_cursor",
            ) from None
