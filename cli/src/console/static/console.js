// keepsake console: the page's shared behaviour. Forms and buttons with `data-action` POST to
// the console (with the CSRF token in a header), a `data-confirm` asks first in a dialog, and
// the answer is shown in the page: the orchestrator's own text when it refuses.

const csrf = document.querySelector('meta[name="keepsake-csrf"]').content;
const messageKey = 'keepsake-console-message';

// Shows a message at the top of the page (ok or error).
export function showMessage(ok, text) {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = ok ? 'ok' : 'error';
  box.setAttribute('role', ok ? 'status' : 'alert');
  box.hidden = false;
}

// POSTs `body` (URLSearchParams or nothing) to `url`; resolves to { ok, message, reload, html }.
export async function post(url, body) {
  const headers = { 'x-keepsake-csrf': csrf };
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  let response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, credentials: 'same-origin' });
  } catch (e) {
    return { ok: false, message: `the console did not answer (${e}); is it still running?` };
  }
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { ok: false, message: text || `${response.status} ${response.statusText}` };
  }
}

// Asks in a modal dialog; resolves to true when confirmed.
export function confirmDialog(text) {
  let dialog = document.getElementById('confirm-dialog');
  if (!dialog) {
    dialog = document.createElement('dialog');
    dialog.id = 'confirm-dialog';
    dialog.innerHTML = '<p id="confirm-text"></p><form method="dialog">' +
      '<button id="confirm-no" value="no">Cancel</button> ' +
      '<button id="confirm-yes" value="yes" class="danger">Confirm</button></form>';
    document.body.appendChild(dialog);
  }
  dialog.querySelector('#confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
  });
}

// Runs one action and shows its result; reloads to show the new state when it worked.
async function act(control, url, body) {
  control.disabled = true;
  document.body.classList.add('working');
  showMessage(true, 'Working…');
  const reply = await post(url, body);
  document.body.classList.remove('working');
  control.disabled = false;
  if (reply.html) {
    const target = document.getElementById(control.dataset.results || 'fleet-results');
    if (target) target.innerHTML = reply.html;
  }
  if (reply.ok && reply.reload) {
    sessionStorage.setItem(messageKey, reply.message);
    location.reload();
    return;
  }
  showMessage(reply.ok, reply.message);
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!form.dataset.action) return;
  event.preventDefault();
  act(form.querySelector('[type=submit]') || form, form.dataset.action,
    new URLSearchParams(new FormData(form)));
});

document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  event.preventDefault();
  if (button.dataset.confirm && !(await confirmDialog(button.dataset.confirm))) {
    showMessage(true, 'Cancelled; nothing was changed.');
    return;
  }
  act(button, button.dataset.action, null);
});

// Times carry their UTC instant; the tooltip gives the browser's local time.
for (const t of document.querySelectorAll('time[data-utc]')) {
  t.title = `local time: ${new Date(Number(t.dataset.utc)).toLocaleString()}`;
}

const kept = sessionStorage.getItem(messageKey);
if (kept) {
  sessionStorage.removeItem(messageKey);
  showMessage(true, kept);
}

if (document.getElementById('schedule-form')) import('./schedule.js');
if (document.getElementById('upgrade-form')) import('./upgrade.js');
if (document.getElementById('backups')) import('./backups.js');
