// The schedule editor's preview: the next five runs of what is typed, in UTC and in the
// browser's local time, before anything is saved. The console computes them as the
// orchestrator will; saving shows the orchestrator's refusal if it refuses.

const form = document.getElementById('schedule-form');
const out = document.getElementById('schedule-preview');
let timer = null;

async function preview() {
  const kind = form.elements.kind.value;
  const value = form.elements.value.value.trim();
  if (!value) {
    out.textContent = '';
    return;
  }
  const query = new URLSearchParams({ kind, value });
  let answer;
  try {
    answer = await (await fetch(`/schedule/preview?${query}`, { credentials: 'same-origin' })).json();
  } catch (e) {
    out.textContent = `no preview: ${e}`;
    return;
  }
  if (answer.error) {
    out.innerHTML = '';
    const p = document.createElement('p');
    p.className = 'error';
    p.id = 'schedule-preview-error';
    p.textContent = answer.error;
    out.appendChild(p);
    return;
  }
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
  const table = document.createElement('table');
  table.id = 'schedule-preview-table';
  table.innerHTML = `<thead><tr><th>Next runs (UTC)</th><th>Your time (${zone})</th></tr></thead>`;
  const body = document.createElement('tbody');
  answer.utc.forEach((utc, i) => {
    const row = document.createElement('tr');
    const a = document.createElement('td');
    a.textContent = utc;
    const b = document.createElement('td');
    b.textContent = new Date(answer.ms[i]).toLocaleString();
    row.append(a, b);
    body.appendChild(row);
  });
  table.appendChild(body);
  out.replaceChildren(table);
}

form.addEventListener('input', () => {
  clearTimeout(timer);
  timer = setTimeout(preview, 250);
});
preview();
