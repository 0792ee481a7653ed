"""`{% dashboard_figures as dashboard %}`: the admin's first page's figures, for its user."""

from __future__ import annotations

from typing import Any

from django import template

from voipconfig.dashboard import figures

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard_figures(context: template.Context) -> dict[str, Any]:
    return figures(context["request"].user)
