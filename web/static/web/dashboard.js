// Dashboard enhancements; the page works without them.
(function () {
  'use strict';
  // "Copy" for a new key's secret (the input stays selectable by hand).
  document.querySelectorAll('[data-copy-target]').forEach(function (button) {
    if (!navigator.clipboard) return;
    var input = document.getElementById(button.dataset.copyTarget);
    var status = document.getElementById(button.dataset.copyStatus);
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(input.value).then(
        function () { status.textContent = 'Copied to the clipboard.'; },
        function () { input.select(); status.textContent = 'Could not copy: the key is selected, copy it by hand.'; }
      );
    });
  });
  // Revoking cannot be undone: ask first.
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
