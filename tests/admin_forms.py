"""Posting admin forms the way a browser does, whatever inlines other apps add to a page."""

from __future__ import annotations


def management_data(client, url: str) -> dict[str, str]:
    """The management form fields of every inline on the page, as the page renders them."""
    response = client.get(url)
    assert response.status_code == 200, url
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        form = formset.management_form
        for name in form.fields:
            value = form[name].value()
            data[f"{formset.prefix}-{name}"] = "" if value is None else str(value)
    return data
