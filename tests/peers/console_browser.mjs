// A person at jitgate's web console, in Debian's Chromium driven by playwright-core (headless).
//
//   node tests/peers/console_browser.mjs --base https://127.0.0.1:8443 [--shots DIR]
//
// Reads one JSON command per line on stdin and answers each with one JSON line on stdout, so a
// test interleaves browser steps with database clients. Each command names a person (`as`);
// every person has their own browser context (cookies). The gateway's certificate is
// self-signed: the contexts ignore certificate errors.
//   {"op":"login","as":"bob","password":"x"}     /console/login → the provider's login and
//                                                consent pages → the inbox (nothing when
//                                                signed in already); answers the cookies
//   {"op":"wait_review","as":"bob","id":"r-.."}  waits until the review is listed
//   {"op":"wait_gone","as":"bob","id":"r-.."}    waits until it is not
//   {"op":"decide","as":"bob","id":"r-..","verdict":"approve","comment":"..."}
//                                                types the reason, presses the button with the
//                                                keyboard, answers the status note
//   {"op":"goto","as":"bob","page":"grants"}     opens a page by its hash (#reviews, #grants,
//                                                #sessions); answers the section's text
//   {"op":"wait_row","as":"bob","table":"grants-active","id":"g-.."}
//                                                waits until the table lists the row (by data-id)
//   {"op":"wait_row_gone","as":"bob","table":"live","id":".."}   waits until it does not
//   {"op":"row_action","as":"bob","table":"live","id":"..","reason":"..","button":"End session"}
//                                                types the row's reason, presses its button with
//                                                the keyboard, answers the status note
//   {"op":"search","as":"dana","fields":{"user":"alice@corp.example"}}
//                                                fills the search form, submits it, answers the
//                                                status line and the rows' text
//   {"op":"click","as":"dana","name":"Next page"} presses a button by its accessible name
//   {"op":"text","as":"bob","selector":"#x"}     the text of an element
//   {"op":"fetch","as":"bob","path":"/api/..","method":"POST","headers":{},"body":"..."}
//                                                a request from the page (the session's cookie)
//   {"op":"cookies","as":"bob"}                  the __Host- cookies of the context
//   {"op":"layout","as":"bob","width":390}       resizes the page; answers its scroll and
//                                                client widths (no sideways scrolling on a phone)
//   {"op":"open_session","as":"dana","table":"hits","session":"s-.."}
//                                                follows the session link of a hit row (the
//                                                search's or the lineage's); answers the detail
//                                                page's facts, status and timeline text
//   {"op":"reveal","as":"dana","reason":".."}    types the reason on the detail page and presses
//                                                "Reveal raw values"; answers the note, the banner
//                                                and the timeline's text and marked cells
//   {"op":"lineage","as":"dana","document":"3"}  fills the lineage form, answers status and rows
//   {"op":"health","as":"dana","state":"ok","verify":true}
//                                                opens Health, presses "Verify the chain now"
//                                                (with verify), waits until the chain's state is
//                                                `state` (when given); answers the page's text
//   {"op":"screenshot","as":"bob","name":"inbox"}  DIR/<name>.png
//   {"op":"logout","as":"bob"}                   presses "Sign out"; answers the cookies
//   {"op":"quit"}
// Errors answer {"error": message}; the process keeps reading.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { chromium } from 'playwright-core';

const TIMEOUT_MS = 20000;

function parseArgs(argv) {
  const opts = { base: null, shots: null };
  for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!opts.base) throw new Error('--base URL is required');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
const people = new Map();

async function person(name) {
  if (!people.has(name)) {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 }, timezoneId: 'Europe/Berlin',
    });
    context.setDefaultTimeout(TIMEOUT_MS);
    const page = await context.newPage();
    const console = [];
    page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    people.set(name, { context, page, console });
  }
  return people.get(name);
}

async function cookies(p) {
  return (await p.context.cookies()).filter((c) => c.name.startsWith('__Host-'));
}

// The search's status line once it is final, and the result rows' text.
async function searchAnswer(p) {
  const status = p.page.locator('#search-status');
  await p.page.waitForFunction(
    (el) => el.textContent && !el.textContent.endsWith('…'), await status.elementHandle());
  const rows = await p.page.locator('#hits tbody tr').allInnerTexts();
  return { status: await status.textContent(), rows };
}

