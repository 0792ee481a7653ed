import pytest
from django.core.exceptions import ValidationError

from organisations.config_syntax import (
    generic_key,
    parse_overrides,
    provider_only_keys,
    render_lines,
    retire_overrides,
    unknown_keys,
    validate_credential,
    validate_overrides,
    validate_username,
    validate_yealink_name,
)


def messages(error: ValidationError) -> list[str]:
    return [message for message in error.messages]


def test_it_parses_key_value_lines_and_skips_comments_and_blanks():
    text = (
        "# a comment\n\nlocal_time.time_zone = +2\r\nlang.gui=Dutch\n  features.dnd.enable =  1 \n"
    )

    assert parse_overrides(text) == {
        "local_time.time_zone": "+2",
        "lang.gui": "Dutch",
        "features.dnd.enable": "1",
    }


def test_it_keeps_an_empty_value_and_nulls():
    assert parse_overrides("a.b =\nc.d = %NULL%") == {"a.b": "", "c.d": "%NULL%"}


def test_it_names_the_line_that_is_not_key_value():
    with pytest.raises(ValidationError) as caught:
        parse_overrides("lang.gui = Dutch\nthis is not an override\n")

    assert messages(caught.value) == [
        "Line 2: 'this is not an override' is not of the form 'key = value'."
    ]


def test_it_refuses_a_value_with_a_line_break():
    with pytest.raises(ValidationError) as caught:
        parse_overrides("lang.gui = Dutch\nlang.wui = Dutch\u2028static.x = 1")

    assert messages(caught.value) == ["Line 2: the value of lang.wui contains a line break."]


def test_it_refuses_a_bad_key_and_a_duplicate_key_with_their_lines():
    with pytest.raises(ValidationError) as caught:
        parse_overrides("lang.gui = Dutch\nbad key = 1\nlang.gui = English")

    assert messages(caught.value) == [
        "Line 2: 'bad key' is not a valid key (letters, digits, '.', '_' and '-' only).",
        "Line 3: lang.gui is already set on line 1.",
    ]


def test_lenient_parsing_skips_bad_lines_instead_of_failing():
    assert parse_overrides("garbage\nlang.gui = Dutch", lenient=True) == {"lang.gui": "Dutch"}


def test_it_flags_keys_no_public_template_uses():
    keys = ["account.3.sip_server.2.address", "lang.gui", "acount.1.label"]

    assert unknown_keys(keys) == ["acount.1.label"]
    assert generic_key("account.12.sip_server.2.address") == "account.N.sip_server.N.address"


def test_it_renders_the_version_line_first_and_one_line_per_key():
    assert render_lines({"a.b": "1", "c.d": "x\ny"}) == "#!version:1.0.0.1\na.b = 1\nc.d = x y\n"


@pytest.mark.parametrize("name", ["Sales: desk", "a;b", "<x>", "[1]", "why?", "100%"])
def test_yealink_names_refuse_the_characters_phones_refuse(name):
    with pytest.raises(ValidationError):
        validate_yealink_name(name)


def test_credentials_are_printable_ascii_and_user_names_have_no_colon():
    validate_credential("Str0ng-pass!word")
    for bad in ["with space", "tab\there", "naïve"]:
        with pytest.raises(ValidationError):
            validate_credential(bad)
    with pytest.raises(ValidationError):
        validate_username("user:name")


def test_a_repeatable_key_may_come_once_per_user_or_file():
    parsed = parse_overrides(
        "static.security.user_password = admin:Secret-1\n"
        "static.security.user_password = user:Secret-2\n"
        "ringtone.url = http://x/a.wav\nringtone.url = http://x/b.wav"
    )

    assert render_lines(parsed).splitlines()[1:] == [
        "static.security.user_password = admin:Secret-1",
        "static.security.user_password = user:Secret-2",
        "ringtone.url = http://x/a.wav",
        "ringtone.url = http://x/b.wav",
    ]
    with pytest.raises(ValidationError) as caught:
        parse_overrides(
            "static.security.user_password = admin:Secret-1\n"
            "static.security.user_password = admin:Secret-3"
        )
    assert messages(caught.value) == [
        "Line 2: static.security.user_password is already set for admin on line 1."
    ]


@pytest.mark.parametrize(
    "line", ["static.security.user_password = admin:admin", "security.user_password = user:"]
)
def test_an_override_may_not_give_phones_a_factory_password(line):
    with pytest.raises(ValidationError) as caught:
        validate_overrides(line)

    assert "factory default or to nothing" in messages(caught.value)[0]


def test_provider_only_keys_are_found_by_either_generation_of_names_and_any_case():
    text = "security.user_password = admin:Secret-1\nStatic.Firmware.URL = x\nlang.gui = Dutch"

    assert provider_only_keys(text) == ["security.user_password", "Static.Firmware.URL"]


def test_unknown_keys_are_checked_without_regard_to_case():
    assert unknown_keys(["Account.1.Codec.PCMA.Enable", "account.1.codec.pcmx.enable"]) == [
        "account.1.codec.pcmx.enable"
    ]


def test_overrides_taken_out_are_remembered_until_set_again():
    retired = retire_overrides("features.dnd.enable = 1\nlang.gui = Dutch", "lang.gui = x", "")

    assert retired == "features.dnd.enable"
    assert retire_overrides("lang.gui = x", "", retired) == "features.dnd.enable lang.gui"
    assert retire_overrides("", "features.dnd.enable = 0", retired) == ""
