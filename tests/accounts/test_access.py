"""Each role reaches only its pages."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD


def _client_for(client, user):
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("url_name", "persona", "expected"),
    [
        ("tenants:dashboard", None, 302),
        ("tenants:dashboard", "alice", 200),
        ("tenants:dashboard", "otto", 200),
        ("tenants:dashboard", "carol", 403),
        ("invoices:documents", None, 302),
        ("invoices:documents", "alice", 403),
        ("invoices:documents", "otto", 403),
        ("invoices:documents", "carol", 200),
        ("home", None, 302),
        ("password_change", "carol", 200),
        ("password_change", "otto", 200),
    ],
)
def test_it_gives_each_role_only_its_pages(client, request, url_name, persona, expected):
    user = request.getfixturevalue(persona) if persona else None
    response = _client_for(client, user).get(reverse(url_name))
    assert response.status_code == expected
    if persona is None:
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("persona", "landing"), [("alice", "/staff/"), ("carol", "/invoices/")])
def test_it_sends_each_role_home_after_login(client, request, persona, landing):
    request.getfixturevalue(persona)
    response = client.post(
        reverse("login"), {"username": persona, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == landing


def _patterns(resolver, namespace=""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            yield from _patterns(p, ns)
        elif isinstance(p, URLPattern) and namespace in ("tenants", "invoices"):
            yield namespace, p


def _dummy_kwargs(pattern: URLPattern) -> dict:
    kwargs = {}
    for name, conv in pattern.pattern.converters.items():
        kwargs[name] = 999999 if type(conv).__name__ == "IntConverter" else "x"
    return kwargs


def _all_app_urls():
    urls = []
    for namespace, p in _patterns(get_resolver()):
        if not p.name:
            continue
        try:
            url = reverse(f"{namespace}:{p.name}", kwargs=_dummy_kwargs(p))
        except Exception:  # noqa: S112 - patterns with converters we cannot fake
            continue
        if "/webhooks/" in url:
            continue  # authenticated by signature, not by login
        urls.append((namespace, url))
    return urls


def test_it_keeps_every_staff_and_customer_url_behind_the_right_role(client, carol, otto):
    urls = _all_app_urls()
    assert urls, "no URLs found"
    for namespace, url in urls:
        client.logout()
        anonymous = client.get(url)
        assert anonymous.status_code in (302, 404), (url, anonymous.status_code)
        wrong = carol if namespace == "tenants" else otto
        client.force_login(wrong)
        response = client.get(url)
        if namespace == "invoices" and "/tenant/" in url:
            continue  # staff read-only views of a tenant's documents
        assert response.status_code in (403, 404), (url, wrong.username, response.status_code)


def test_it_explains_a_refusal_on_a_styled_page(client, carol):
    client.force_login(carol)
    response = client.get(reverse("tenants:dashboard"))
    assert response.status_code == 403
    assert b"Not allowed" in response.content
    assert b'href="/"' in response.content  # a way back home
