"""HTTP helpers: HeaderMap, header elements, status lines, HTTP dates, q-values."""
from __future__ import annotations

import time

import pytest

from app.core.lib import httputil
from app.core.lib.httputil import (HeaderElement, HeaderMap, HTTPDate, header_elements,
                                   parse_http_date, qvalue_pick, valid_status)

#: RFC 9110's example date, ``Sun, 06 Nov 1994 08:49:37 GMT``.
EXAMPLE_TS = 784111777


# -- HeaderMap -------------------------------------------------------------------

def test_headermap_keys_are_case_insensitive_and_title_cased():
    h = HeaderMap()
    h['content-TYPE'] = 'text/plain'
    assert h['Content-Type'] == 'text/plain' and h['CONTENT-TYPE'] == 'text/plain'
    assert list(h) == ['Content-Type']
    assert 'content-type' in h and 'x-missing' not in h
    del h['CONTENT-type']
    assert 'Content-Type' not in h
    with pytest.raises(KeyError):
        h['content-type']


def test_headermap_constructor_and_update_fold_case_like_cherrypy():
    h = HeaderMap({'content-type': 'text/html', 'x-a': '1'}, x_b='2')
    assert h['Content-Type'] == 'text/html' and h.get('X-A') == '1'
    assert sorted(h) == ['Content-Type', 'X-A', 'X_B']
    h2 = HeaderMap([('etag', '"v1"')])
    assert h2['ETag'] == '"v1"' and list(h2) == ['Etag']
    h.update({'CONTENT-TYPE': 'application/json'})
    h.update([('x-list', 'l')], **{'x-kw': 'k'})
    h.update(h2)
    assert h['content-type'] == 'application/json'
    assert h['X-List'] == 'l' and h['X-Kw'] == 'k' and h['Etag'] == '"v1"'
    assert len([k for k in h if k.lower() == 'content-type']) == 1


def test_headermap_get_setdefault_pop():
    h = HeaderMap()
    assert h.get('x-none') is None and h.get('x-none', 'dflt') == 'dflt'
    assert h.setdefault('x-token', 'a') == 'a'
    assert h.setdefault('X-TOKEN', 'b') == 'a'
    assert list(h) == ['X-Token']
    assert h.pop('x-token') == 'a'
    assert h.pop('x-token', 'gone') == 'gone'
    with pytest.raises(KeyError):
        h.pop('x-token')
    h[42] = 'numeric key'
    assert h['42'] == 'numeric key' and 42 in h


def test_headermap_copy_is_a_separate_headermap():
    h = HeaderMap({'X-A': '1'})
    c = h.copy()
    assert isinstance(c, HeaderMap) and c == {'X-A': '1'}
    c['x-a'] = '2'
    c['x-b'] = '3'
    assert h == {'X-A': '1'}
    assert c['X-A'] == '2' and c.get('x-b') == '3'


def test_headermap_elements_values_and_output():
    h = HeaderMap()
    h['Accept'] = 'text/html;q=0.5, application/json, text/plain;q=0.9'
    h['Vary'] = 'Accept-Encoding, Cookie'
    h['Content-Length'] = 12
    assert [str(e) for e in h.elements('accept')] == [
        'application/json', 'text/plain;q=0.9', 'text/html;q=0.5']
    assert h.values('ACCEPT') == ['application/json', 'text/plain', 'text/html']
    assert h.values('vary') == ['Accept-Encoding', 'Cookie']
    assert h.values('x-absent') == [] and h.elements('x-absent') == []
    # Without a key, values() is still the dict's.
    assert 12 in list(h.values())
    out = h.output()
    assert ('Content-Length', '12') in out and all(isinstance(v, str) for _k, v in out)


# -- header elements -------------------------------------------------------------

def test_header_elements_parse_params_and_sort_accept_by_q():
    els = header_elements('Accept', 'text/*;q=0.3, text/html;level=1;q=0.7, '
                                    'text/html;level=2;q=0.4, */*;q=0.5, text/html')
    assert [e.value for e in els] == ['text/html', 'text/html', '*/*', 'text/html', 'text/*']
    assert els[1].params == {'level': '1', 'q': '0.7'} and els[1].qvalue == 0.7
    assert els[0].qvalue == 1.0
    # Equal q-values keep the client's order.
    assert [e.value for e in header_elements('Accept-Encoding', 'br, gzip, deflate')] \
        == ['br', 'gzip', 'deflate']


