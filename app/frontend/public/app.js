// SecureVote page: lists the options, casts one vote, polls the live results.
// Plain DOM (no framework, no inline script: the CSP allows only this file).
'use strict';

const POLL_MS = 2000;
const optionsEl = document.getElementById('options');
const messageEl = document.getElementById('message');
const chartEl = document.getElementById('chart');
const totalEl = document.getElementById('total');

/** A vote is retried this many times after an ambiguous failure, with the same key. */
const VOTE_RETRIES = 3;
/** Retry-After is honoured up to this many seconds; without one, a short backoff. */
const MAX_RETRY_WAIT_S = 10;

let options = [];
let voted = false;
let voting = false;
/**
 * The Idempotency-Key of a vote whose outcome is unknown (every retry failed
 * ambiguously): the next click reuses it, so if that vote did commit it is
 * recognised instead of counted twice. Cleared by any definite answer.
 */
let pendingKey = null;

/** A UUID v4 from getRandomValues (randomUUID needs a secure context; plain http on a LAN name is not one). */
function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** 502, 503, 504 and network errors: the vote may or may not have reached the database. Retry with the same key. */
function retryable(res) {
  return res === null || res.status === 502 || res.status === 503 || res.status === 504;
}

/** Seconds to wait before the next try: Retry-After when given (bounded), else 1, 2, 4 s. */
function retryDelay(res, attempt) {
  const given = res ? Number(res.headers.get('Retry-After')) : NaN;
  const s = Number.isFinite(given) && given >= 0 ? given : 2 ** attempt;
  return Math.min(s, MAX_RETRY_WAIT_S);
}

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
  const counted = total === 1 ? '1 vote in total' : `${total} votes in total`;
  // During a database outage the backend serves its last count, marked stale.
  const asOf = data.stale === true && typeof data.asOf === 'string' ? new Date(data.asOf) : undefined;
  totalEl.textContent = asOf && !Number.isNaN(asOf.getTime()) ? `${counted} as of ${asOf.toLocaleTimeString()} (the count is catching up).` : `${counted}.`;
  totalEl.dataset.total = String(total);
}

async function loadResults() {
  try {
    const res = await fetch('/api/results', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(await readError(res));
    const data = await res.json();
    renderResults(data);
    chartEl.classList.toggle('stale', data.stale === true);
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

/**
 * POST the vote, retrying 502/503/504 and network errors with the same key.
 * Returns the last response (null: network error) and whether any try may
 * have reached the database without our hearing back.
 */
async function postVote(opt, key) {
  let res = null;
  let ambiguous = false;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch('/api/vote', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': key },
        credentials: 'same-origin',
        body: JSON.stringify({ optionId: opt.id }),
      });
    } catch {
      res = null;
    }
    if (!retryable(res) || attempt >= VOTE_RETRIES) return { res, ambiguous };
    if (!(await definitelyNotStored(res))) ambiguous = true;
    const wait = retryDelay(res, attempt);
    showMessage('info', `Voting is busy; trying again in ${wait} s (your vote will count once)…`);
    await sleep(wait * 1000);
    showMessage('info', `Sending your vote for ${opt.label} again…`);
  }
}

/** The backend's own 503: the database refused the vote, nothing was stored. */
async function definitelyNotStored(res) {
  if (res === null || res.status !== 503) return false;
  try {
    return (await res.clone().json()).error === 'unavailable';
  } catch {
    return false;
  }
}

async function vote(opt) {
  if (voting || voted) return;
  voting = true;
  setButtonsDisabled(true);
  showMessage('info', `Sending your vote for ${opt.label}…`);
  const key = pendingKey ?? newKey();
  pendingKey = key;
  try {
    const { res, ambiguous } = await postVote(opt, key);
    if (res !== null && !retryable(res)) pendingKey = null; // a definite answer
    if (res === null) {
      showMessage('error', 'Network error: we could not confirm your vote. Please try again: it will not count twice.');
    } else if (res.status === 201) {
      voted = true;
      optionsEl.querySelector(`button[data-option-id="${CSS.escape(opt.id)}"]`)?.classList.add('chosen');
      showMessage('success', `Thank you! Your vote for ${opt.label} is recorded.`);
    } else if (res.status === 409) {
      voted = true;
      showMessage('duplicate', 'You have already voted from this browser: only your first vote counts.');
    } else if (!ambiguous && (await definitelyNotStored(res))) {
      pendingKey = null;
      const retry = Number(res.headers.get('Retry-After')) || 5;
      showMessage('error', `Voting is temporarily unavailable. Your vote was NOT recorded; please try again in ${retry} s.`);
    } else if (retryable(res)) {
      showMessage('error', 'Voting is temporarily unavailable and we could not confirm your vote. Please try again: it will not count twice.');
    } else {
      showMessage('error', `Your vote was NOT recorded: ${await readError(res)}.`);
    }
  } finally {
    voting = false;
    setButtonsDisabled(voted);
    await loadResults();
  }
}

loadOptions();
loadResults();
setInterval(loadResults, POLL_MS);
