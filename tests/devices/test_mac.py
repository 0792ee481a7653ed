import pytest

from devices.mac import (
    InvalidMac,
    format_mac,
    is_yealink_oui,
    mac_search_fragment,
    normalise_mac,
    parse_user_agent,
)


@pytest.mark.parametrize(
    "notation",
    ["80:5E:C0:00:00:01", "80-5e-c0-00-00-01", "805e.c000.0001", "805EC0000001", " 805ec0000001 "],
)
def test_it_accepts_every_usual_notation(notation):
    assert normalise_mac(notation) == "805ec0000001"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "required"),
        ("805ec000001", "12 hexadecimal digits, this has 11"),
        ("805ec00000011", "this has 13"),
        ("805ec00000zz", "'z' is not a hexadecimal digit"),
        ("80:5e:c0-00:00:01", "Unusual grouping"),
        ("80:5e:c0:00:0001", "Unusual grouping"),
        ("ffffffffffff", "broadcast, multicast"),
        ("000000000000", "broadcast, multicast"),
        ("01005e000001", "broadcast, multicast"),
    ],
)
def test_it_refuses_anything_else_and_says_why(text, reason):
    with pytest.raises(InvalidMac, match=reason):
        normalise_mac(text)


def test_it_formats_a_mac_the_way_the_user_agent_writes_it():
    assert format_mac("805ec0000001") == "80:5e:c0:00:00:01"


def test_it_knows_yealink_prefixes():
    assert is_yealink_oui("805ec0000001")
    assert is_yealink_oui("001565000002")
    assert not is_yealink_oui("aabbcc000001")


@pytest.mark.parametrize(
    ("term", "fragment"),
    [("80:5E:C0", "805ec0"), ("805e.c000.0001", "805ec0000001"), ("reception", None), ("a", None)],
)
def test_it_turns_a_search_term_in_any_notation_into_digits(term, fragment):
    assert mac_search_fragment(term) == fragment


@pytest.mark.parametrize(
    ("raw", "model", "firmware", "mac"),
    [
        ("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "T46G", "28.72.0.1", "0015654aa937"),
        (
            "Yealink SIP VP-T49G 51.80.0.10 00:15:65:4a:a9:37",
            "VP-T49G",
            "51.80.0.10",
            "0015654aa937",
        ),
        ("Yealink W60B 77.81.0.35 00:15:65:4a:a9:37", "W60B", "77.81.0.35", "0015654aa937"),
        (
            "yealink  SIP-T54W  96.86.0.100  80:5E:C0:00:00:01",
            "T54W",
            "96.86.0.100",
            "805ec0000001",
        ),
        ("Yealink SIP-T54W 58.80.0.25 001565f429a4", "T54W", "58.80.0.25", "001565f429a4"),
        ("Yealink SIP-T46U 108.86.0.20", "T46U", "108.86.0.20", None),
        ("curl/8.0", "", "", None),
        ("", "", "", None),
    ],
)
def test_it_reads_model_firmware_and_mac_from_the_user_agent(raw, model, firmware, mac):
    agent = parse_user_agent(raw)

    assert (agent.model, agent.firmware, agent.mac) == (model, firmware, mac)


def test_the_firmware_names_the_common_file_model_code():
    assert parse_user_agent("Yealink SIP-T46U 108.86.0.20 00:15:65:00:00:02").model_code == 108
    assert parse_user_agent("curl/8.0").model_code is None
