"""Seeded random input where bad input arrives: requests and config files.

Bounded (a few thousand cases, seeded) so the run is repeatable and quick.
The property: never a 500 from a request, never anything but ConfigError
from a config file.
"""
from __future__ import annotations

import random

import app.core as cherrypy
from app.core.config import ConfigError, parse_file, unrepr

from helpers import call

ALPHABET = 'abc/%.-_~?=&;+ \x00\\é\u2028' + '0123456789ABCDEFabcdef'


class Root:
    @cherrypy.expose
    def index(self, *args, **kwargs):
        return 'index %d %d' % (len(args), len(kwargs))

    @cherrypy.expose
    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def data(self):
        return {'got': cherrypy.request.json}

    @cherrypy.expose
    def form(self, a=None, b=None):
        return 'form'


def _text(rng: random.Random, n: int) -> str:
    return ''.join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))


def test_random_paths_queries_and_headers_never_500():
    cherrypy.tree.mount(Root(), '', {'/': {'tools.trailing_slash.on': True}})
    rng = random.Random(20261122)
    for _ in range(1500):
        path = '/' + _text(rng, 30)
        query = _text(rng, 40)
        headers = {}
        if rng.random() < 0.3:
            headers['Cookie'] = _text(rng, 40)
        if rng.random() < 0.2:
            headers['Accept-Encoding'] = _text(rng, 20)
        r = call(None, path.replace('?', ''), query=query, headers=headers)
        assert r.status < 500, (path, query, headers, r.body[:300])


def test_random_bodies_never_500():
    cherrypy.tree.mount(Root(), '')
    rng = random.Random(7)
    ctypes = ['application/json', 'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=xyz', 'multipart/form-data', 'text/plain',
              'application/json; charset=latin-1', '']
    for _ in range(800):
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        if rng.random() < 0.3:
            body = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + body
        path = rng.choice(['/data', '/form', '/'])
        ctype = rng.choice(ctypes)
        r = call(None, path, method='POST', body=body, headers={'Content-Type': ctype})
        assert r.status < 500, (path, ctype, body, r.body[:300])


def test_random_config_text_is_parsed_or_refused_with_config_error(tmp_path):
    rng = random.Random(99)
    pieces = ['[global]', '[/x]', 'a.b', '=', ':', '"s"', '1', 'True', '(', ')', '[', ']',
              '{', '}', 'os.system', '__import__', "('x',)", 'cherrypy.lib', '\n', ' ',
              'lambda', '.', ',', "'", '%(x)s']
    for i in range(400):
        text = ''.join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        f = tmp_path / ('c%d.conf' % i)
        f.write_text(text)
        try:
            result = parse_file(str(f))
        except ConfigError:
            continue
        assert isinstance(result, dict)


def test_unrepr_refuses_code():
    for text in ("__import__('os').system('touch /tmp/x')", 'open("f")', 'lambda: 1',
                 '(1).__class__', 'os.system("x")', '[x for x in ()]'):
        try:
            unrepr(text)
        except ConfigError:
            continue
        raise AssertionError('%r was accepted' % text)
