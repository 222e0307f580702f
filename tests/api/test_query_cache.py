"""The query cache behind the campaign settings and the contact lists with their counts: every
write (API, an import in the request or in a worker) leaves no stale read, another company's
writes neither invalidate nor ever serve this company's entries; ``DELETE /cache`` and
``GET /cache/stats`` (reports: ``test_report_cache.py``)."""

from __future__ import annotations

import pytest

from actors import imports as import_actor
from tests.api.cache_probe import counts, delta, fresh_after_write, get
from tests.api.helpers import assert_error, phone
from tests.api.test_imports import upload
from zapx import cache
from zapx.db import Tenant, db
from zapx.imports import service as import_service


def _settings(rows) -> dict:
    return {r["key"]: r["value"] for r in rows}


def test_settings_are_fresh_after_a_save(client, config, alice):
    def save():
        resp = client.simulate_post(
            "/campaign-settings",
            json={"settings": {"messageInterval": 33, "timezone": "UTC"}},
            headers=alice.headers,
        )
        assert resp.status_code == 200, resp.text

    before, after = fresh_after_write(
        client, config, alice, cache.SETTINGS, "/campaign-settings", save
    )
    assert _settings(before)["messageInterval"] != "33"
    assert _settings(after)["messageInterval"] == "33"
    assert _settings(after)["timezone"] == '"UTC"'


def _list(client, acct, name: str, items: int = 0) -> int:
    list_id = client.simulate_post("/contact-lists", json={"name": name}, headers=acct.headers)
    assert list_id.status_code == 201, list_id.text
    list_id = list_id.json["id"]
    for _ in range(items):
        _item(client, acct, list_id)
    return list_id


