"""The landing page and /status in-process: facts, escaping, the /metrics link, the palette."""
from __future__ import annotations

import os
import re
import socket

import pytest

import app.core as cherrypy
from app import CONF_DIR, build, landing
from app.site import STATIC_DIR

from helpers import call

COMMIT = 'fedcba9876543210fedcba9876543210fedcba98'


def _build(conf: str = 'test.conf') -> None:
    build(os.path.join(CONF_DIR, conf))
    cherrypy.config.update({'log.screen': False})


def _page(**headers: str) -> str:
    r = call(None, '/', headers=dict({'Host': 'localhost'}, **headers))
    assert r.status == 200, r
    return r.text


def test_the_page_shows_name_version_commit_environment_pod_and_start(monkeypatch):
    monkeypatch.setenv('BUILD_COMMIT', COMMIT)
    monkeypatch.setenv('BUILD_TIME', '2026-12-01T12:00:00Z')
    build()  # conf/dev.conf: no environment set
    cherrypy.config.update({'log.screen': False})
    r = call(None, '/')
    assert r.status == 200 and r.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert r.headers['Cache-Control'] == 'no-store'
    assert "script-src 'self'" in r.headers['Content-Security-Policy']
    page = r.text
    assert '<title>Cherry service · development</title>' in page
    assert '<h1>Cherry service</h1>' in page and '<code>cherry-service</code>' in page
    assert '<dd data-fact="version">0.1.0</dd>' in page
    assert '<code data-fact="commit" title="%s">%s</code>' % (COMMIT, COMMIT[:12]) in page
    assert '<dd>2026-12-01T12:00:00Z</dd>' in page
    assert '<dd data-fact="environment">development</dd>' in page
    assert '<code data-fact="pod">%s</code>' % socket.gethostname() in page
    started = landing.status()['started']
    assert '<time datetime="%s">' % started in page
    # The live panel's first values are rendered too (the page works without JS).
    assert 'data-state="ready"' in page and 'data-field="state" role="status">Ready<' in page
    assert re.search(r'data-field="uptime">\d+[dhms]( \d+[hms])?<', page)  # e.g. 3m 20s
    assert re.search(r'data-field="requests_served">[\d,]+<', page)
    # Development links /metrics, and every asset is the service's own.
    assert '<a href="/metrics">' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ('/static/style.css', '/static/status.js', '/static/logo.svg'):
        assert asset in page and call(None, asset).status == 200


@pytest.mark.parametrize('conf, environment', [('test.conf', 'test_suite'),
                                               ('prod.conf', 'production')])
def test_the_environment_comes_from_the_config(conf, environment):
    _build(conf)
    assert '<dd data-fact="environment">%s</dd>' % environment in _page()


def test_a_production_page_has_no_metrics_link():
    _build('prod.conf')
    page = _page()
    assert 'production' in page and '/metrics' not in page
    assert '<a href="/healthcheck">' in page


def test_no_metrics_link_when_metrics_have_a_port_of_their_own():
    _build('test.conf')
    assert '<a href="/metrics">' in _page()
    cherrypy.config.update({'metrics.port': 9090})
    assert '/metrics' not in _page()


def test_every_fact_is_html_escaped(monkeypatch):
    monkeypatch.setenv('BUILD_COMMIT', '<script>alert("c")</script>')
    monkeypatch.setenv('BUILD_TIME', '"><img src=x onerror=alert(1)>')
    monkeypatch.setattr(landing.socket, 'gethostname', lambda: 'pod&<b>')
    _build()
    page = _page()
    assert '<script>alert' not in page and '<img src=x' not in page and '<b>' not in page
    assert 'title="&lt;script&gt;alert(&quot;c&quot;)&lt;/script&gt;"' in page
    assert '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' in page
    assert '<code data-fact="pod">pod&amp;&lt;b&gt;</code>' in page
    assert call(None, '/status').json()['pod'] == 'pod&<b>'   # JSON, not HTML: as it is


def test_status_is_json_never_cached_with_readiness_uptime_and_requests():
    _build()
    r = call(None, '/status')
    assert r.status == 200 and r.headers['Content-Type'] == 'application/json'
    assert r.headers['Cache-Control'] == 'no-store'
    doc = r.json()
    assert set(doc) == {'status', 'ready', 'uptime_seconds', 'started', 'requests_served',
                        'workers', 'workers_busy', 'connections_open', 'pod', 'version'}
    assert (doc['status'], doc['ready']) == ('ready', True)
    assert doc['pod'] == socket.gethostname() and doc['version'] == '0.1.0'
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', doc['started'])
    assert isinstance(doc['uptime_seconds'], float) and doc['uptime_seconds'] >= 0
    for key in ('requests_served', 'workers', 'workers_busy', 'connections_open'):
        assert isinstance(doc[key], int) and doc[key] >= 0, key
    for _ in range(3):
        call(None, '/healthcheck')
    # The three, and the previous /status itself (counted once it had ended).
    assert call(None, '/status').json()['requests_served'] == doc['requests_served'] + 4


