"""The first/next links of list pages (glance.common.wsgi.page_links)."""
from __future__ import annotations

from glance.common import wsgi


def _request(query: str) -> wsgi.Request:
    return wsgi.Request.blank('/v2/x?' + query)


def test_links_keep_the_query_without_its_marker():
    links = wsgi.page_links(_request('limit=2&marker=m0&sort_key=name'),
                            '/v2/tasks', True, 'm2')
    assert links == {'first': '/v2/tasks?limit=2&sort_key=name',
                     'next': '/v2/tasks?limit=2&sort_key=name&marker=m2'}


def test_no_next_after_a_short_page_and_a_bare_first():
    assert wsgi.page_links(_request(''), '/v2/tasks', False, 'm') == {
        'first': '/v2/tasks'}
    assert wsgi.page_links(_request(''), '/v2/tasks', True, None) == {
        'first': '/v2/tasks'}


def test_repeated_parameters_repeat_unless_last_values():
    request = _request('tag=a&tag=b&limit=1')
    assert wsgi.page_links(request, '/v2/x', True, 'm')['next'] == \
        '/v2/x?tag=a&tag=b&limit=1&marker=m'
    # the reference's image lists keep each parameter's last value
    assert wsgi.page_links(request, '/v2/images', True, 'm',
                           last_values=True)['next'] == \
        '/v2/images?tag=b&limit=1&marker=m'
