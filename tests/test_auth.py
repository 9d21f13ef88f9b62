"""tools.auth_basic and tools.auth_digest as CherryPy programs configure them.

A protected area under a public root: Basic with a realm and a checkpassword
callable, Digest with a realm, ``get_ha1_dict_plain`` and a key.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time

import pytest

import app.core as cherrypy
from app.core.lib import auth_basic, auth_digest

from helpers import call, http, live

USERS = {'jon': 'secret', 'jäsøn': 'pässwörd'}
REALM = 'localhost'
KEY = 'a565c27146791cfb'


def validate_password(realm, username, password):
    if username in USERS and USERS[username] == password:
        return True
    return False


class Root:
    @cherrypy.expose
    def index(self):
        return 'public'


class Area:
    @cherrypy.expose
    def index(self, **kw):
        return 'hello %s' % cherrypy.request.login


def mount(conf):
    root = Root()
    root.protected = Area()
    root.protected.area = Area()
    cherrypy.tree.mount(root, '', conf)


# -- basic -------------------------------------------------------------------

def basic(user, password, charset='utf-8'):
    raw = ('%s:%s' % (user, password)).encode(charset)
    return {'Authorization': 'Basic ' + base64.b64encode(raw).decode('ascii')}


@pytest.fixture
def basic_app():
    mount({'/protected/area': {
        'tools.auth_basic.on': True,
        'tools.auth_basic.realm': REALM,
        'tools.auth_basic.checkpassword': validate_password,
    }})


def test_basic_challenges_without_credentials(basic_app):
    r = call(None, '/protected/area/')
    assert r.status == 401
    assert r.headers['WWW-Authenticate'] == 'Basic realm="localhost", charset="UTF-8"'
    assert call(None, '/').body == b'public'
    assert call(None, '/protected/').body == b'hello None'


def test_basic_accepts_good_credentials_and_sets_login(basic_app):
    r = call(None, '/protected/area/', headers=basic('jon', 'secret'))
    assert (r.status, r.body) == (200, b'hello jon')
    r = call(None, '/protected/area/', headers=basic('jäsøn', 'pässwörd'))
    assert (r.status, r.text) == (200, 'hello jäsøn')


@pytest.mark.parametrize('headers', [basic('jon', 'wrong'), basic('nobody', 'secret'),
                                     basic('jon', ''), {'Authorization': 'Bearer abc'},
                                     {'Authorization': 'Digest username="jon"'}])
def test_basic_refuses_wrong_credentials_with_401(basic_app, headers):
    r = call(None, '/protected/area/', headers=headers)
    assert r.status == 401 and r.headers['WWW-Authenticate'].startswith('Basic realm=')


@pytest.mark.parametrize('value', ['Basic !!!!', 'Basic', 'Basic amRvZQ', 'Basic ' +
                                   base64.b64encode(b'no colon').decode(),
                                   'Basic ' + 'é' * 8])
def test_basic_malformed_headers_are_400_never_500(basic_app, value):
    r = call(None, '/protected/area/', headers={'Authorization': value})
    assert r.status == 400


def test_basic_falls_back_to_latin1_credentials(basic_app):
    USERS['café'] = 'crème'
    try:
        r = call(None, '/protected/area/', headers=basic('café', 'crème', 'latin-1'))
        assert r.text == 'hello café'
        # Bytes that are not UTF-8 are read as latin-1: a wrong password, not an error.
        r = call(None, '/protected/area/', headers={
            'Authorization': 'Basic ' + base64.b64encode(b'jon:\xff\xfe').decode()})
        assert r.status == 401
    finally:
        del USERS['café']


def test_checkpassword_dict_compares_passwords():
    check = auth_basic.checkpassword_dict({'jon': 'secret', 'ünï': 'cödé'})
    assert check(REALM, 'jon', 'secret') and check(REALM, 'ünï', 'cödé')
    assert not check(REALM, 'jon', 'Secret') and not check(REALM, 'nobody', 'secret')
    assert not check(REALM, 'jon', 'sécret')


def test_basic_realm_with_a_quote_is_a_config_error():
    mount({'/protected': {'tools.auth_basic.on': True, 'tools.auth_basic.realm': 'a"b',
                          'tools.auth_basic.checkpassword': validate_password}})
    assert call(None, '/protected/').status == 500


def test_basic_runs_before_the_cache():
    mount({'/protected/area': {
        'tools.auth_basic.on': True, 'tools.auth_basic.realm': REALM,
        'tools.auth_basic.checkpassword': auth_basic.checkpassword_dict(USERS),
        'tools.caching.on': True,
        'tools.response_headers.on': True,
        'tools.response_headers.headers': [('Cache-Control', 'public')]}})
    assert call(None, '/protected/area/', headers=basic('jon', 'secret')).status == 200
    assert call(None, '/protected/area/').status == 401
    hit = call(None, '/protected/area/', headers=basic('jon', 'secret'))
    assert hit.status == 200 and 'Age' in hit.headers


def test_basic_debug_logs_outcomes(caplog):
    mount({'/protected/area': {
        'tools.auth_basic.on': True, 'tools.auth_basic.realm': REALM,
        'tools.auth_basic.debug': True,
        'tools.auth_basic.checkpassword': validate_password}})
    call(None, '/protected/area/', headers=basic('jon', 'secret'))
    assert "authenticated 'jon'" in caplog.text
    call(None, '/protected/area/', headers={'Authorization': 'Basic %%%'})
    assert 'malformed Basic credentials' in caplog.text


def test_basic_live_through_the_server(basic_app):
    with live(cherrypy.tree) as server:
        status, headers, _ = http(server, '/protected/area/')
        assert status == 401 and headers['www-authenticate'].startswith('Basic')
        status, _, body = http(server, '/protected/area/', headers=basic('jon', 'secret'))
        assert (status, body) == (200, b'hello jon')
        assert http(server, '/protected/area/', headers={'Authorization': 'Basic %%%'})[0] == 400


# -- digest ------------------------------------------------------------------

def H(text, algorithm='MD5'):
    h = hashlib.md5 if algorithm == 'MD5' else hashlib.sha256
    return h(text.encode('utf-8')).hexdigest()


def digest_response(user, password, realm, nonce, method, uri, nc, cnonce, algorithm='MD5'):
    """RFC 7616 section 3.4.1, qop=auth, computed independently of the server."""
    ha1 = H('%s:%s:%s' % (user, realm, password), algorithm)
    ha2 = H('%s:%s' % (method, uri), algorithm)
    return H('%s:%s:%s:%s:%s:%s' % (ha1, nonce, nc, cnonce, 'auth', ha2), algorithm)


def test_the_test_client_matches_rfc7616_examples():
    args = ('Mufasa', 'Circle of Life', 'http-auth@example.org',
            '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', 'GET', '/dir/index.html',
            '00000001', 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ')
    assert digest_response(*args) == '8ca523f5e9506fed4657c9700eebdbec'
    assert digest_response(*args, algorithm='SHA-256') == \
        '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'


def challenges(result):
    value, = [v for k, v in result.header_list if k.lower() == 'www-authenticate']
    out = []
    for v in re.split(r',\s*(?=Digest )', value):
        assert v.startswith('Digest ')
        out.append(dict((k, a or b) for k, a, b in
                        re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', v)))
    return out


def authorization(user, password, ch, uri='/protected/area/', method='GET', nc='00000001',
                  cnonce='0a4f113b', algorithm=None, **override):
    algorithm = algorithm or ch.get('algorithm', 'MD5')
    params = dict(username=user, realm=ch['realm'], nonce=ch['nonce'], uri=uri,
                  algorithm=algorithm, qop='auth', nc=nc, cnonce=cnonce)
    params['response'] = digest_response(user, password, params['realm'], params['nonce'],
                                         method, uri, nc, cnonce, algorithm)
    params.update(override)
    quoted = ('username', 'realm', 'nonce', 'uri', 'cnonce', 'response')
    parts = ['%s="%s"' % (k, v) if k in quoted else '%s=%s' % (k, v)
             for k, v in params.items() if v is not None]
    return {'Authorization': 'Digest ' + ', '.join(parts)}


@pytest.fixture
def digest_app():
    mount({'/protected/area': {
        'tools.auth_digest.on': True,
        'tools.auth_digest.realm': REALM,
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'tools.auth_digest.key': KEY,
    }})


def first_challenge(path='/protected/area/'):
    r = call(None, path)
    assert r.status == 401
    return challenges(r)[0]


def test_digest_challenge_then_success(digest_app):
    ch = first_challenge()
    assert ch['realm'] == REALM and ch['qop'] == 'auth' and ch['algorithm'] == 'MD5'
    assert ch['charset'] == 'UTF-8' and 'stale' not in ch
    r = call(None, '/protected/area/', headers=authorization('jon', 'secret', ch))
    assert (r.status, r.body) == (200, b'hello jon')
    # The nonce is stateless: the next request (nc 2) with the same nonce passes too.
    r = call(None, '/protected/area/?x=1', headers=authorization(
        'jon', 'secret', ch, uri='/protected/area/?x=1', nc='00000002'))
    assert (r.status, r.body) == (200, b'hello jon')


def test_digest_non_ascii_user_names(digest_app):
    ch = first_challenge()
    header = authorization('jäsøn', 'pässwörd', ch)
    r = call(None, '/protected/area/', headers={
        'Authorization': header['Authorization'].encode('utf-8').decode('latin-1')})
    assert r.text == 'hello jäsøn'
    header = authorization('jäsøn', 'pässwörd', ch, username=None)
    header['Authorization'] += ", username*=UTF-8''j%C3%A4s%C3%B8n"
    assert call(None, '/protected/area/', headers=header).text == 'hello jäsøn'


@pytest.mark.parametrize('user,password,override', [
    ('jon', 'wrong', {}),
    ('nobody', 'secret', {}),
    ('jon', 'secret', {'realm': 'elsewhere'}),
    ('jon', 'secret', {'nonce': '%d:%s' % (time.time(), 'f' * 64)}),
    ('jon', 'secret', {'nonce': 'garbage'}),
    ('jon', 'secret', {'nc': '00000009'}),  # nc is in the hash: a changed nc fails
    ('jon', 'secret', {'cnonce': 'other'}),
])
def test_digest_wrong_credentials_are_401(digest_app, user, password, override):
    ch = first_challenge()
    if set(override) & {'nc', 'cnonce'}:  # change a field after the response was computed
        (k, v), = override.items()
        value = authorization(user, password, ch)['Authorization']
        value = re.sub(r'\b%s=("?)[^",]*' % k, lambda m: '%s=%s%s' % (k, m.group(1), v), value)
        headers = {'Authorization': value}
    else:
        headers = authorization(user, password, ch, **override)
    r = call(None, '/protected/area/', headers=headers)
    assert r.status == 401 and 'stale' not in challenges(r)[0]


def test_digest_stale_nonce_is_401_with_stale_true(digest_app):
    old = auth_digest.synthesize_nonce(REALM, KEY, time.time() - 601)
    ch = dict(first_challenge(), nonce=old)
    r = call(None, '/protected/area/', headers=authorization('jon', 'secret', ch))
    assert r.status == 401
    fresh = challenges(r)[0]
    assert fresh['stale'] == 'true' and fresh['nonce'] != old
    assert call(None, '/protected/area/', headers=authorization(
        'jon', 'secret', fresh)).status == 200
    # A stale nonce with a wrong password is not "stale": the user must be asked.
    r = call(None, '/protected/area/', headers=authorization('jon', 'bad', ch))
    assert r.status == 401 and 'stale' not in challenges(r)[0]


@pytest.mark.parametrize('value', [
    'Digest ', 'Digest garbage', 'Digest username="jon"', 'Digest ,,,=',
    'Digest username="jon", username="x", realm="localhost"',
])
def test_digest_malformed_headers_are_400(digest_app, value):
    assert call(None, '/protected/area/', headers={'Authorization': value}).status == 400


@pytest.mark.parametrize('override', [
    {'qop': 'auth-int'}, {'nc': '1'}, {'response': 'not-hex!'}, {'algorithm': 'SHA-256'},
    {'uri': '/protected/other/'}, {'cnonce': None}, {'username': None},
])
def test_digest_bad_parameters_are_400(digest_app, override):
    ch = first_challenge()
    r = call(None, '/protected/area/', headers=authorization('jon', 'secret', ch, **override))
    assert r.status == 400


def test_digest_unknown_charset_in_extended_username_is_400(digest_app):
    header = authorization('jon', 'secret', first_challenge(), username=None)
    header['Authorization'] += ", username*=NOPE''%6Aon"
    assert call(None, '/protected/area/', headers=header).status == 400


def test_digest_sha256_and_md5_offered_together():
    mount({'/protected/area': {
        'tools.auth_digest.on': True, 'tools.auth_digest.realm': REALM,
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'tools.auth_digest.key': KEY, 'tools.auth_digest.algorithm': ['SHA-256', 'MD5'],
        'tools.auth_digest.nonce_max_age': 60}})
    r = call(None, '/protected/area/')
    chs = challenges(r)
    assert [c['algorithm'] for c in chs] == ['SHA-256', 'MD5']
    for ch in chs:
        r = call(None, '/protected/area/', headers=authorization('jon', 'secret', ch))
        assert r.body == b'hello jon'


def test_digest_with_stored_ha1s_and_htdigest_file(tmp_path):
    ha1 = H('jon:%s:secret' % REALM)
    path = tmp_path / 'htdigest'
    path.write_text('broken line\nann:%s:%s\njon:%s:%s\n' % (REALM, H('x'), REALM, ha1))
    for get_ha1 in (auth_digest.get_ha1_dict({'jon': ha1}),
                    auth_digest.get_ha1_file_htdigest(str(path))):
        fresh_mount = {'/protected/area': {
            'tools.auth_digest.on': True, 'tools.auth_digest.realm': REALM,
            'tools.auth_digest.get_ha1': get_ha1, 'tools.auth_digest.key': KEY}}
        cherrypy.tree.apps.clear()
        mount(fresh_mount)
        ch = first_challenge()
        assert call(None, '/protected/area/', headers=authorization('jon', 'secret', ch)).body \
            == b'hello jon'
        assert call(None, '/protected/area/', headers=authorization(
            'ann', 'secret', ch)).status == 401
        assert call(None, '/protected/area/', headers=authorization(
            'zed', 'secret', ch)).status == 401


def test_digest_latin1_user_name_falls_back_like_basic(digest_app):
    ch = first_challenge()
    # In-process header text is the latin-1 reading of the bytes: these are not UTF-8.
    r = call(None, '/protected/area/', headers=authorization('jäsøn', 'pässwörd', ch))
    assert r.text == 'hello jäsøn'
    r = call(None, '/protected/area/', headers=authorization('jäsøn', 'wrong', ch))
    assert r.status == 401


def test_digest_debug_logs_why(caplog):
    mount({'/protected/area': {
        'tools.auth_digest.on': True, 'tools.auth_digest.realm': REALM,
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'tools.auth_digest.key': KEY, 'tools.auth_digest.debug': True}})
    ch = first_challenge()
    call(None, '/protected/area/', headers=authorization('jon', 'nope', ch))
    assert 'digest auth refused: wrong response' in caplog.text
    assert 'digest auth refused: no Digest credentials' in caplog.text


def test_challenge_without_utf8_has_no_charset():
    value = auth_digest.www_authenticate(REALM, KEY, accept_charset='iso-8859-1', nonce='n')
    assert value == 'Digest realm="localhost", nonce="n", algorithm=MD5, qop="auth"'
    assert auth_digest.www_authenticate(REALM, KEY, nonce='n', stale=True).endswith(
        'charset="UTF-8", stale=true')


def test_digest_config_errors_are_reported():
    with pytest.raises(ValueError, match='Realm cannot contain'):
        auth_digest.www_authenticate('r"', KEY)
    mount({'/protected': {
        'tools.auth_digest.on': True, 'tools.auth_digest.realm': REALM,
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'tools.auth_digest.key': KEY, 'tools.auth_digest.algorithm': 'SHA-1'}})
    assert call(None, '/protected/').status == 500


def test_digest_live_through_the_server(digest_app):
    with live(cherrypy.tree) as server:
        import http.client as httpclient
        host, port = server.bound_addr
        conn = httpclient.HTTPConnection(host, port, timeout=10)
        try:
            path = '/protected/area/?q=a%20b'
            conn.request('GET', path)
            r = conn.getresponse()
            r.read()
            assert r.status == 401
            value = r.getheader('WWW-Authenticate')
            ch = dict((k, a or b) for k, a, b in
                      re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', value))
            conn.request('GET', path, headers=authorization('jon', 'secret', ch, uri=path))
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, b'hello jon')
            conn.request('GET', path, headers=authorization('jon', 'secret', ch,
                                                            uri='/protected/area/'))
            r = conn.getresponse()
            r.read()
            assert r.status == 400
        finally:
            conn.close()
