"""app.core.testing: the public test client, in-process and live."""
from __future__ import annotations

import app.core as cherrypy
from app.core.testing import Client, call, http, live


class Root:
    @cherrypy.expose
    @cherrypy.tools.sessions()
    def count(self):
        cherrypy.session['n'] = cherrypy.session.get('n', 0) + 1
        return str(cherrypy.session['n'])

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def echo(self):
        return {'got': cherrypy.request.json, 'method': cherrypy.request.method}


def test_the_client_keeps_cookies_and_speaks_json():
    cherrypy.tree.mount(Root(), '')
    c = Client()
    assert [c.get('/count').text for _ in range(3)] == ['1', '2', '3']
    assert 'session_id' in c.cookies
    assert Client().get('/count').text == '1'          # a new client, a new session
    r = c.post('/echo', json={'a': [1, 2]})
    assert r.status == 200 and r.json() == {'got': {'a': [1, 2]}, 'method': 'POST'}
    assert c.put('/echo', json=None, body='{"b": 1}',
                 headers={'Content-Type': 'application/json'}).json()['got'] == {'b': 1}
    assert call(None, '/count').headers['Set-Cookie'].startswith('session_id=')


def test_live_serves_on_a_free_port():
    cherrypy.config.update({'log.screen': False})
    cherrypy.tree.mount(Root(), '')
    with live(cherrypy.tree) as server:
        host, port = server.bound_addr
        assert host == '127.0.0.1' and port > 0
        status, headers, body = http(server, '/echo', method='POST', body=b'[1]',
                                     headers={'Content-Type': 'application/json'})
        assert status == 200 and b'"got": [1]' in body


def test_the_readme_example_runs():
    import re

    import app
    from helpers import ROOT
    with open(ROOT + '/README.md', encoding='utf-8') as f:
        text = f.read()
    block = re.search(r'    from app.core.testing import Client, call, live\n\n(.*?)\n\n', text,
                      re.S).group(1)
    code = '\n'.join(line[4:] for line in block.splitlines())
    namespace = {'app': app, 'Client': Client}
    exec(code, namespace)  # noqa: S102 (the README's own example)
    namespace['test_visits_count_per_client']()
