def test_login_and_me(client, alice):
    resp = client.simulate_get("/auth/me", headers=alice.headers)
    assert resp.status_code == 200
    assert resp.json["email"] == alice.email