def _item(client, acct, list_id: int) -> int:
    resp = client.simulate_post(
        "/contact-list-items",
        json={"name": "Someone", "number": phone(), "contactListId": list_id},
        headers=acct.headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def _count_in(body, list_id: int) -> int | None:
    """The count of ``list_id`` in a page ({records}), one list, or None when not shown."""
    if "records" in body:
        body = next((r for r in body["records"] if r["id"] == list_id), None)
    return None if body is None else body.get("contactsCount")


READS = [
    ("/contact-lists", None),
    ("/contact-lists", {"searchParam": "clientes", "pageNumber": "1"}),
    ("/contact-lists/list", None),
    ("one", None),
]


@pytest.mark.parametrize(("path", "params"), READS)
@pytest.mark.parametrize(
    "write", ["add item", "delete item", "move item", "rename", "create", "delete", "upload"]
)
def test_lists_and_counts_are_fresh_after_every_write(client, config, alice, path, params, write):
    list_id = _list(client, alice, "Clientes", items=2)
    other = _list(client, alice, "Clientes antigos")
    item_id = _item(client, alice, list_id)
    path = f"/contact-lists/{list_id}" if path == "one" else path
    h = alice.headers

    def do():
        if write == "add item":
            _item(client, alice, list_id)
        elif write == "delete item":
            assert client.simulate_delete(f"/contact-list-items/{item_id}", headers=h).status == (
                "204 No Content"
            )
        elif write == "move item":
            resp = client.simulate_put(
                f"/contact-list-items/{item_id}", json={"contactListId": other}, headers=h
            )
            assert resp.status_code == 200, resp.text
        elif write == "rename":
            resp = client.simulate_put(
                f"/contact-lists/{list_id}", json={"name": "Clientes VIP"}, headers=h
            )
            assert resp.status_code == 200, resp.text
        elif write == "create":
            _list(client, alice, "Clientes novos")
        elif write == "delete":
            assert client.simulate_delete(f"/contact-lists/{other}", headers=h).status_code == 204
        else:
            data = f"nome;telefone\nAna;{phone()}\nBia;{phone()}\n".encode()
            resp = upload(client, alice, data, path=f"/contact-lists/{list_id}/upload")
            assert resp.status_code == 201 and resp.json["inserted"] == 2, resp.text

    before, after = fresh_after_write(client, config, alice, cache.LISTS, path, do, params=params)
    items = write in ("add item", "delete item", "move item", "upload")
    if path.endswith("/list"):  # names only, no counts: only a list's own writes show
        assert (before != after) == (not items)
    elif path == f"/contact-lists/{list_id}":  # another list's create or delete: no change
        assert (before != after) == (write not in ("create", "delete"))
    else:
        assert before != after
    shown = _count_in(before, list_id) if not path.endswith("/list") else None
    if items and shown is not None:
        change = {"add item": 1, "delete item": -1, "move item": -1, "upload": 2}[write]
        assert _count_in(after, list_id) == shown + change


def test_a_list_import_run_by_the_worker_bumps_the_lists(client, config, alice, tmp_path):
    list_id = _list(client, alice, "Clientes", items=1)
    path = tmp_path / "big.csv"
    path.write_text("nome;telefone\n" + "".join(f"P{i};{phone()}\n" for i in range(5)))

    def import_in_the_worker():
        with db.connection_context():
            imp = import_service.create_import(
                Tenant(alice.company_id), str(path), "big.csv", list_id=list_id, owned=False
            )
        import_actor.import_contacts.fn(imp.id)  # the actor's own code: its after_chunk

    before, after = fresh_after_write(
        client, config, alice, cache.LISTS, f"/contact-lists/{list_id}", import_in_the_worker
    )
    assert (before["contactsCount"], after["contactsCount"]) == (1, 6)


def test_a_contacts_import_run_by_the_worker_bumps_the_contacts(client, config, alice, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("nome;telefone\nAna Maria;" + phone() + "\n")

    def import_in_the_worker():
        with db.connection_context():
            imp = import_service.create_import(
                Tenant(alice.company_id), str(path), "c.csv", owned=False
            )
        import_actor.import_contacts.fn(imp.id)

    before, after = fresh_after_write(
        client, config, alice, cache.CONTACTS, "/contacts", import_in_the_worker
    )
    assert (before["count"], after["count"]) == (0, 1)


def test_another_company_neither_invalidates_nor_is_served(client, config, alice, bob):
    a_list = _list(client, alice, "Clientes", items=2)
    _list(client, bob, "Clientes", items=5)
    saved = {}
    for acct in (alice, bob):
        resp = client.simulate_post(
            "/campaign-settings",
            json={"settings": {"messageInterval": 10 + acct.company_id}},
            headers=acct.headers,
        )
        assert resp.status_code == 200
        saved[acct.company_id] = _settings(resp.json)["messageInterval"]
    assert saved[alice.company_id] != saved[bob.company_id]
    reads = ("/contact-lists", "/contact-lists/list", "/campaign-settings")
    warm = {p: get(client, alice, p).content for p in reads}
    alice_before = {
        ns: counts(config, alice.company_id, ns) for ns in (cache.LISTS, cache.SETTINGS)
    }
    # Bob reads the same routes: his own data, never alice's entries (same key parts).
    bob_pages = {p: get(client, bob, p).json for p in reads}
    assert [r["contactsCount"] for r in bob_pages["/contact-lists"]["records"]] == [5]
    assert _settings(bob_pages["/campaign-settings"])["messageInterval"] == saved[bob.company_id]
    # Bob writes to his lists and settings.
    _list(client, bob, "Outra", items=1)
    client.simulate_post(
        "/campaign-settings", json={"settings": {"jitter": 0.5}}, headers=bob.headers
    )
    assert_error(client.simulate_get(f"/contact-lists/{a_list}", headers=bob.headers), 404)
    # Alice's entries are still current, and served: every read a hit, the same bytes.
    for p in reads:
        assert get(client, alice, p).content == warm[p]
    for ns, before in alice_before.items():
        hits, misses, invalidations = delta(before, counts(config, alice.company_id, ns))
        assert (misses, invalidations) == (0, 0) and hits >= 1, ns


def test_delete_cache_bumps_every_namespace_of_the_company(client, config, alice, bob):
    for p in ("/contact-lists", "/campaign-settings", "/contacts"):
        get(client, alice, p)
        get(client, bob, p)
    alice_before = {ns: counts(config, alice.company_id, ns) for ns in cache.NAMESPACES}
    bob_before = {ns: counts(config, bob.company_id, ns) for ns in cache.NAMESPACES}
    resp = client.simulate_delete("/cache", headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json == {"companyId": alice.company_id, "namespaces": list(cache.NAMESPACES)}
    for ns in cache.NAMESPACES:
        assert delta(alice_before[ns], counts(config, alice.company_id, ns)) == (0, 0, 1)
        assert delta(bob_before[ns], counts(config, bob.company_id, ns)) == (0, 0, 0)
    before = counts(config, alice.company_id, cache.LISTS)
    get(client, alice, "/contact-lists")  # computed afresh
    assert delta(before, counts(config, alice.company_id, cache.LISTS))[:2] == (0, 1)
    before = counts(config, bob.company_id, cache.LISTS)
    get(client, bob, "/contact-lists")  # bob's entry is untouched
    assert delta(before, counts(config, bob.company_id, cache.LISTS))[:2] == (1, 0)


def test_who_may_clear_and_read_the_stats(client, config, account, alice, bob, root):
    user = account("acme", profile="user")
    for method in ("simulate_delete", "simulate_get"):
        path = "/cache" if method == "simulate_delete" else "/cache/stats"
        assert_error(getattr(client, method)(path, headers=user.headers), 403)
        # An admin naming another company: not found, as another company's objects are.
        resp = getattr(client, method)(
            path, params={"companyId": alice.company_id}, headers=bob.headers
        )
        assert_error(resp, 404)
        resp = getattr(client, method)(path, params={"companyId": "x"}, headers=root.headers)
        assert_error(resp, 400)
    # Super: its own company by default, any with ?companyId=.
    resp = client.simulate_delete("/cache", headers=root.headers)
    assert resp.status_code == 200 and resp.json["companyId"] == root.company_id
    before = counts(config, bob.company_id, cache.REPORTS)
    resp = client.simulate_delete(
        "/cache", params={"companyId": bob.company_id}, headers=root.headers
    )
    assert resp.status_code == 200 and resp.json["companyId"] == bob.company_id
    assert delta(before, counts(config, bob.company_id, cache.REPORTS)) == (0, 0, 1)


def test_stats_count_the_company_and_the_global_totals(client, config, alice, bob, root):
    get(client, alice, "/campaign-settings")
    get(client, alice, "/campaign-settings")
    get(client, bob, "/campaign-settings")
    client.simulate_delete("/cache", headers=alice.headers)
    mine = client.simulate_get("/cache/stats", headers=alice.headers)
    assert mine.status_code == 200, mine.text
    body = mine.json
    assert body["companyId"] == alice.company_id and "global" not in body
    assert set(body["namespaces"]) == set(cache.NAMESPACES)
    assert body["namespaces"]["settings"] == {"hit": 1, "miss": 1, "invalidation": 1}
    assert body["namespaces"]["reports"]["invalidation"] == 1
    assert body["ttlS"] == {
        **{ns: config.query_cache_ttl_s for ns in cache.NAMESPACES},
        "reports": config.query_cache_report_ttl_s,
    }
    theirs = client.simulate_get("/cache/stats", headers=bob.headers).json
    assert theirs["namespaces"]["settings"] == {"hit": 0, "miss": 1, "invalidation": 0}
    every = client.simulate_get("/cache/stats", headers=root.headers).json
    assert every["companyId"] == root.company_id
    assert every["namespaces"]["settings"] == {"hit": 0, "miss": 0, "invalidation": 0}
    assert every["global"]["namespaces"]["settings"] == {"hit": 1, "miss": 2, "invalidation": 1}
    assert every["global"]["errors"] >= 0 and every["global"]["bypassed"] >= 0
    one = client.simulate_get(
        "/cache/stats", params={"companyId": alice.company_id}, headers=root.headers
    ).json
    assert one["namespaces"] == body["namespaces"] and "global" in one
