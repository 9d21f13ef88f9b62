"""The landing page in headless Chromium: its DOM, its live panel, no console error, screenshots.

The app runs as ``python -m app`` on a free port; Chromium is driven over
the DevTools protocol on a pipe (tests/cdp.py, no extra dependency). The
screenshots land in build/screenshots/ (desktop, phone, and both in the
dark colour scheme) for a person to look at.

Skipped where the ``chromium`` binary is missing, unless ``CI`` is set:
.ci/run installs it, so there a missing browser is a failure.
"""
from __future__ import annotations

import base64
import os
import re
import signal
from typing import Any

import pytest

from cdp import Chromium, find_chromium
from helpers import ROOT, start_app_process

SHOTS = os.path.join(ROOT, 'build', 'screenshots')
COMMIT = '0123456789abcdef0123456789abcdef01234567'
DESKTOP = {'width': 1280, 'height': 800, 'deviceScaleFactor': 1, 'mobile': False}
PHONE = {'width': 390, 'height': 844, 'deviceScaleFactor': 3, 'mobile': True}

# What the test reads from the page, in one evaluation.
READ_DOM = '''(() => {
  const q = (s) => document.querySelector(s);
  const text = (s) => (q(s) || {}).textContent || '';
  const panel = q('#status');
  return {
    title: document.title, h1: text('h1'), version: text('[data-fact=version]'),
    commit: text('[data-fact=commit]'), environment: text('[data-fact=environment]'),
    pod: text('[data-fact=pod]'), state: panel.dataset.state, source: panel.dataset.source,
    figures: Object.fromEntries([...panel.querySelectorAll('[data-field]')].map(
      (el) => [el.dataset.field, el.textContent])),
    landmarks: ['header', 'main', 'footer'].filter((s) => q(s)),
    images_without_alt: [...document.images].filter((i) => !i.hasAttribute('alt')).length,
    metrics_links: [...document.links].filter((a) => a.pathname === '/metrics').length,
  };
})()'''


def _require_chromium() -> str:
    binary = find_chromium()
    if binary:
        return binary
    if os.environ.get('CI'):
        pytest.fail('chromium is not installed; under CI the browser test must run '
                    '(.ci/run installs Debian\'s chromium)')
    pytest.skip('chromium not installed (apt-get install chromium); CI runs this test')


def _errors(events: list[dict[str, Any]]) -> list[Any]:
    """Console errors, uncaught exceptions and error log entries among the CDP events."""
    out: list[Any] = []
    for e in events:
        method, params = e['method'], e.get('params', {})
        if method == 'Runtime.exceptionThrown':
            out.append(params['exceptionDetails'])
        elif method == 'Runtime.consoleAPICalled' and params.get('type') == 'error':
            out.append(params.get('args'))
        elif method == 'Log.entryAdded' and params['entry'].get('level') == 'error':
            out.append(params['entry'])
    return out


def _screenshot(browser: Chromium, session: str, name: str) -> str:
    """Save the whole page (not only the viewport) as build/screenshots/<name>.png."""
    size = browser.send('Page.getLayoutMetrics', {}, session)['cssContentSize']
    shot = browser.send('Page.captureScreenshot', {
        'format': 'png', 'captureBeyondViewport': True,
        'clip': {'x': 0, 'y': 0, 'width': size['width'], 'height': size['height'], 'scale': 1},
    }, session)
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + '.png')
    data = base64.b64decode(shot['data'])
    assert data.startswith(b'\x89PNG')
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _set_viewport(browser: Chromium, session: str, metrics: dict[str, Any]) -> None:
    browser.send('Emulation.setDeviceMetricsOverride', metrics, session)
    browser.wait_for(session, 'innerWidth === %d' % metrics['width'], 10,
                     'the viewport did not become %d px wide' % metrics['width'])


def test_landing_page_in_headless_chromium():
    binary = _require_chromium()
    env = {'HOST': '127.0.0.1', 'BUILD_COMMIT': COMMIT, 'APP_LOG__SCREEN': 'False',
           'APP_ENGINE__DRAIN_SECONDS': '0'}
    proc, port = start_app_process(['-m', 'app', '--config', 'conf/dev.conf'], env=env)
    browser = None
    try:
        browser = Chromium(binary, timeout=30)
        page = browser.new_page()
        for domain in ('Page', 'Runtime', 'Log'):
            browser.send(domain + '.enable', {}, page)
        _set_viewport(browser, page, DESKTOP)
        browser.send('Page.navigate', {'url': 'http://127.0.0.1:%d/' % port}, page)
        # status.js marks the panel live once /status has answered.
        browser.wait_for(page, "document.readyState === 'complete' && "
                         "document.querySelector('#status').dataset.source === 'live'",
                         20, 'status.js did not fill the status panel from /status')

        dom = browser.evaluate(page, READ_DOM)
        assert dom['h1'] == 'Cherry service' and dom['title'].startswith('Cherry service')
        assert dom['version'] == '0.1.0'
        assert dom['commit'] == COMMIT[:12]
        assert dom['environment'] == 'development'
        assert dom['pod'] and dom['pod'] == dom['figures']['pod']
        assert dom['state'] == 'ready' and dom['figures']['state'] == 'Ready'
        figures = dom['figures']
        assert int(figures['requests_served'].replace(',', '')) >= 1   # the page itself
        assert re.fullmatch(r'\d+ of \d+', figures['workers']), figures
        assert re.fullmatch(r'\d+', figures['connections_open']), figures
        assert re.fullmatch(r'\d+s|\d+m \d+s', figures['uptime']), figures
        assert figures['updated'].startswith('Updated '), figures
        assert dom['landmarks'] == ['header', 'main', 'footer']
        assert dom['images_without_alt'] == 0
        assert dom['metrics_links'] == 1            # development links it; production not
        paths = [_screenshot(browser, page, 'landing-desktop')]

        _set_viewport(browser, page, PHONE)
        width = browser.evaluate(page, '[document.documentElement.scrollWidth, innerWidth]')
        assert width[0] <= width[1], 'the page overflows a phone horizontally: %r' % width
        paths.append(_screenshot(browser, page, 'landing-phone'))

        browser.send('Emulation.setEmulatedMedia', {
            'features': [{'name': 'prefers-color-scheme', 'value': 'dark'}]}, page)
        browser.wait_for(page, "matchMedia('(prefers-color-scheme: dark)').matches", 10,
                         'the dark colour scheme did not apply')
        paths.append(_screenshot(browser, page, 'landing-phone-dark'))
        _set_viewport(browser, page, DESKTOP)
        paths.append(_screenshot(browser, page, 'landing-desktop-dark'))

        browser.evaluate(page, '1')  # read any event still in the pipe
        assert _errors(browser.events) == []
        assert all(os.path.getsize(p) > 10_000 for p in paths), paths
    finally:
        if browser is not None:
            browser.close()
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            proc.stdout.close()
