import { Hono } from 'hono';
import { html } from 'hono/html';

/**
 * `/checkin`: the door staff's page. Server-rendered markup; the behaviour is a small script
 * (served beside it, as the CSP allows scripts from this origin only) that signs in through the
 * API, keeps the access token in this tab's sessionStorage (never in a URL), and calls the
 * check-in API with an Authorization header. Scans with the camera where the browser has
 * BarcodeDetector; a code can always be typed.
 */
const page = () => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Check-in · Boxoffice</title>
<style>
  * { box-sizing: border-box; }
  body { font: 17px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1f2328; }
  header { background: #1f2328; color: #fff; padding: .7rem 1rem; display: flex; justify-content: space-between; align-items: center; }
  header strong { letter-spacing: .08em; text-transform: uppercase; font-size: .85rem; }
  main { max-width: 30rem; margin: 0 auto; padding: 1rem; }
  section { background: #fff; border-radius: 12px; padding: 1rem; margin-bottom: 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
  input, select, button { font: inherit; width: 100%; padding: .75rem; border-radius: 8px; border: 1px solid #c9ced6; }
  button { background: #0b57d0; color: #fff; border: 0; font-weight: 700; margin-top: .75rem; cursor: pointer; }
  button.secondary { background: #e7eaee; color: #1f2328; }
  header button { width: auto; margin: 0; padding: .35rem .8rem; background: #3d444d; }
  #result { border-radius: 14px; padding: 1.5rem 1rem; text-align: center; color: #fff; margin-bottom: 1rem; }
  #result .verdict { font-size: 2.3rem; font-weight: 800; letter-spacing: .02em; }
  #result .who { font-size: 1.5rem; margin-top: .4rem; }
  #result .when { margin-top: .3rem; opacity: .9; }
  .ADMITTED { background: #137333; }
  .ALREADY_ADMITTED { background: #b06000; }
  .VOID, .WRONG_EVENT, .INVALID_CODE, .ERROR { background: #b3261e; }
  #counts { display: grid; grid-template-columns: repeat(3, 1fr); text-align: center; gap: .5rem; }
  #counts b { display: block; font-size: 1.6rem; }
  video { width: 100%; border-radius: 10px; background: #000; }
  .muted { color: #57606a; font-size: .9rem; }
  .error { color: #b3261e; font-weight: 600; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header><strong>Boxoffice · Door</strong><button id="signout" hidden>Sign out</button></header>
<main>
  <section id="signin">
    <form id="signin-form">
      <label for="email">E-mail</label><input id="email" type="email" autocomplete="username" required>
      <label for="password">Password</label><input id="password" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
  </section>
  <div id="door" hidden>
    <section>
      <label for="event">Event</label>
      <select id="event"></select>
      <div id="counts" aria-live="polite"></div>
    </section>
    <div id="result" hidden aria-live="assertive" data-testid="scan-result">
      <div class="verdict"></div><div class="who"></div><div class="when"></div>
    </div>
    <section>
      <div id="camera" hidden>
        <video id="video" playsinline muted></video>
        <button id="camera-stop" class="secondary" type="button">Stop camera</button>
      </div>
      <button id="camera-start" type="button" hidden>Scan with the camera</button>
      <form id="code-form">
        <label for="code">Or type the code</label>
        <input id="code" autocomplete="off" autocapitalize="off" spellcheck="false">
        <button type="submit">Check</button>
      </form>
    </section>
  </div>
</main>
<script src="/checkin/app.js"></script>
</body>
</html>`;

/** The page's behaviour; plain browser JavaScript, no build step. */
const script = `'use strict';
const KEY = 'boxoffice.checkin.token';
const $ = (id) => document.getElementById(id);
const LABELS = { ADMITTED: 'Admitted', ALREADY_ADMITTED: 'Already admitted', VOID: 'Void ticket',
  WRONG_EVENT: 'Wrong event', INVALID_CODE: 'Invalid code', ERROR: 'Error' };
let token = sessionStorage.getItem(KEY);

async function api(method, path, body) {
  const res = await fetch('/api' + path, {
    method,
    headers: Object.assign({ accept: 'application/json' }, body ? { 'content-type': 'application/json' } : {},
      token ? { authorization: 'Bearer ' + token } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && token) { signOut(); }
  if (!res.ok) throw new Error((data.error && data.error.message) || ('HTTP ' + res.status));
  return data;
}

function signOut() {
  token = null;
  sessionStorage.removeItem(KEY);
  $('door').hidden = true; $('signout').hidden = true; $('signin').hidden = false;
}

function show(kind, who, when) {
  const box = $('result');
  box.className = kind; box.hidden = false;
  box.querySelector('.verdict').textContent = LABELS[kind] || kind;
  box.querySelector('.who').textContent = who || '';
  box.querySelector('.when').textContent = when || '';
}

async function refreshCounts() {
  const id = $('event').value;
  if (!id) return;
  const c = await api('GET', '/checkin/events/' + id + '/counts');
  $('counts').innerHTML = '';
  for (const [label, n] of [['Sold', c.sold], ['Admitted', c.admitted], ['To come', c.toCome]]) {
    const cell = document.createElement('div');
    const b = document.createElement('b'); b.textContent = String(n);
    cell.append(b, label); $('counts').append(cell);
  }
}

async function enterDoor() {
  const events = await api('GET', '/checkin/events');
  $('signin').hidden = true; $('door').hidden = false; $('signout').hidden = false;
  const select = $('event');
  select.innerHTML = '';
  for (const e of events.items) {
    const option = document.createElement('option');
    option.value = e.id; option.textContent = e.title + ' · ' + e.startsAtLocal;
    select.append(option);
  }
  if (!events.items.length) show('ERROR', 'No events to check in', '');
  await refreshCounts();
}

let busy = false;
async function check(code) {
  const id = $('event').value;
  if (!code || !id || busy) return;
  busy = true;
  try {
    const r = await api('POST', '/checkin/events/' + id + '/scan', { code });
    const when = r.checkedInAt ? (r.result === 'ADMITTED' ? 'Now' : 'First scan ' + new Date(r.checkedInAt).toLocaleTimeString()) : '';
    show(r.result, r.attendeeName || (r.ticketId ? 'Ticket ' + r.ticketId.slice(0, 8) : ''), when);
    await refreshCounts();
  } catch (error) {
    show('ERROR', error.message, '');
  } finally {
    busy = false;
  }
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('signin-error').textContent = '';
  try {
    const r = await api('POST', '/auth/login', { email: $('email').value, password: $('password').value });
    token = r.accessToken;
    sessionStorage.setItem(KEY, token);
    $('password').value = '';
    await enterDoor();
  } catch (error) {
    token = null;
    sessionStorage.removeItem(KEY);
    $('signin-error').textContent = error.message;
  }
});
$('signout').addEventListener('click', signOut);
$('event').addEventListener('change', () => { $('result').hidden = true; refreshCounts().catch(() => {}); });
$('code-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const code = $('code').value.trim();
  await check(code);
  $('code').value = ''; $('code').focus();
});

let stream = null;
let lastCode = '';
if ('BarcodeDetector' in window && navigator.mediaDevices) {
  $('camera-start').hidden = false;
  $('camera-start').addEventListener('click', async () => {
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    const video = $('video');
    video.srcObject = stream; await video.play();
    $('camera').hidden = false; $('camera-start').hidden = true;
    const tick = async () => {
      if (!stream) return;
      try {
        const found = await detector.detect(video);
        const code = found[0] && found[0].rawValue;
        // the same code in front of the camera is one scan until another one shows up
        if (code && code !== lastCode) { lastCode = code; await check(code); }
      } catch (_) {}
      setTimeout(tick, 250);
    };
    tick();
  });
  $('camera-stop').addEventListener('click', () => {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null; lastCode = '';
    $('camera').hidden = true; $('camera-start').hidden = false;
  });
}

if (token) enterDoor().catch(() => signOut());
`;

export function checkinPageRoutes() {
  const app = new Hono();
  app.get('/', (c) => c.html(page()));
  app.get('/app.js', (c) =>
    c.body(script, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }),
  );
  return app;
}
