"""Softkey files of the states with sub-states: one top-level element per sub-state.

The firmware reads e.g. Talking.xml with pugixml, which takes a fragment of several
elements, and picks the one named after the phone's sub-state (`child("Hold")`). Such a
file is uploaded in the admin, written into the phone's config under its call state's key
and served as uploaded.
"""

import pytest
from django.urls import reverse

from media_assets.config import media_config
from media_assets.models import SoftkeyFile
from media_assets.validation import SOFTKEY_MAX_BYTES
from tests.media_assets.media import choose

URL = "http://127.0.0.1:8000/"

TALKING = """<?xml version="1.0" encoding="UTF-8"?>
<!-- One element per sub-state, as in Yealink's template -->
<Talk>
  <Enable><Key Type="Transfer"/><Key Type="Hold"/><Key Type="EndCall"/></Enable>
</Talk>
<Hold>
  <Enable><Key Type="Resume"/><Key Type="EndCall"/></Enable>
</Hold>
<Held>
  <Enable><Key Type="EndCall"/></Enable>
</Held>
<Conferenced>
  <Enable><Key Type="Hold"/><Key Type="Split"/><Key Type="EndCall"/></Enable>
</Conferenced>
<PreTrans>
  <Enable><Key Type="Send"/><Key Type="Cancel"/></Enable>
</PreTrans>"""

RINGBACK = (
    '<RingBack><Enable><Key Type="Cancel"/></Enable></RingBack>\n'
    '<SemiAttendTransBack><Enable><Key Type="Transfer"/><Key Type="Cancel"/></Enable>'
    "</SemiAttendTransBack>"
)

DIALING = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<Dialing><Enable><Key Type="Send"/></Enable></Dialing>\n'
    '<DialTrans><Enable><Key Type="Transfer"/></Enable></DialTrans>\n'
    '<DialConference><Enable><Key Type="Conference"/></Enable></DialConference>\n'
)

CONNECTING = (
    '<Connecting><Enable><Key Type="Cancel"/></Enable></Connecting>'
    '<SemiAttendTrans><Enable><Key Type="Transfer"/></Enable></SemiAttendTrans>'
)


@pytest.fixture(autouse=True)
def provisioning_url(settings):
    settings.PROVISIONING_URL = URL


def add_softkey(client, content: str, name: str = ""):
    return client.post(
        reverse("admin:media_assets_softkeyfile_add"), {"name": name, "content": content}
    )


def content_errors(response) -> str:
    assert response.status_code == 200, "expected the form again, with errors"
    return " ".join(response.context["adminform"].form.errors["content"])


def refusal(client, content: str) -> str:
    message = content_errors(add_softkey(client, content))
    assert not SoftkeyFile.objects.exists()
    return message


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("content", "state"),
    [
        (TALKING, "Talking"),
        (RINGBACK, "RingBack"),
        (DIALING, "Dialing"),
        (CONNECTING, "Connecting"),
    ],
)
def test_a_file_of_several_sub_state_elements_is_uploaded_for_its_call_state(
    admin_client, db, content, state
):
    response = add_softkey(admin_client, content)

    assert response.status_code == 302
    softkey = SoftkeyFile.objects.get()
    assert (softkey.name, softkey.call_state) == (state, state)


def test_the_phone_is_given_the_talking_file_and_gets_it_as_uploaded(
    admin_client, client, tenant_a
):
    add_softkey(admin_client, TALKING)
    choose(tenant_a.organisation, custom_softkeys_enabled=True)

    url = media_config(tenant_a.device)["custom_softkey_talking.url"]
    response = client.get(url.removeprefix(URL.rstrip("/")))

    assert url == URL + "xml/_global/Talking.xml"
    assert response.status_code == 200
    assert body(response) == TALKING.encode()


def test_a_ringback_file_keeps_its_own_key_beside_the_talking_file(admin_client, tenant_a):
    add_softkey(admin_client, TALKING)
    add_softkey(admin_client, RINGBACK)
    choose(tenant_a.organisation, custom_softkeys_enabled=True)

    config = media_config(tenant_a.device)

    assert config["custom_softkey_ring_back.url"] == URL + "xml/_global/RingBack.xml"
    assert config["custom_softkey_talking.url"] == URL + "xml/_global/Talking.xml"


def test_a_second_file_for_a_call_state_is_refused_whichever_sub_states_it_has(admin_client, db):
    add_softkey(admin_client, TALKING)

    response = add_softkey(admin_client, "<Held><Enable/></Held>", name="held-only")

    assert "Talking.xml is the Talking file already" in content_errors(response)


def test_an_element_that_is_not_a_sub_state_of_the_call_state_is_refused(admin_client, db):
    message = refusal(admin_client, "<Talk><Enable/></Talk><Holding><Enable/></Holding>")

    assert "<Holding> is not a sub-state of Talking" in message
    assert "<Hold>" in message  # what the file may hold instead


def test_sub_states_of_two_call_states_in_one_file_are_refused(admin_client, db):
    message = refusal(admin_client, "<Talk><Enable/></Talk><DialTrans><Enable/></DialTrans>")

    assert "Talking (<Talk>)" in message
    assert "Dialing (<DialTrans>)" in message
    assert "one file per call state" in message


def test_a_sub_state_written_twice_is_refused(admin_client, db):
    message = refusal(admin_client, "<Talk><Enable/></Talk><Hold/><Talk><Enable/></Talk>")

    assert "<Talk> is in the file more than once" in message


def test_text_between_the_sub_state_elements_is_refused(admin_client, db):
    message = refusal(admin_client, "<Talk><Enable/></Talk> stray words <Hold><Enable/></Hold>")

    assert "text outside the sub-state elements" in message
    assert "stray words" in message


def test_a_doctype_before_several_sub_states_is_refused(admin_client, db):
    xml = (
        '<?xml version="1.0"?><!DOCTYPE Talk [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<Talk>&xxe;</Talk><Hold/>"
    )

    assert "Remove the DOCTYPE" in refusal(admin_client, xml)


def test_an_undeclared_entity_in_a_sub_state_is_refused_and_not_resolved(admin_client, db):
    message = refusal(admin_client, "<Talk><Enable>&xxe;</Enable></Talk><Hold/>")

    assert "not well-formed" in message
    assert "xxe" in message


def test_a_file_that_closes_elements_it_did_not_open_is_refused(admin_client, db):
    assert "not well-formed" in refusal(admin_client, "<Talk/></Talk><Hold/>")


def test_a_fragment_over_the_size_limit_is_refused(admin_client, db):
    padding = "<!--" + "x" * SOFTKEY_MAX_BYTES + "-->"

    assert "the limit is 64 KB" in refusal(admin_client, f"<Talk/>{padding}<Hold/>")


def test_a_declared_encoding_other_than_utf8_is_refused_for_a_fragment(admin_client, db):
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><Talk/><Hold/>'

    assert "ISO-8859-1" in refusal(admin_client, xml)


def test_a_single_call_in_element_is_still_a_call_in_file(admin_client, db):
    response = add_softkey(admin_client, '<CallIn><Enable><Key Type="Answer"/></Enable></CallIn>')

    assert response.status_code == 302
    assert SoftkeyFile.objects.get().call_state == "CallIn"
