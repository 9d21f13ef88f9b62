"""Error pages as CherryPy's suite checks them: padding, a failing custom page."""
from __future__ import annotations

import pytest

import app.core as cherrypy
from helpers import call, fresh_core


@pytest.fixture(autouse=True)
def _fresh():
    fresh_core()
    yield
    fresh_core()


def _short_page(**kw):
    return 'Oops %s' % kw['status']


class Root:
    @cherrypy.expose
    @cherrypy.config(**{'error_page.404': _short_page})
    def short(self):
        raise cherrypy.NotFound()

    @cherrypy.expose
    @cherrypy.config(**{'error_page.403': _short_page})
    def forbidden(self):
        raise cherrypy.HTTPError(403)

    @cherrypy.expose
    @cherrypy.config(**{'error_page.404': 'no-such-template.html'})
    def broken(self):
        raise cherrypy.HTTPError(404, 'No <b>really</b>')



def test_a_json_error_page_is_not_padded():
    def json_page(**kw):
        cherrypy.response.headers['Content-Type'] = 'application/json'
        return '{}'
    cherrypy.tree.mount(Root(), config={'/': {'error_page.404': json_page}})
    assert call(None, '/nowhere').body == b'{}'


def test_a_short_html_error_page_is_padded_past_internet_explorers_threshold():
    cherrypy.tree.mount(Root())
    r = call(None, '/short')
    assert r.status == 404
    assert r.body == b'Oops 404 Not Found'.ljust(513)
    assert r.headers['Content-Length'] == '513'
    r = call(None, '/forbidden')
    assert r.body == b'Oops 403 Forbidden'.ljust(257)


def test_a_failing_custom_page_is_named_like_python_names_the_error():
    cherrypy.tree.mount(Root())
    r = call(None, '/broken')
    assert r.status == 404
    assert (b'No &lt;b&gt;really&lt;/b&gt;<br />In addition, the custom error page failed:\n'
            b"<br />FileNotFoundError: [Errno 2] No such file or directory: "
            b"'no-such-template.html'") in r.body