// The detail page once its records are shown (or refused).
async function detailAnswer(p) {
  const status = p.page.locator('#detail-status');
  await p.page.locator('#detail').waitFor({ state: 'visible' });
  await p.page.waitForFunction(() => {
    const s = document.getElementById('detail-status').textContent;
    return (s && !s.endsWith('…')) || !document.getElementById('detail-refused').hidden;
  });
  return { url: p.page.url(), status: await status.textContent(),
    refused: await p.page.locator('#detail-refused').isVisible() ?
      await p.page.locator('#detail-refused').textContent() : '',
    facts: await p.page.locator('#detail-facts').innerText(),
    timeline: await p.page.locator('#timeline').innerText() };
}

const ops = {
  async login(cmd, p) {
    await p.page.goto(`${opts.base}/console/`);
    const inbox = p.page.locator('#inbox');
    const signIn = p.page.getByRole('link', { name: /sign in/i });
    await inbox.or(signIn).first().waitFor({ state: 'visible' });
    if (await signIn.isVisible()) await signIn.click();
    // The provider asks for a login, then consent, each only when it has none yet.
    const login = p.page.locator('input[name=login]');
    const consent = p.page.getByRole('button', { name: 'Continue' });
    for (let step = 0; step < 4; step++) {
      await inbox.or(login).or(consent).first().waitFor({ state: 'visible' });
      if (await inbox.isVisible()) break;
      if (await login.isVisible()) {
        await login.fill(cmd.as);
        await p.page.locator('input[name=password]').fill(cmd.password || 'any');
        await p.page.locator('button[type=submit]').click();
      } else {
        await consent.click();
      }
      await p.page.waitForLoadState();
    }
    await inbox.waitFor({ state: 'visible' });
    return { url: p.page.url(), who: await p.page.locator('#who-name').textContent(),
      cookies: await cookies(p) };
  },
  async cookies(cmd, p) {
    return { cookies: await cookies(p) };
  },
  async wait_review(cmd, p) {
    const item = p.page.locator(`li[data-id="${cmd.id}"]`);
    await item.waitFor({ state: 'visible' });
    return { text: await item.innerText() };
  },
  async wait_gone(cmd, p) {
    await p.page.locator(`li[data-id="${cmd.id}"]`).waitFor({ state: 'detached' });
    return { gone: cmd.id };
  },
  async decide(cmd, p) {
    const item = p.page.locator(`li[data-id="${cmd.id}"]`);
    await item.getByLabel('Reason for your decision').fill(cmd.comment || '');
    const button = item.getByRole('button', { name: cmd.verdict === 'reject' ? 'Reject' : 'Approve' });
    await button.focus();
    await p.page.keyboard.press('Enter');
    const note = item.locator('.note');
    await p.page.waitForFunction(
      (el) => el && el.textContent && !el.textContent.endsWith('…'), await note.elementHandle());
    return { note: await note.textContent(), refused: (await note.getAttribute('class')).includes('bad') };
  },
  async goto(cmd, p) {
    await p.page.getByRole('link', { name: new RegExp(`^${cmd.page}$`, 'i') }).click();
    const id = cmd.page === 'reviews' ? 'inbox' : cmd.page;
    await p.page.locator(`#${id}`).waitFor({ state: 'visible' });
    return { text: await p.page.locator(`#${id}`).innerText(), url: p.page.url() };
  },
  async wait_row(cmd, p) {
    const row = p.page.locator(`#${cmd.table} tr[data-id="${cmd.id}"]`);
    await row.waitFor({ state: 'visible' });
    return { text: await row.innerText() };
  },
  async wait_row_gone(cmd, p) {
    await p.page.locator(`#${cmd.table} tr[data-id="${cmd.id}"]`).waitFor({ state: 'detached' });
    return { gone: cmd.id };
  },
  async row_action(cmd, p) {
    const row = p.page.locator(`#${cmd.table} tr[data-id="${cmd.id}"]`);
    await row.getByLabel(/^Reason/).fill(cmd.reason || '');
    const note = row.locator('.note');
    await note.evaluate((el) => { el.textContent = ''; });  // the answer to this press only
    await row.getByRole('button', { name: cmd.button }).focus();
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(
      (el) => el && el.textContent && !el.textContent.endsWith('…'), await note.elementHandle());
    return { note: await note.textContent(),
      refused: (await note.getAttribute('class')).includes('bad') };
  },
  async search(cmd, p) {
    const form = p.page.locator('#search');
    for (const [name, value] of Object.entries(cmd.fields || {})) {
      const field = form.locator(`[name="${name}"]`);
      if (await field.evaluate((e) => e.tagName === 'SELECT')) await field.selectOption(value);
      else await field.fill(value);
    }
    await form.getByRole('button', { name: 'Search' }).click();
    return searchAnswer(p);
  },
  async click(cmd, p) {
    await p.page.getByRole('button', { name: cmd.name }).click();
    return searchAnswer(p);
  },
  async text(cmd, p) {
    return { text: await p.page.locator(cmd.selector).textContent() };
  },
  async fetch(cmd, p) {
    return p.page.evaluate(async (c) => {
      const res = await fetch(c.path, { method: c.method || 'GET', headers: c.headers || {},
        body: c.body, credentials: 'same-origin' });
      return { status: res.status, body: await res.text(),
        headers: Object.fromEntries(res.headers.entries()) };
    }, cmd);
  },
  async layout(cmd, p) {
    await p.page.setViewportSize({ width: cmd.width, height: cmd.height || 800 });
    return p.page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
  },
  async open_session(cmd, p) {
    const row = p.page.locator(`#${cmd.table} tbody tr`).filter({ hasText: cmd.session }).first();
    await row.getByRole('link', { name: new RegExp(`Open session ${cmd.session}`) }).click();
    return detailAnswer(p);
  },
  async reveal(cmd, p) {
    const form = p.page.locator('#reveal');
    await form.getByLabel('Reason for revealing').fill(cmd.reason || '');
    const note = form.locator('.note');
    await note.evaluate((el) => { el.textContent = ''; });
    await form.getByRole('button', { name: 'Reveal raw values' }).click();
    const banner = p.page.locator('#revealed-banner');
    await p.page.waitForFunction(() => {
      const n = document.getElementById('reveal-note').textContent;
      return !document.getElementById('revealed-banner').hidden || (n && !n.endsWith('…'));
    });
    return { note: await note.textContent(), banner: await banner.isVisible() ?
      await banner.textContent() : '', marked: await p.page.locator('#timeline mark').allInnerTexts(),
      ...(await detailAnswer(p)) };
  },
  async lineage(cmd, p) {
    const form = p.page.locator('#lineage');
    await form.getByLabel('Document id').fill(cmd.document);
    const status = p.page.locator('#lineage-status');
    await status.evaluate((el) => { el.textContent = ''; });
    await form.getByRole('button', { name: 'Show retrievals' }).click();
    await p.page.waitForFunction(
      (el) => el.textContent && !el.textContent.endsWith('…'), await status.elementHandle());
    return { status: await status.textContent(),
      rows: await p.page.locator('#lineage-hits tbody tr').allInnerTexts() };
  },
  async health(cmd, p) {
    if (!(await p.page.locator('#health').isVisible())) {
      await p.page.getByRole('link', { name: /^health$/i }).click();
    }
    const section = p.page.locator('#health');
    await section.waitFor({ state: 'visible' });
    const note = p.page.locator('#verify-note');
    if (cmd.verify) {
      await note.evaluate((el) => { el.textContent = ''; });
      await section.getByRole('button', { name: 'Verify the chain now' }).click();
      await p.page.waitForFunction(
        (el) => el.textContent && !el.textContent.endsWith('…'), await note.elementHandle());
    }
    if (cmd.state) {
      await p.page.locator(`#chain-state.${cmd.state}`).waitFor({ state: 'visible' });
    } else {
      await p.page.locator('#health-status, #health-refused').filter({ hasText: /\S/ }).first()
        .waitFor({ state: 'visible' });
    }
    return { text: await section.innerText(), note: await note.textContent() };
  },
  async screenshot(cmd, p) {
    if (!opts.shots) return { skipped: true };
    fs.mkdirSync(opts.shots, { recursive: true });
    const file = path.join(opts.shots, `${cmd.name}.png`);
    await p.page.screenshot({ path: file, fullPage: true });
    return { file };
  },
  async logout(cmd, p) {
    await p.page.getByRole('button', { name: 'Sign out' }).click();
    await p.page.locator('#signed-out').waitFor({ state: 'visible' });
    return { cookies: await cookies(p) };
  },
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === 'quit') break;
  let answer;
  try {
    if (!ops[cmd.op]) throw new Error(`unknown op ${cmd.op}`);
    answer = await ops[cmd.op](cmd, await person(cmd.as || 'default'));
  } catch (err) {
    const p = people.get(cmd.as || 'default');
    answer = { error: String(err.message || err).slice(0, 2000), console: p?.console.slice(-10),
      url: p?.page.url() };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await browser.close();
