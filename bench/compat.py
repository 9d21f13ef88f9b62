"""Run CherryPy programs unchanged on app.core and on CherryPy 18.10; compare the HTTP.

    python3 bench/compat.py                       # every program in compat_programs/
    python3 bench/compat.py --programs hello,tutorial --verbose

Each program in ``compat_programs/`` says ``import cherrypy``, as do
CherryPy's own tutorials (``tut01``-``tut10``), which run from the bench
venv's installed ``cherrypy/tutorial/``. It is served
twice on cheroot, each time in its own process under ``bench/.venv`` (see
``compat_serve.py``): once with ``cherrypy`` aliased to ``app.core``, once
on the real CherryPy. The steps in ``compat_cases.py`` are sent to both, and
per request the harness compares the status, the headers that matter (below)
and the body. It prints one row per request and exits 0 when every
difference is listed in ``KNOWN_DIFFERENCES`` with its reason.

Normalised before comparing: ``127.0.0.1:<port>`` (Location, bodies);
gzip bodies (decompressed); error pages (only ``<h2>`` and ``<p>``, since
versions and tracebacks differ); session ids; cookie ``expires`` dates
(past or future only); Digest nonces; the order of ``Allow``/``Vary``
tokens. Content-Length is compared only when the raw bodies are equal.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys

from compat_cases import CASES, Step
from compat_http import Answer, cookie_expired, run_step, start, stop, wait_ready
from servers import HERE, ensure_venv

# NOTE: tests/test_process.py runs compat_programs/tree_engine.py too (with
# cherrypy aliased to app.core): a rename there needs one in that test.
PROGRAMS = os.path.join(HERE, 'compat_programs')
FRAMEWORKS = ('core', 'cherrypy')
SESSION_COOKIES = {'session_id'}

#: Differences accepted, each with its reason: (program glob, request-label
#: pattern, fields, reason); ``*`` is the only wildcard. Fields are ``|``-separated
#: patterns of ``status``,
#: ``body`` or ``header <lower-case name>``. Entries for every program and
#: request (``'*', '*'``) leave a row ``ok``; others mark it ``known: <n>``.
KNOWN_DIFFERENCES: list[tuple[str, str, str, str]] = [
    ('conf_file', '*', 'header x-api|header x-class|header content-encoding'
     '|header vary|body|header content-length',
     "deliberate (issue 3's precedence list: global < app '/' < deeper paths < class "
     "_cp_config < handler _cp_config): code's _cp_config beats every path section; "
     "CherryPy merges node by node (_cp_config, then that node's [/path]), so there a "
     "[/path] section beats the _cp_config of its own and parent nodes"),
    ('*', '*', 'header server',
     "deliberate: app.core says 'Server: app.core/<version>' (cheroot's own name on the tree's "
     "404), CherryPy 'CherryPy/18.10.0'"),
    ('multi_apps', 'GET /*', 'body|header content-type|header transfer-encoding',
     'deliberate: a path no application serves is 404 text/plain "Not Found" with a '
     'Content-Length; CherryPy sends an empty chunked 404 without Content-Type'),
    ('*sessions*', '*', 'header set-cookie',
     'deliberate: the session cookie defaults to HttpOnly and SameSite=Lax '
     '(tools.sessions.httponly/samesite), CherryPy sends neither; expire() also sends '
     'Max-Age=0 besides the past Expires'),
    ('static_files', 'GET /static/js/app.js', 'header content-type',
     'deliberate: app.core pins .js to application/javascript; CherryPy takes '
     "the host's mimetypes (text/javascript here, as RFC 9239 prefers)"),
    ('static_files', '*[IMS later]', 'status|body|header *',
     'CherryPy wart: If-Modified-Since must equal Last-Modified as a string; app.core '
     'compares dates (RFC 9110 13.1.3) and answers 304 for a later date'),
    ('json_tools', '*[bad json]', 'body',
     "deliberate: the 400 message adds the JSON parser's error to 'Invalid JSON document'"),
    ('errors_prog', 'GET /*', 'body',
     'CherryPy wart: it pads small error pages (404, 409, 410...) with spaces to beat '
     "old IE's 'friendly' error pages; app.core sends the page as rendered"),
    ('errors_prog', 'GET /*', 'header content-type',
     'deliberate: an error_page callable that sets no Content-Type gets '
     'text/html;charset=utf-8, CherryPy leaves text/html'),
    ('errors_prog', 'HEAD /forbidden', 'header content-length',
     'error pages differ in version string and traceback, so in length'),
    ('tutorial', '*[bad form encoding]', 'body',
     "CherryPy wart: it drops the '%' of an invalid escape in a form body (%ZZ -> ZZ); "
     'app.core keeps it, as urllib.parse does'),
    ('tools_gzip', '*[no acceptable coding]', 'status|body|header vary',
     "CherryPy wart: gzip answers 406 when Accept-Encoding lists neither gzip nor identity "
     '(here "br"); identity is acceptable unless refused (RFC 9110 12.5.3), so app.core '
     'sends it uncompressed'),
    ('tut10_http_errors', 'GET /error?code=403', 'body|header content-length',
     "by nature: the tutorial's custom 403 page shows %(traceback)s, each framework's own "
     'stack (file names and lines)'),
    ('tool_classes', 'GET /vary*', 'header vary',
     "deliberate: app.core's encode tool always sends the configured charset (UTF-8) and "
     "never reads Accept-Charset, so autovary does not list it; CherryPy's encode tool "
     'negotiates the charset and so reads it on every request'),
]


# -- normalising and comparing ----------------------------------------------------
def _tokens(values: list[str], port: int) -> str:
    return ', '.join(sorted(x.strip() for v in values for x in v.split(',') if x.strip()))


def _cookies(values: list[str], port: int) -> str:
    out = []
    for value in values:
        parts = [p.strip() for p in value.split(';')]
        name, _, val = parts[0].partition('=')
        attrs = []
        for a in parts[1:]:
            k, _, v = a.partition('=')
            k = k.strip().lower()
            if k == 'expires':
                v = 'past' if cookie_expired('x=y; ' + a) else 'future'
            elif k not in ('path', 'max-age', 'domain', 'version', 'samesite'):
                v = ''
            attrs.append(k + ('=' + v if v else ''))
        out.append('%s=%s; %s' % (name, '<id>' if name in SESSION_COOKIES else val,
                                  '; '.join(sorted(attrs))))
    return ' | '.join(sorted(out))


def _auth(values: list[str], port: int) -> str:
    out = []
    for value in values:
        scheme, _, rest = value.partition(' ')
        params = re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', rest)
        shown = [k if k.lower() in ('nonce', 'opaque') else '%s=%s' % (k, v.strip('"'))
                 for k, v in sorted(params)]
        out.append('%s %s' % (scheme, ', '.join(shown)))
    return ' | '.join(sorted(out))


HEADER_VIEWS = {
    'content-type': None, 'content-encoding': None, 'content-disposition': None,
    'content-range': None, 'accept-ranges': None, 'last-modified': None,
    'transfer-encoding': None, 'server': None,
    'location': lambda vs, port: ', '.join(vs).replace('127.0.0.1:%d' % port, 'HOST'),
    'allow': _tokens, 'vary': lambda vs, port: _tokens(vs, port).lower(),
    'set-cookie': _cookies, 'www-authenticate': _auth,
    'age': lambda vs, port: 'present',
}
_H2 = re.compile(rb'<h2>(.*?)</h2>.*?<p>(.*?)</p>', re.S)


def body_view(body: bytes, port: int) -> str:
    body = body.replace(b'127.0.0.1:%d' % port, b'HOST')
    if b'<h2>' in body and b'powered_by' in body:
        m = _H2.search(body)
        if m:
            return 'error page <h2>%s</h2> <p>%s</p>' % (m.group(1).decode(), m.group(2).decode())
    return repr(body)


def view(ans: Answer, port: int) -> dict[str, str | None]:
    """The normalised fields compared for one answer."""
    if ans.error:
        return {'status': ans.error}
    v: dict[str, str | None] = {'status': str(ans.status), 'body': body_view(ans.body, port)}
    names = set(HEADER_VIEWS) | {k.lower() for k, _ in ans.headers if k.lower().startswith('x-')}
    for name in sorted(names):
        values = ans.get_all(name)
        fn = HEADER_VIEWS.get(name)
        v['header ' + name] = (fn(values, port) if fn else ', '.join(values)) if values else None
    return v


def compare(a: tuple[Answer, int], b: tuple[Answer, int]) -> list[tuple[str, str, str]]:
    """(field, core value, cherrypy value) for every field that differs."""
    va, vb = view(*a), view(*b)
    if a[0].raw == b[0].raw and not a[0].error and not b[0].error:
        va['header content-length'] = ', '.join(a[0].get_all('content-length')) or None
        vb['header content-length'] = ', '.join(b[0].get_all('content-length')) or None
    return [(k, str(va.get(k)), str(vb.get(k))) for k in sorted(set(va) | set(vb))
            if va.get(k) != vb.get(k)]


def short_diff(x: str, y: str, width: int = 70) -> tuple[str, str]:
    """Both values clipped around where they first differ."""
    i = next((n for n, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    lo = max(0, i - 20)

    def clip(s: str) -> str:
        return ('...' if lo else '') + s[lo:lo + width] + ('...' if len(s) > lo + width else '')
    return clip(x), clip(y)


def _match(text: str, pattern: str) -> bool:
    """``*`` matches anything; every other character, ``[`` included, itself."""
    return re.fullmatch(re.escape(pattern).replace(r'\*', '.*'), text, re.S) is not None


def known(program: str, label: str, fld: str) -> int | None:
    """The index of the KNOWN_DIFFERENCES entry covering this field, if any."""
    for n, (prog, lab, fields, _why) in enumerate(KNOWN_DIFFERENCES):
        if _match(program, prog) and _match(label, lab) \
                and any(_match(fld, f) for f in fields.split('|')):
            return n
    return None


def everywhere(n: int | None) -> bool:
    return n is not None and KNOWN_DIFFERENCES[n][:2] == ('*', '*')


# -- main ---------------------------------------------------------------------------
def program_path(program: str) -> str:
    """``compat_programs/<program>.py``, else CherryPy's own ``cherrypy/tutorial/``.

    The tutorials are run as installed in the bench venv, unchanged.
    """
    path = os.path.join(PROGRAMS, program + '.py')
    if os.path.exists(path):
        return path
    found = glob.glob(os.path.join(HERE, '.venv', 'lib', 'python*', 'site-packages',
                                   'cherrypy', 'tutorial', program + '.py'))
    return found[0] if found else path


def run_program(python: str, program: str, steps: list[Step], verbose: bool,
                counts: dict[str, int], used: set[int]) -> None:
    path = program_path(program)
    targets = [start(python, fw, path) for fw in FRAMEWORKS]
    try:
        problems = [(t.framework, wait_ready(t)) for t in targets]
        problems = [(fw, why) for fw, why in problems if why]
        if problems:
            for fw, why in problems:
                print('%-17s --  %s FAILED TO START: %s' % (program, fw, why))
            counts['mismatch'] += len(steps)
            return
        for n, step in enumerate(steps, 1):
            answers = [(run_step(t, step), t.port) for t in targets]
            diffs = compare(*answers)
            marks = [known(program, step.label, d[0]) for d in diffs]
            if all(everywhere(m) for m in marks):
                result = 'ok'
            elif all(m is not None for m in marks):
                result = 'known: ' + ', '.join(sorted({str(m) for m in marks
                                                       if not everywhere(m)}))
            else:
                result = 'MISMATCH'
            used.update(m for m in marks if m is not None)
            counts[result.split(':')[0]] += 1
            label = step.label if len(step.label) <= 48 else step.label[:45] + '...'
            print('%-17s %2d  %-48s %s' % (program, n, label, result))
            for (fld, x, y), m in zip(diffs, marks):
                if m is None or (verbose and not everywhere(m)):
                    cx, cy = short_diff(x, y)
                    print('%24s%s%s\n%28s core:     %s\n%28s cherrypy: %s'
                          % ('', fld, '' if m is None else ' (known %d)' % m, '', cx, '', cy))
    finally:
        for t in targets:
            stop(t)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--programs', help='comma-separated program names (default: all)')
    p.add_argument('--verbose', action='store_true', help='show known differences too')
    args = p.parse_args(argv)
    names = args.programs.split(',') if args.programs else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error('no such program: %s (have: %s)' % (', '.join(unknown), ', '.join(CASES)))
    python = ensure_venv()
    counts = {'ok': 0, 'known': 0, 'mismatch': 0, 'MISMATCH': 0}
    used: set[int] = set()
    print('%-17s %2s  %-48s %s' % ('program', '#', 'request', 'result'))
    for name in names:
        run_program(python, name, CASES[name], args.verbose, counts, used)
    bad = counts['MISMATCH'] + counts['mismatch']
    print('\n%d requests in %d programs: %d ok, %d known differences, %d mismatches'
          % (sum(counts.values()), len(names), counts['ok'], counts['known'], bad))
    for n, (prog, lab, fields, why) in enumerate(KNOWN_DIFFERENCES):
        if n in used:
            print('  known %d  %s %s (%s): %s' % (n, prog, lab, fields, why))
        elif not args.programs:
            print('  known %d  UNUSED, remove it? %s %s (%s)' % (n, prog, lab, fields))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