def test_header_elements_other_headers_keep_order_and_unquote_params():
    els = header_elements('Content-Disposition',
                          'attachment; filename="a b.txt"; Size=3, , inline')
    assert [e.value for e in els] == ['attachment', 'inline']
    assert els[0].params == {'filename': 'a b.txt', 'size': '3'}
    assert header_elements('Cache-Control', 'no-cache;q=0, max-age=0')[0].value == 'no-cache'
    assert header_elements('Accept', '') == [] and header_elements('Accept', None) == []


def test_header_element_str_repr_and_bad_qvalue():
    e = HeaderElement('text/html', {'level': '1', 'q': '0.5'})
    assert str(e) == 'text/html;level=1;q=0.5'
    assert repr(e) == "HeaderElement('text/html', {'level': '1', 'q': '0.5'})"
    assert HeaderElement('gzip').params == {} and str(HeaderElement('gzip')) == 'gzip'
    # A malformed q never makes a value preferred (CherryPy would answer 400).
    bad = header_elements('Accept', 'text/html;q=high, text/plain;q=0.1')
    assert [e.value for e in bad] == ['text/plain', 'text/html'] and bad[1].qvalue == 0.0


# -- status lines ----------------------------------------------------------------

def test_valid_status_accepts_ints_strings_and_custom_reasons():
    assert valid_status(None) == (200, 'OK', httputil.response_codes[200][1])
    assert valid_status('')[0:2] == (200, 'OK')
    assert valid_status(404)[:2] == (404, 'Not Found')
    assert valid_status('404')[:2] == (404, 'Not Found')
    assert valid_status(' 404 Gone Fishing ')[:2] == (404, 'Gone Fishing')
    assert valid_status(500)[2].startswith('The server encountered an unexpected condition')
    # A code the table does not know is legal, with an empty reason.
    assert valid_status(599) == (599, '', '')


@pytest.mark.parametrize('status, match', [
    ('abc', r"\('abc' is non-numeric\)"),
    ('OK 200', r"\('OK' is non-numeric\)"),
    (99, r'\(99 is out of range\)'),
    ('600 Too Far', r'\(600 is out of range\)'),
    (-1, r'\(-1 is out of range\)'),
])
def test_valid_status_errors_are_cherrypys(status, match):
    with pytest.raises(ValueError, match=r'^Illegal response status from server ' + match):
        valid_status(status)


# -- dates -----------------------------------------------------------------------

def test_httpdate_formats_rfc_7231_dates():
    assert HTTPDate(EXAMPLE_TS) == 'Sun, 06 Nov 1994 08:49:37 GMT'
    assert HTTPDate(0) == 'Thu, 01 Jan 1970 00:00:00 GMT'
    now = parse_http_date(HTTPDate())
    assert now is not None and abs(now - time.time()) < 5


@pytest.fixture
def local_zone_not_utc(monkeypatch):
    """Run with the local time zone five hours off GMT (a POSIX TZ, no tzdata needed)."""
    monkeypatch.setenv('TZ', 'EST+05')
    time.tzset()
    assert time.timezone == 5 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


def test_parse_http_date_reads_the_three_http_formats_as_gmt(local_zone_not_utc):
    # RFC 9110 5.6.7: IMF-fixdate, obsolete RFC 850 and asctime; all are GMT,
    # whatever the server's local zone (asctime carries no zone at all).
    assert parse_http_date('Sun, 06 Nov 1994 08:49:37 GMT') == EXAMPLE_TS
    assert parse_http_date('Sunday, 06-Nov-94 08:49:37 GMT') == EXAMPLE_TS
    assert parse_http_date('Sun Nov  6 08:49:37 1994') == EXAMPLE_TS
    assert parse_http_date('Sun, 06 Nov 1994 08:49:37 -0000') == EXAMPLE_TS


@pytest.mark.parametrize('value', [None, '', 'yesterday', 'Sun, 06 Nov',
                                   'Sun, 32 Nov 1994 08:49:37 GMT',
                                   'Sun, 06 Nov 1994 25:49:37 GMT'])
def test_parse_http_date_bad_input_is_none(value):
    assert parse_http_date(value) is None


# -- q-value negotiation ---------------------------------------------------------

def test_qvalue_pick_orders_acceptable_offers_best_first():
    offers = ['gzip', 'identity', 'br']
    assert qvalue_pick('identity;q=0.5, gzip', offers) == ['gzip', 'identity']
    assert qvalue_pick('GZIP;q=0.1, Identity;q=0.9', offers) == ['identity', 'gzip']
    assert qvalue_pick('br;q=0, *;q=0.5', offers) == ['gzip', 'identity']
    assert qvalue_pick('*', offers) == offers
    assert qvalue_pick('br, br;q=0.5', offers) == ['br']
    assert qvalue_pick('gzip;q=0, deflate', offers) == []
    assert qvalue_pick(None, offers) == [] and qvalue_pick('', offers) == []