def test_status_and_the_page_say_draining_as_readyz_does():
    _build()
    cherrypy.engine.draining = True
    try:
        assert call(None, '/readyz').status == 503
        doc = call(None, '/status').json()
        assert call(None, '/status').status == 200            # a report, not a probe
        assert (doc['status'], doc['ready']) == ('draining', False)
        page = _page()
        assert 'data-state="draining"' in page and 'role="status">Draining<' in page
    finally:
        cherrypy.engine.draining = False


def test_a_saturated_pool_shows_as_saturated(monkeypatch):
    _build()
    monkeypatch.setattr(cherrypy.server, 'saturated', lambda: True)
    assert call(None, '/readyz').body == b'saturated'
    assert call(None, '/status').json()['status'] == 'saturated'


@pytest.mark.parametrize('seconds, text', [
    (0, '0s'), (59.9, '59s'), (61, '1m 1s'), (3600, '1h 0m'), (3 * 3600 + 12 * 60 + 5, '3h 12m'),
    (2 * 86400 + 4 * 3600 + 59, '2d 4h'), (-3, '0s'),
])
def test_durations_show_their_two_largest_units(seconds, text):
    assert landing.duration(seconds) == text


def _count(body: str, handler: str, code: str) -> float:
    prefix = 'http_requests_total{code="%s",handler="%s",method="GET"} ' % (code, handler)
    lines = [ln for ln in body.splitlines() if ln.startswith(prefix)]
    return float(lines[0][len(prefix):]) if lines else 0.0


def test_static_files_count_under_their_config_section_not_missing():
    _build()
    before = call(None, '/metrics').text
    for path in ('/static/style.css', '/static/logo.svg', '/static/status.js?v=1',
                 '/static/missing.css', '/favicon.ico', '/no/such/page'):
        call(None, path)
    body = call(None, '/metrics').text
    assert _count(body, 'staticdir:/static', '200') - _count(before, 'staticdir:/static',
                                                             '200') == 3
    assert _count(body, 'staticdir:/static', '404') - _count(before, 'staticdir:/static',
                                                             '404') == 1
    assert _count(body, 'staticfile:favicon.ico', '200') - _count(
        before, 'staticfile:favicon.ico', '200') == 1
    assert _count(body, '_Missing', '404') - _count(before, '_Missing', '404') == 1
    assert '/static/style.css' not in body and 'logo.svg' not in body   # no URL is a label


def test_the_favicon_is_an_icon_of_png_images():
    _build()
    r = call(None, '/favicon.ico')
    assert r.status == 200 and r.headers['Content-Type'] == 'image/vnd.microsoft.icon'
    assert r.body[:4] == b'\0\0\1\0' and int.from_bytes(r.body[4:6], 'little') >= 1
    assert b'\x89PNG' in r.body
    svg = call(None, '/static/logo.svg')
    assert svg.headers['Content-Type'] == 'image/svg+xml' and b'<title' in svg.body


def test_the_page_keeps_the_names_scripts_rename_rewrites():
    with open(landing.TEMPLATE, encoding='utf-8') as f:
        template = f.read()
    assert 'Cherry service' in template and 'cherry-service' in template


# -- colour contrast (WCAG 2.1 AA) ---------------------------------------------

def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _palettes() -> dict[str, dict[str, str]]:
    with open(os.path.join(STATIC_DIR, 'style.css'), encoding='utf-8') as f:
        css = f.read()
    light, dark = re.findall(r':root \{(.*?)\}', css, re.S)[:2]
    return {name: dict(re.findall(r'--([\w-]+): (#[0-9a-f]{6});', block))
            for name, block in (('light', light), ('dark', dark))}


# (text, background): every text colour on each background it sits on.
TEXT_PAIRS = [('text', 'bg'), ('text', 'surface'), ('text', 'code-bg'), ('muted', 'bg'),
              ('muted', 'surface'), ('accent', 'surface'), ('accent', 'bg'),
              ('band-text', 'band'), ('band', 'band-text'), ('ok', 'ok-bg'),
              ('warn', 'warn-bg'), ('bad', 'bad-bg')]


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_the_palette_meets_wcag_aa(scheme):
    palette = _palettes()[scheme]
    low = {(fg, bg): round(contrast(palette[fg], palette[bg]), 2) for fg, bg in TEXT_PAIRS
           if contrast(palette[fg], palette[bg]) < 4.5}
    assert low == {}, 'under 4.5:1 in the %s scheme: %r' % (scheme, low)
    # The focus ring is not text: 3:1 against what it is drawn on.
    assert contrast(palette['focus'], palette['bg']) >= 3
    assert contrast(palette['focus'], palette['surface']) >= 3


def test_the_environment_badges_meet_wcag_aa():
    with open(os.path.join(STATIC_DIR, 'style.css'), encoding='utf-8') as f:
        css = f.read()
    badges = re.findall(r'\.env-([\w, .-]+) \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); \}',
                        css)
    assert len(badges) == 4
    assert {name: contrast(bg, fg) for name, bg, fg in badges if contrast(bg, fg) < 4.5} == {}
