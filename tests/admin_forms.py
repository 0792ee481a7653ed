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


def browser_form(client, url: str) -> dict[str, str]:
    """What a browser posts back from the page unchanged: the main form's values as shown
    (a box unticked is left out, as a browser leaves it out) and the inlines' management
    fields. Tests change the fields they are about and leave the rest as the page had them."""
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["adminform"].form
    data = management_data(client, url)
    for name, field in form.fields.items():
        value = form[name].value()
        if getattr(field.widget, "input_type", None) == "password" and not getattr(
            field.widget, "render_value", True
        ):
            continue  # never in the page
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    return data


def browser_form_with_inlines(client, url: str) -> dict[str, str]:
    """`browser_form` and every inline row's fields as the page shows them (a password the
    page does not hold left empty, as a browser posts it)."""
    data = browser_form(client, url)
    for inline in client.get(url).context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            data |= _shown_values(form)
    return data


def _shown_values(form) -> dict[str, str]:
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if getattr(field.widget, "input_type", None) == "password" and not getattr(
            field.widget, "render_value", True
        ):
            value = ""
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
        elif value is not None:
            data[form.add_prefix(name)] = str(value)
    return data
