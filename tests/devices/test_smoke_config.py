from devices.models import AccessLog


def test_the_phone_gets_its_mac_file_with_the_right_credentials(client, tenant_a):
    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    assert response.status_code == 200
    assert b"account.1.password = alpha-sip-101" in response.content
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.SUCCESS
