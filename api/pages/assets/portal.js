// Progressive enhancement only: every page works without this file. Served from /assets/ under a
// Content-Security-Policy that allows scripts from this origin only (no inline script).
'use strict';
document.addEventListener('click', (event) => {
  // Copy buttons: <button data-copy="element-id">; the secret never leaves the page but to the clipboard.
  const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => { button.textContent = 'Copied'; },
    () => { button.textContent = 'Copy failed: select the text'; },
  );
});
document.addEventListener('submit', (event) => {
  // Forms that end something (revoke, offboard) ask once more: <form data-confirm="text">.
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute('data-confirm') : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // One submission per click: a double click would pick a one-time key up twice (the second answer,
  // "already picked up", would replace the page showing the key) or rotate twice.
  if (form instanceof HTMLFormElement && form.method === 'post') {
    setTimeout(() => form.querySelectorAll('button[type=submit], button:not([type])').forEach((b) => { b.disabled = true; }), 0);
  }
});
