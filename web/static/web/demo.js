// The tracker demo: each button tracks its data-event with its data-props, and the
// live log shows what was tracked and the server's answer to each batch.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('demo-config').textContent);
  var log = document.getElementById('tracked-log');
  var who = document.getElementById('distinct-id');
  var tracker = window.eventtracker;

  function note(text, kind) {
    var item = document.createElement('li');
    item.className = kind || 'tracked';
    item.textContent = new Date().toLocaleTimeString() + ' ' + text;
    log.appendChild(item);
  }

  if (!tracker || !tracker.track) {
    note('The tracker (/t.js) did not load.', 'error');
    return;
  }

  // The tracker sends with window.fetch at call time: wrap it to log each batch's receipt.
  var send = window.fetch.bind(window);
  window.fetch = function (url, options) {
    var answer = send(url, options);
    if (String(url).indexOf('/api/eventlogs/batch/') !== -1) {
      answer.then(function (response) {
        return response.clone().json().then(function (body) {
          if (response.ok) {
            note('sent: ' + body.accepted + ' accepted, ' + body.duplicate + ' duplicate, ' + body.rejected + ' rejected', 'sent');
          } else {
            note('refused: HTTP ' + response.status + ' ' + (body.detail || ''), 'error');
          }
        });
      }).catch(function () { note('no readable answer (network error or server failure); the tracker retries', 'error'); });
    }
    return answer;
  };

  function showIdentity() { who.textContent = tracker.distinctId(); }

  // The tracker as an app uses it: the events of these buttons (no page views), and a
  // stored anonymous id to show (web analytics' defaults are page views, cookieless).
  tracker.init({ key: config.key, host: config.host || location.origin, flushInterval: 500,
                 autocapture: false, cookieless: false });
  showIdentity();

  document.querySelectorAll('button[data-event]').forEach(function (button) {
    button.addEventListener('click', function () {
      var props = JSON.parse(button.dataset.props || '{}');
      tracker.track(button.dataset.event, props);
      note('track("' + button.dataset.event + '", ' + JSON.stringify(props) + ') as ' + tracker.distinctId());
    });
  });
  document.getElementById('identify-demo-user-1').addEventListener('click', function (event) {
    tracker.identify(event.currentTarget.dataset.identify);
    showIdentity();
    note('identify("' + tracker.distinctId() + '")');
  });
  document.getElementById('reset-identity').addEventListener('click', function () {
    tracker.reset();
    showIdentity();
    note('reset(): anonymous again as ' + tracker.distinctId());
  });
  document.getElementById('flush-now').addEventListener('click', function () {
    tracker.flush();
    note('flush()');
  });
})();
