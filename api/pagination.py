from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


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
