// wgotp-portal: the page's only script (no framework, nothing fetched
// from elsewhere). It talks to /api/v1/ (doc/portal-api.md); the session
// is an HttpOnly cookie it never sees, and every POST carries the CSRF
// token the last reply gave.
'use strict';

(function () {
  var csrf = '';
  var state = null;        // the last status object
  var clockSkew = 0;       // server time - local time, seconds
  var mode = 'login';      // 'login' | 'extend'
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function show(id) {
    var screens = document.querySelectorAll('.screen');
    for (var i = 0; i < screens.length; i++) screens[i].hidden = screens[i].id !== id;
    var first = $(id).querySelector('input:not([type=hidden]), select, button');
    if (first && id !== 'screen-status') first.focus();
  }

  function message(text) {
    var m = $('message');
    m.textContent = text || '';
    m.hidden = !text;
  }

  function busy(form, on) {
    var b = form ? form.querySelectorAll('button') : [];
    for (var i = 0; i < b.length; i++) b[i].disabled = on;
  }

  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', cache: 'no-store', headers: {} };
    if (method === 'POST') {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-CSRF-Token'] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (j && j.csrf) csrf = j.csrf;
        return { status: r.status, body: j || {} };
      });
    });
  }

  function hm(seconds) {
    var m = Math.max(0, Math.floor(seconds / 60));
    var h = Math.floor(m / 60);
    m = m % 60;
    return h ? h + ' h ' + m + ' min' : m + ' min';
  }

  function clock(epoch) {
    var d = new Date(epoch * 1000);
    return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
  }

  function label(seconds) {
    if (seconds % 3600 === 0) return seconds / 3600 + (seconds === 3600 ? ' hour' : ' hours');
    if (seconds % 60 === 0) return seconds / 60 + ' minutes';
    return seconds + ' seconds';
  }

  function fillDurations(st) {
    var sel = $('duration');
    var keep = sel.value;
    sel.textContent = '';
    (st.durations || []).forEach(function (d) {
      var o = document.createElement('option');
      o.value = String(d);
      o.textContent = label(d);
      if (String(d) === keep || (!keep && d === st.default_duration)) o.selected = true;
      sel.appendChild(o);
    });
  }

  function codeScreen(ch, prompt) {
    var digits = ch && ch.digits ? ch.digits : 6;
    $('prompt').textContent = prompt || (ch && ch.method === 'totp' ?
      'Enter the code from your authenticator app.' : 'Enter the code we sent you by email.');
    $('code-label').textContent = digits + '-digit code';
    $('code').value = '';
    $('code').maxLength = digits;
    $('code-back').textContent = mode === 'extend' ? 'Cancel' : 'Use another email';
    show('screen-code');
  }

  function badge(d, now) {
    var b = document.createElement('span');
    b.className = 'badge';
    if (d.state === 'active') {
      b.className += ' active';
      b.textContent = 'Active, ' + hm(d.expires - now) + ' left, until ' + clock(d.expires);
    } else if (d.state === 'no_2fa') {
      b.className += ' no2fa';
      b.textContent = 'No 2FA';
    } else {
      b.textContent = d.state === 'unknown' ? 'Unknown' : 'Inactive';
    }
    return b;
  }

  function button(text, cls, device, fn) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = text;
    b.setAttribute('data-device', device);
    b.addEventListener('click', function () { fn(device, b); });
    return b;
  }

  function renderStatus(st) {
    var ul = $('devices');
    var now = Math.floor(Date.now() / 1000) + clockSkew;
    $('user').textContent = st.user || '';
    ul.textContent = '';
    (st.devices || []).forEach(function (d) {
      var li = document.createElement('li');
      var h = document.createElement('h2');
      var actions = document.createElement('div');
      li.className = 'device';
      li.setAttribute('data-name', d.name);
      h.textContent = d.name;
      li.appendChild(h);
      li.appendChild(badge(d, now));
      actions.className = 'actions';
      if (d.state === 'active') {
        actions.appendChild(button('Extend', 'extend secondary', d.name, extend));
        actions.appendChild(button('Deactivate', 'deactivate', d.name, deactivate));
      } else if (d.state === 'inactive') {
        actions.appendChild(button('Connect', 'connect', d.name, extend));
      }
      li.appendChild(actions);
      ul.appendChild(li);
    });
    $('no-devices').hidden = (st.devices || []).length > 0;
    show('screen-status');
  }

  function renderChoice(st) {
    var box = $('device-choices');
    box.textContent = '';
    (st.devices || []).forEach(function (d, i) {
      var div = document.createElement('div');
      var r = document.createElement('input');
      var l = document.createElement('label');
      div.className = 'choice';
      r.type = 'radio';
      r.name = 'device';
      r.value = d.name;
      r.id = 'device-' + i;
      if (i === 0) r.checked = true;
      l.htmlFor = r.id;
      l.textContent = d.name;
      div.appendChild(r);
      div.appendChild(l);
      box.appendChild(div);
    });
    show('screen-device');
  }

  function render(st, prompt) {
    state = st;
    if (typeof st.now === 'number') clockSkew = st.now - Math.floor(Date.now() / 1000);
    if (st.company) {
      $('company').textContent = st.company;
      document.title = st.company + ' VPN access';
    }
    fillDurations(st);
    if (st.state === 'pending' && st.challenge) {
      mode = 'login';
      codeScreen(st.challenge, prompt);
    } else if (st.state === 'signed_in' && st.challenge) {
      mode = 'extend';
      codeScreen(st.challenge, prompt);
    } else if (st.state === 'signed_in' && st.choose_device) {
      renderChoice(st);
    } else if (st.state === 'signed_in') {
      renderStatus(st);
    } else {
      mode = 'login';
      show('screen-email');
    }
  }

  function refresh() {
    return api('GET', '/api/v1/status').then(function (r) {
      if (r.status === 200) render(r.body);
      else message(r.body.message || 'The service is not available right now.');
    }, function () { message('The service cannot be reached.'); });
  }

  function handle(r, form) {
    busy(form, false);
    if (r.status === 200) {
      message('');
      if (r.body.state === 'anonymous') return refresh();
      return render(r.body, r.body.prompt);
    }
    message(r.body.message || 'Something went wrong.');
    if (r.body.error === 'no_challenge' || r.body.error === 'csrf' ||
        r.body.error === 'not_signed_in') {
      return api('GET', '/api/v1/status').then(function (s) {
        if (s.status === 200) render(s.body);
      });
    }
    if (r.body.error === 'bad_code') {
      $('code').value = '';
      $('code').focus();
    }
  }

  function failed(form) {
    busy(form, false);
    message('The service cannot be reached. Check your connection and try again.');
  }

  function extend(device, b) {
    if (b) b.disabled = true;
    api('POST', '/api/v1/extend', { device: device }).then(function (r) { handle(r); },
      function () { failed(); });
  }

  function deactivate(device, b) {
    if (b) b.disabled = true;
    api('POST', '/api/v1/deactivate', { device: device }).then(function (r) {
      if (r.status === 200) message('');
      handle(r);
    }, function () { failed(); });
  }

  // An invitation's link: /enrol#TOKEN. The token never leaves the
  // fragment but in a POST body; it is dropped from the address bar.
  var enrolToken = null;

  function enrolStart() {
    var m = /^#([0-9a-f]{64})$/.exec(location.hash);
    if (window.history && history.replaceState) history.replaceState(null, '', '/enrol');
    if (!m) return show('screen-invalid');
    enrolToken = m[1];
    api('GET', '/api/v1/status').then(function (st) {
      if (st.body.company) {
        $('company').textContent = st.body.company;
        document.title = st.body.company + ' VPN access';
      }
      $('title').textContent = 'Set up your sign-in';
      return api('POST', '/api/v1/2fa/setup', { token: enrolToken });
    }).then(function (r) {
      if (r.status !== 200) {
        if (r.body.error === 'invalid_invite') return show('screen-invalid');
        return message(r.body.message || 'Something went wrong.');
      }
      $('enrol-user').textContent = r.body.user || '';
      $('enrol-secret').textContent = (r.body.secret || '').replace(/(.{4})/g, '$1 ').trim();
      if (r.body.qr) $('enrol-qr').src = r.body.qr;
      show('screen-enrol');
    }, function () { message('The service cannot be reached.'); });
  }

  function enrolVerify(e) {
    var f = e.target;
    e.preventDefault();
    var code = $('enrol-code').value.replace(/\s+/g, '');
    if (!/^[0-9]+$/.test(code)) { message('Type the digits of the code.'); $('enrol-code').focus(); return; }
    busy(f, true);
    api('POST', '/api/v1/2fa/verify', { token: enrolToken, code: code }).then(function (r) {
      busy(f, false);
      if (r.status === 200) { message(''); enrolToken = null; return show('screen-enrolled'); }
      if (r.body.error === 'invalid_invite') { message(''); return show('screen-invalid'); }
      message(r.body.message || 'Something went wrong.');
      $('enrol-code').value = '';
      $('enrol-code').focus();
    }, function () { failed(f); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('form-enrol').addEventListener('submit', enrolVerify);
    // another link pasted into the same tab changes only the fragment
    window.addEventListener('hashchange', function () {
      if (location.pathname === '/enrol' && location.hash) { message(''); enrolStart(); }
    });
    if (location.pathname === '/enrol') return enrolStart();
    $('form-email').addEventListener('submit', function (e) {
      var f = e.target;
      e.preventDefault();
      var email = $('email').value.trim();
      if (!email) { message('Type your work email.'); $('email').focus(); return; }
      busy(f, true);
      api('POST', '/api/v1/login', { email: email }).then(function (r) { handle(r, f); },
        function () { failed(f); });
    });
    $('form-code').addEventListener('submit', function (e) {
      var f = e.target;
      e.preventDefault();
      var code = $('code').value.replace(/\s+/g, '');
      if (!/^[0-9]+$/.test(code)) { message('Type the digits of the code.'); $('code').focus(); return; }
      busy(f, true);
      api('POST', '/api/v1/answer', { code: code, duration: parseInt($('duration').value, 10) })
        .then(function (r) { handle(r, f); }, function () { failed(f); });
    });
    $('code-back').addEventListener('click', function () {
      message('');
      if (mode === 'extend') {
        // the challenge just expires; the session stays
        state.challenge = null;
        return renderStatus(state);
      }
      api('POST', '/api/v1/logout', {}).then(function () { refresh(); });
    });
    $('form-device').addEventListener('submit', function (e) {
      var f = e.target;
      var picked = f.querySelector('input[name=device]:checked');
      e.preventDefault();
      if (!picked) return;
      busy(f, true);
      api('POST', '/api/v1/activate', { device: picked.value }).then(function (r) { handle(r, f); },
        function () { failed(f); });
    });
    $('logout').addEventListener('click', function () {
      api('POST', '/api/v1/logout', {}).then(function () { message(''); refresh(); });
    });
    refresh();
    // badges count down; the status is fetched again every minute
    timer = setInterval(function () {
      if (state && state.state === 'signed_in' && !$('screen-status').hidden) refresh();
    }, 60000);
  });
})();
