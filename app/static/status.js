// The landing page's live status panel: refreshed from /status every few
// seconds (paused while the tab is hidden), uptime ticking in between.
// The server renders the panel's first values; without this script they stay.
(function () {
  'use strict';
  var INTERVAL_MS = 5000;
  var panel = document.getElementById('status');
  if (!panel || !window.fetch) {
    return;
  }
  var fields = {};
  panel.querySelectorAll('[data-field]').forEach(function (el) {
    fields[el.getAttribute('data-field')] = el;
  });
  var uptimeBase = Number(panel.getAttribute('data-uptime')) || 0;
  var uptimeAt = performance.now();
  var timer = null;
  var number = new Intl.NumberFormat('en');

  function set(name, text) {
    var el = fields[name];
    if (el && el.textContent !== text) {  // unchanged text is not re-announced
      el.textContent = text;
    }
  }

  // As app/landing.py's duration(): the two largest units.
  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s % 86400 / 3600), 'h'],
                 [Math.floor(s % 3600 / 60), 'm'], [s % 60, 's']];
    while (parts.length > 1 && parts[0][0] === 0) {
      parts.shift();
    }
    return parts.slice(0, 2).map(function (p) { return p[0] + p[1]; }).join(' ');
  }

  function tick() {
    set('uptime', duration(uptimeBase + (performance.now() - uptimeAt) / 1000));
  }

  function clock() {
    return new Date().toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit'});
  }

  function render(data) {
    var state = String(data.status || 'unknown');
    panel.setAttribute('data-state', state);
    panel.setAttribute('data-source', 'live');
    set('state', state.charAt(0).toUpperCase() + state.slice(1));
    uptimeBase = Number(data.uptime_seconds) || 0;
    uptimeAt = performance.now();
    tick();
    set('requests_served', number.format(data.requests_served));
    set('workers', data.workers ? data.workers_busy + ' of ' + data.workers : 'n/a');
    set('connections_open', number.format(data.connections_open));
    set('pod', String(data.pod));
    set('updated', 'Updated ' + clock());
  }

  function failed() {
    panel.setAttribute('data-state', 'unreachable');
    set('state', 'Unreachable');
    set('updated', 'No answer at ' + clock());
  }

  function schedule() {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(refresh, INTERVAL_MS);
  }

  function refresh() {
    fetch(panel.getAttribute('data-src'), {cache: 'no-store', headers: {Accept: 'application/json'}})
      .then(function (r) {
        if (!r.ok) {
          throw new Error('HTTP ' + r.status);
        }
        return r.json();
      })
      .then(render)
      .catch(failed)
      .then(schedule);
  }

  document.addEventListener('visibilitychange', function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else {
      refresh();
    }
  });
  setInterval(tick, 1000);
  refresh();
}());
