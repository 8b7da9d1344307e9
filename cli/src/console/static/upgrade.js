// The Upgrade page: sends the chosen wasm to the console (upload progress), which checks it and
// stages it in the orchestrator in chunks (staging progress, resumed bytes), then follows the
// upgrade's steps as the orchestrator records them until it ends.

import { showMessage } from './console.js';

const csrf = document.querySelector('meta[name="keepsake-csrf"]').content;
const form = document.getElementById('upgrade-form');
const section = document.getElementById('upgrade-progress');
const uploadBar = document.getElementById('upload-bar');
const stageBar = document.getElementById('stage-bar');
const stageText = document.getElementById('stage-text');
const steps = document.getElementById('upgrade-steps');
const outcome = document.getElementById('upgrade-outcome');

function send(url, file) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('x-keepsake-csrf', csrf);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        uploadBar.max = e.total;
        uploadBar.value = e.loaded;
      }
    };
    xhr.onload = () => {
      try {
        resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) });
      } catch {
        resolve({ status: xhr.status, body: { ok: false, message: xhr.responseText } });
      }
    };
    xhr.onerror = () => resolve({ status: 0, body: { ok: false, message: 'the console did not answer; is it still running?' } });
    xhr.send(file);
  });
}

function showSteps(list) {
  steps.replaceChildren(...list.map((s) => {
    const li = document.createElement('li');
    li.className = `step-${s.outcome}`;
    li.dataset.step = s.step;
    li.textContent = `${s.step}: ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`;
    return li;
  }));
}

async function follow(job) {
  for (;;) {
    let view;
    try {
      view = await (await fetch(`/upgrade/jobs/${job}`, { credentials: 'same-origin' })).json();
    } catch (e) {
      outcome.textContent = `lost the console (${e}); the History page shows how the upgrade ended`;
      return;
    }
    stageBar.max = Math.max(view.size, 1);
    stageBar.value = view.staged;
    stageText.textContent = `${view.staged} of ${view.size} bytes` +
      (view.resumed_from ? ` (${view.resumed_from} were already staged)` : '');
    showSteps(view.steps);
    outcome.textContent = view.summary;
    outcome.dataset.phase = view.phase;
    if (view.phase === 'finished') {
      outcome.dataset.outcome = view.outcome ? view.outcome.kind : 'error';
      showMessage(view.outcome && view.outcome.kind === 'upgraded', view.summary);
      form.querySelector('[type=submit]').disabled = false;
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = form.elements.wasm.files[0];
  if (!file) return;
  const query = new URLSearchParams({
    module: form.elements.module.value,
    arg: form.elements.arg.value,
    snapshot: String(form.elements.snapshot.checked),
    on_existing: form.elements.on_existing.value,
    rollback: String(form.elements.rollback.checked),
  });
  form.querySelector('[type=submit]').disabled = true;
  section.hidden = false;
  steps.replaceChildren();
  outcome.textContent = '';
  delete outcome.dataset.outcome;
  const answer = await send(`/upgrade/start?${query}`, file);
  if (!answer.body.job) {
    outcome.dataset.outcome = 'error';
    outcome.textContent = answer.body.message;
    showMessage(false, answer.body.message);
    form.querySelector('[type=submit]').disabled = false;
    return;
  }
  follow(answer.body.job);
});
