// The vote page in a real headless Chromium (Debian's), through the real nginx,
// in front of the real stack (app/local/stack.ts: PostgreSQL, Redis, backend,
// frontend) on free ports in a scratch dir. Screenshots go to test-results/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../app/local/process.ts';
import { stopPostgresDir } from '../../app/local/postgres.ts';
import { downStack, upStack, type StackState } from '../../app/local/stack.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results');

let dir: string;
let stack: StackState;
let context: BrowserContext | undefined;
let page: Page;
const consoleErrors: string[] = [];
const foreignRequests: string[] = [];

async function votesOf(optionId: string): Promise<number> {
  return Number(await page.locator(`#chart li[data-option-id="${optionId}"]`).getAttribute('data-votes'));
}

async function message(): Promise<{ kind: string | null; text: string }> {
  const m = page.locator('#message');
  return { kind: await m.getAttribute('data-kind'), text: (await m.textContent()) ?? '' };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'securevote-browser-'));
  mkdirSync(SHOTS, { recursive: true });
  stack = await upStack({
    dir: join(dir, 'stack'),
    ports: { proxy: await freePort() },
    voteOptions: JSON.stringify([{ id: 'cats', label: 'Cats' }, { id: 'dogs', label: 'Dogs' }, { id: 'birds', label: 'Birds' }]),
  });
  // A fresh profile each run: no cookie, no cache from an earlier run.
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 900, height: 760 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  // A CSP violation or a script error shows up as a console error.
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(stack.url)) foreignRequests.push(r.url()); });
});

afterAll(async () => {
  try {
    await context?.close();
    if (dir) await downStack(join(dir, 'stack'));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('vote page in Chromium through nginx', () => {
  it('shows the options and an empty chart', async () => {
    await page.goto(stack.url + '/');
    await expect.poll(() => page.locator('button.vote').count()).toBe(3);
    expect(await page.locator('button.vote').allTextContents()).toEqual(['Cats', 'Dogs', 'Birds']);
    await expect.poll(() => page.locator('#chart li').count()).toBe(3);
    expect(await votesOf('cats')).toBe(0);
    expect(await page.locator('#total').textContent()).toBe('0 votes in total.');
  });

  it('votes, says so, and the chart changes', async () => {
    await page.getByRole('button', { name: 'Cats' }).click();
    await expect.poll(async () => (await message()).kind).toBe('success');
    expect((await message()).text).toContain('Your vote for Cats is recorded');
    await expect.poll(() => votesOf('cats')).toBe(1);
    expect(await page.locator('#total').textContent()).toBe('1 vote in total.');
    // The bar is drawn: the voted option's bar is wider than an empty one.
    const cats = await page.locator('#chart li[data-option-id="cats"] .bar').boundingBox();
    const dogs = await page.locator('#chart li[data-option-id="dogs"] .bar').boundingBox();
    expect(cats!.width).toBeGreaterThan(100);
    expect(dogs!.width).toBe(0);
    expect(await page.getByRole('button', { name: 'Dogs' }).isDisabled()).toBe(true);
    expect(await page.locator('button.vote.chosen').textContent()).toBe('Cats');
    await page.waitForTimeout(500); // let the bar's CSS transition end before the picture
    await page.screenshot({ path: join(SHOTS, 'browser-voted.png'), fullPage: true });
  });

  it('a second vote from the same browser gets the duplicate message and changes nothing', async () => {
    await page.reload();
    await expect.poll(() => page.locator('button.vote').count()).toBe(3);
    await page.getByRole('button', { name: 'Dogs' }).click();
    await expect.poll(async () => (await message()).kind).toBe('duplicate');
    expect((await message()).text).toContain('already voted');
    await expect.poll(() => votesOf('cats')).toBe(1);
    expect(await votesOf('dogs')).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'browser-duplicate.png'), fullPage: true });
  });

  it('says the vote was NOT recorded when the database is down, and works again once it is back', async () => {
    await context!.clearCookies(); // a new voter
    await page.reload();
    await expect.poll(() => page.locator('button.vote').count()).toBe(3);
    await stopPostgresDir(stack.postgres.dir);
    await page.getByRole('button', { name: 'Birds' }).click();
    // The page first retries (same Idempotency-Key, honouring Retry-After), saying so.
    await expect.poll(async () => (await message()).text).toMatch(/trying again in \d+ s/);
    await expect.poll(async () => (await message()).kind, { timeout: 30_000 }).toBe('error');
    expect((await message()).text).toMatch(/temporarily unavailable.*NOT recorded/);
    await page.screenshot({ path: join(SHOTS, 'browser-error.png'), fullPage: true });

    await upStack({ dir: join(dir, 'stack') }); // restarts PostgreSQL on its port; the backend reconnects by itself
    await page.getByRole('button', { name: 'Birds' }).click();
    await expect.poll(async () => (await message()).kind, { timeout: 20_000 }).toBe('success');
    await expect.poll(() => votesOf('birds')).toBe(1);
  });

  it('ran with no script error, no CSP violation, and no request outside the stack', () => {
    // Chromium logs every non-2xx fetch; the 409 and 503 above are expected answers, not errors.
    expect(consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of (409|503)/.test(e))).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
