"""Posting admin pages back the way a browser does."""

from tests.admin_forms import management_data


def page_data(client, url: str) -> dict:
    """What a browser posts back unchanged: the main form and every inline form, whatever
    inlines other apps put on the page."""
    response = client.get(url)
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.extend(inline.formset.forms)
    data = management_data(client, url)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = "on" if value is True else value
    return data
