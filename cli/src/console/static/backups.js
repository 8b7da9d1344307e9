// The Backups page: "Sync now" and "Restore" start a job in the console, which the page then
// follows by polling until it ends (what it is doing, the bytes of the current snapshot, one
// line per snapshot). A finished sync reloads the page so the list shows the new backups.

import { showMessage, post, confirmDialog } from './console.js';

const root = document.getElementById('backups');
const section = document.getElementById('backup-job');
const doing = document.getElementById('job-doing');
const bar = document.getElementById('job-bar');
const bytes = document.getElementById('job-bytes');
const lines = document.querySelector('#job-lines tbody');
const summary = document.getElementById('job-summary');
const syncButton = document.getElementById('sync-button');
const messageKey = 'keepsake-console-message';

function showLines(list) {
  lines.replaceChildren(...list.map((l) => {
    const tr = document.createElement('tr');
    tr.className = l.result === 'failed' ? 'failed' : 'ok';
    tr.dataset.result = l.result;
    for (const text of [l.module, l.snapshot_id, l.result, l.detail]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  }));
}

async function follow(job) {
  section.hidden = false;
  delete summary.dataset.outcome;
  summary.textContent = '';
  syncButton.disabled = true;
  for (;;) {
    let view;
    try {
      view = await (await fetch(`/backups/jobs/${job}`, { credentials: 'same-origin' })).json();
    } catch (e) {
      summary.textContent = `lost the console (${e}); is it still running?`;
      summary.dataset.outcome = 'error';
      syncButton.disabled = false;
      return;
    }
    doing.textContent = view.doing;
    bar.max = Math.max(view.bytes_total, 1);
    bar.value = view.bytes_done;
    bytes.textContent = view.bytes_total ? `${view.bytes_done} of ${view.bytes_total} bytes` : '';
    showLines(view.lines);
    if (view.finished) {
      summary.textContent = view.summary;
      summary.dataset.outcome = view.ok ? 'ok' : 'error';
      syncButton.disabled = false;
      if (view.ok && view.kind === 'sync') {
        // The list shows the new backups after a reload.
        sessionStorage.setItem(messageKey, view.summary);
        location.reload();
        return;
      }
      showMessage(view.ok, view.summary);
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

syncButton.addEventListener('click', async () => {
  syncButton.disabled = true;
  const reply = await post('/backups/sync', null);
  if (reply.job) {
    if (!reply.ok) showMessage(false, reply.message);
    follow(reply.job);
    return;
  }
  syncButton.disabled = false;
  showMessage(false, reply.message);
});

document.addEventListener('submit', async (event) => {
  const form = event.target.closest('form.restore-form');
  if (!form) return;
  event.preventDefault();
  const target = form.elements.target.value.trim();
  const load = form.elements.load.checked;
  const question = `${form.dataset.confirm}\n\nInto: ${target}. Load it: ${load ? 'yes' : 'no'}.`;
  if (!(await confirmDialog(question))) {
    showMessage(true, 'Cancelled; nothing was changed.');
    return;
  }
  const body = new URLSearchParams({ backup: form.dataset.backup, target, load: String(load) });
  const reply = await post('/backups/restore', body);
  if (!reply.job) {
    showMessage(false, reply.message);
    return;
  }
  showMessage(true, `Restoring into ${target}…`);
  follow(reply.job);
});

if (root.dataset.runningJob) follow(root.dataset.runningJob);
