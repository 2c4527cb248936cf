// SecureVote page: lists the options, casts one vote, polls the live results.
// Plain DOM (no framework, no inline script: the CSP allows only this file).
'use strict';

const POLL_MS = 2000;
const optionsEl = document.getElementById('options');
const messageEl = document.getElementById('message');
const chartEl = document.getElementById('chart');
const totalEl = document.getElementById('total');

let options = [];
let voted = false;
let voting = false;

function showMessage(kind, text) {
  messageEl.hidden = false;
  messageEl.className = `message ${kind}`;
  messageEl.dataset.kind = kind;
  messageEl.textContent = text;
}

async function readError(res) {
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') return body.error;
    if (body && typeof body.message === 'string') return body.message;
  } catch {
    // not JSON (e.g. an HTML error page): fall through
  }
  return `HTTP ${res.status}`;
}

function setButtonsDisabled(disabled) {
  for (const b of optionsEl.querySelectorAll('button')) b.disabled = disabled;
}

function renderOptions() {
  optionsEl.replaceChildren();
  optionsEl.setAttribute('aria-busy', 'false');
  for (const opt of options) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'vote';
    button.dataset.optionId = opt.id;
    button.textContent = opt.label;
    button.addEventListener('click', () => vote(opt));
    optionsEl.append(button);
  }
  setButtonsDisabled(voted);
}

function renderResults(data) {
  const results = Array.isArray(data.results) ? data.results : [];
  const total = Number(data.total) || 0;
  const max = Math.max(1, ...results.map((r) => Number(r.votes) || 0));
  chartEl.replaceChildren();
  for (const r of results) {
    const votes = Number(r.votes) || 0;
    const pct = total > 0 ? Math.round((votes / total) * 100) : 0;
    const li = document.createElement('li');
    li.className = 'row';
    li.dataset.optionId = r.id;
    li.dataset.votes = String(votes);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = r.label;
    const track = document.createElement('span');
    track.className = 'track';
    const bar = document.createElement('span');
    bar.className = 'bar';
    // CSSOM, not a style attribute: allowed by style-src 'self'.
    bar.style.width = `${(votes / max) * 100}%`;
    track.append(bar);
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = `${votes} (${pct}%)`;
    li.append(label, track, count);
    chartEl.append(li);
  }
  totalEl.textContent = total === 1 ? '1 vote in total.' : `${total} votes in total.`;
  totalEl.dataset.total = String(total);
}

async function loadResults() {
  try {
    const res = await fetch('/api/results', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(await readError(res));
    renderResults(await res.json());
    chartEl.classList.remove('stale');
  } catch {
    // Keep the last chart, greyed out, and try again on the next tick.
    chartEl.classList.add('stale');
  }
}

async function loadOptions() {
  try {
    const res = await fetch('/api/options', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(await readError(res));
    const body = await res.json();
    options = Array.isArray(body.options) ? body.options : [];
    renderOptions();
  } catch (err) {
    optionsEl.setAttribute('aria-busy', 'false');
    optionsEl.replaceChildren();
    showMessage('error', `Could not load the options (${err.message}). Retrying…`);
    setTimeout(loadOptions, 3000);
  }
}

async function vote(opt) {
  if (voting || voted) return;
  voting = true;
  setButtonsDisabled(true);
  showMessage('info', `Sending your vote for ${opt.label}…`);
  try {
    const res = await fetch('/api/vote', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ optionId: opt.id }),
    });
    if (res.status === 201) {
      voted = true;
      optionsEl.querySelector(`button[data-option-id="${CSS.escape(opt.id)}"]`)?.classList.add('chosen');
      showMessage('success', `Thank you! Your vote for ${opt.label} is recorded.`);
    } else if (res.status === 409) {
      voted = true;
      showMessage('duplicate', 'You have already voted from this browser: only your first vote counts.');
    } else if (res.status === 503) {
      const retry = Number(res.headers.get('Retry-After')) || 5;
      showMessage('error', `Voting is temporarily unavailable. Your vote was NOT recorded; please try again in ${retry} s.`);
    } else {
      showMessage('error', `Your vote was NOT recorded: ${await readError(res)}.`);
    }
  } catch {
    showMessage('error', 'Network error: your vote was NOT recorded. Please try again.');
  } finally {
    voting = false;
    setButtonsDisabled(voted);
    await loadResults();
  }
}

loadOptions();
loadResults();
setInterval(loadResults, POLL_MS);
