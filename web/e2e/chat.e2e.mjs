// Browser test: two people chat through the real UI in two Chromium contexts.
//
//   NATTER_BIN=/path/to/natter npm run e2e     # starts that server on a free port with a fresh data dir
//   E2E_BASE_URL=http://127.0.0.1:4173 npm run e2e   # uses a server that is already running
//
// Uses playwright-core with the system Chromium (/usr/bin/chromium); never downloads a browser.
// Prints "N passed, M failed" last and exits non-zero on any failure.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import zlib from "node:zlib";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, "screenshots");
const FAILURES = path.join(HERE, "failures"); // gitignored
const T = 15_000; // per wait
const TOTAL_BUDGET_MS = Number(process.env.E2E_BUDGET_MS || 420_000); // with the 10,000-message step (~30 s of seeding)
// The README's screenshots are rewritten only on request: UPDATE_SCREENSHOTS=1 npm run e2e
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1";
// The attachment limit of the server under test (lowered for a spawned one; 25 MiB is the default).
const MAX_UPLOAD = Number(process.env.NATTER_MAX_UPLOAD || (process.env.E2E_BASE_URL ? 25 * 1024 * 1024 : 2 * 1024 * 1024));

if (!fs.existsSync(CHROMIUM)) {
  console.log("\n==============================================================");
  console.log(`SKIPPED: browser tests need /usr/bin/chromium (apt-get install chromium)`);
  console.log("==============================================================\n");
  process.exit(0);
}
const { chromium } = await import("playwright-core");

// ---------- server ----------
let server = null;
let serverLog = "";
let dataDir = null;
let baseURL = process.env.E2E_BASE_URL?.replace(/\/$/, "");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
async function waitHealthy(url, ms) {
  const until = Date.now() + ms;
  let last = "";
  while (Date.now() < until) {
    if (server && server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}\n${serverLog.slice(-3000)}`);
    try {
      const r = await fetch(url + "/healthz");
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) { last = String(e.cause?.code || e.message); }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server at ${url} not healthy after ${ms} ms (${last})\n${serverLog.slice(-3000)}`);
}
function stopServer() {
  if (server && server.exitCode === null) { try { server.kill("SIGTERM"); } catch { /* gone */ } }
  if (dataDir) { try { fs.rmSync(dataDir, { recursive: true, force: true }); } catch { /* ignore */ } }
}
/** SIGTERM, and SIGKILL if the server has not exited within 5 s. */
async function stopServerAndWait() {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    const t = setTimeout(() => { try { server.kill("SIGKILL"); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(t);
  }
  stopServer();
}

if (!baseURL) {
  const bin = process.env.NATTER_BIN;
  if (!bin) {
    console.error("FAILED: set NATTER_BIN to the natter binary (e.g. NATTER_BIN=../target/debug/natter npm run e2e), or E2E_BASE_URL to a running server.");
    console.log("0 passed, 1 failed");
    process.exit(2);
  }
  if (!fs.existsSync(bin)) {
    console.error(`FAILED: NATTER_BIN=${bin} does not exist.`);
    console.log("0 passed, 1 failed");
    process.exit(2);
  }
  const port = await freePort();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "natter-e2e-"));
  baseURL = `http://127.0.0.1:${port}`;
  // A small attachment limit, so the too-large upload step sends 3 MiB, not 26.
  process.env.NATTER_MAX_UPLOAD ??= String(MAX_UPLOAD);
  server = spawn(bin, [], {
    // fsync per commit is not what these tests are about; `normal` makes seeding 10,000 messages quick.
    env: { NATTER_SQLITE_SYNC: "normal", NATTER_SEND_RATE: "0", NATTER_SIGNUP_PER_HOUR: "10000", NATTER_SIGNIN_PER_MINUTE: "10000", ...process.env, NATTER_ADDR: `127.0.0.1:${port}`, NATTER_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => { serverLog += d; });
  server.stderr.on("data", (d) => { serverLog += d; });
  process.on("exit", stopServer);
  try { await waitHealthy(baseURL, 30_000); } catch (e) {
    console.error("FAILED: " + e.message);
    stopServer();
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
} else {
  try { await waitHealthy(baseURL, 15_000); } catch (e) {
    console.error(`FAILED: E2E_BASE_URL=${baseURL}: ${e.message}`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}
console.log(`e2e against ${baseURL}${server ? ` (spawned ${process.env.NATTER_BIN})` : ""}`);
{
  const html = await (await fetch(baseURL + "/")).text().catch(() => "");
  if (!html.includes('id="root"')) {
    console.error(`FAILED: ${baseURL}/ does not serve the web UI${server ? " (was the binary built with NATTER_SKIP_WEB=1?)" : ""}; first bytes: ${html.slice(0, 120)}`);
    console.log("0 passed, 1 failed");
    stopServer();
    process.exit(1);
  }
}

// ---------- a tiny PNG, made by hand ----------
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function makePng(size = 64) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // 8-bit RGB
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - size / 2, y - size / 2) / (size / 2);
      const o = 1 + x * 3;
      row[o] = Math.round(255 - 120 * d); row[o + 1] = Math.round(120 + 100 * (y / size)); row[o + 2] = Math.round(90 + 150 * (x / size));
    }
    rows.push(row);
  }
  const idat = zlib.deflateSync(Buffer.concat(rows));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

// ---------- runner ----------
const results = [];
let aborted = false;
async function step(name, fn) {
  if (aborted) { results.push({ name, ok: false, skipped: true }); console.log(`  - ${name} (not run: an earlier step failed)`); return; }
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ✔ ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    aborted = true;
    console.log(`  ✘ ${name}\n    ${String(e.stack || e).split("\n").slice(0, 6).join("\n    ")}`);
    try {
      fs.mkdirSync(FAILURES, { recursive: true });
      for (const [n, p] of [["a", pageA], ["b", pageB], ["c", pageC]]) if (p) await p.screenshot({ path: path.join(FAILURES, `${n}.png`) });
      console.log(`    screenshots of the failure: ${FAILURES}`);
    } catch { /* ignore */ }
  }
}
async function finish(code) {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  if (server && failed) console.log("---- server log (tail) ----\n" + serverLog.slice(-2500));
  await stopServerAndWait();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed ? 1 : 0));
}
const watchdog = setTimeout(() => {
  console.log(`  ✘ e2e took longer than ${TOTAL_BUDGET_MS} ms; giving up`);
  results.push({ name: "time budget", ok: false });
  void finish(1);
}, TOTAL_BUDGET_MS);
watchdog.unref();

if (UPDATE_SCREENSHOTS) fs.mkdirSync(SHOTS, { recursive: true });
async function shoot(page, name) {
  if (!page || !UPDATE_SCREENSHOTS) return;
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// ---------- browser ----------
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pageErrors = [];
async function newUserPage(locale = "en-US") {
  const context = await browser.newContext({ baseURL, locale, viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  if (process.env.E2E_DEBUG) page.on("console", (m) => console.log(`    [${locale}] ${m.text()}`));
  return { context, page };
}

const run = Math.random().toString(36).slice(2, 7);
const A = { username: `alice_${run}`, password: "correct horse 1", displayName: "Alice" };
const B = { username: `bob_${run}`, password: "battery staple 2", displayName: "Bob" };
const C = { username: `minji_${run}`, password: "hangul 한글 3", displayName: "민지" };

let ctxA, pageA, ctxB, pageB, ctxC, pageC;
let directId = null;

const item = (page, username) => page.locator(`[data-testid=conversation-item][data-peer-username="${username}"]`);
const lobbyItem = (page) => page.locator(`[data-testid=conversation-item][data-conversation-id="lobby"]`);
const msgByText = (page, text) => page.locator(`[data-testid=message]`, { has: page.locator(`[data-testid=message-text]`, { hasText: text }) });
async function messagesOf(page) {
  return page.$$eval("[data-testid=message]", (els) => els.map((e) => ({
    seq: e.getAttribute("data-seq"), status: e.getAttribute("data-status"), mine: e.getAttribute("data-mine"), clientId: e.getAttribute("data-client-id"),
    text: e.querySelector("[data-testid=message-text]")?.textContent ?? "",
  })));
}
async function send(page, text) {
  const box = page.getByTestId("composer");
  await box.fill(text);
  await box.press("Enter");
}
async function signUp(page, u) {
  await page.goto("/");
  await page.getByTestId("auth-form").waitFor();
  if ((await page.getByTestId("auth-form").getAttribute("data-mode")) !== "signup") await page.getByTestId("auth-toggle").click();
  await page.locator("input[name=username]").fill(u.username);
  await page.locator("input[name=displayName]").fill(u.displayName);
  await page.locator("input[name=password]").fill(u.password);
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("conversation-list").waitFor();
  await lobbyItem(page).waitFor();
}

console.log("natter web e2e");
try {
  ({ context: ctxA, page: pageA } = await newUserPage());
  ({ context: ctxB, page: pageB } = await newUserPage());

  await step("sign-in screen shows errors inline from the error code", async () => {
    await pageA.goto("/");
    await pageA.getByTestId("auth-form").waitFor();
    await pageA.locator("input[name=username]").fill(`nobody_${run}`);
    await pageA.locator("input[name=password]").fill("wrong password");
    await pageA.getByTestId("auth-submit").click();
    const err = pageA.getByTestId("auth-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-code"), "invalid_credentials");
    assert.match(await err.textContent(), /wrong username or password/i);
    await shoot(pageA, "sign-in");
  });

  await step("two users sign up (and a taken username is refused inline)", async () => {
    await signUp(pageA, A);
    await signUp(pageB, B);
    // A third context tries A's name again.
    ({ context: ctxC, page: pageC } = await newUserPage("ko-KR"));
    await pageC.goto("/");
    await pageC.getByTestId("auth-form").waitFor();
    assert.equal(await pageC.locator("html").getAttribute("lang"), "ko");
    await pageC.getByTestId("auth-toggle").click();
    await pageC.locator("input[name=username]").fill(A.username);
    await pageC.locator("input[name=password]").fill(A.password);
    await pageC.getByTestId("auth-submit").click();
    const err = pageC.getByTestId("auth-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-code"), "username_taken");
    assert.match(await err.textContent(), /이미 사용 중인 아이디/);
  });

  await step("A finds B in the directory and starts a chat (empty state shown)", async () => {
    await pageA.getByTestId("tab-people").click();
    await pageA.getByTestId("directory-search").fill(B.username);
    const result = pageA.locator(`[data-testid=directory-result][data-username="${B.username}"]`);
    await result.waitFor();
    await waitCount(pageA.locator("[data-testid=directory-result]"), 1);
    await shoot(pageA, "directory");
    await result.getByTestId("start-chat").click();
    const view = pageA.getByTestId("chat-view");
    await view.waitFor();
    directId = await view.getAttribute("data-conversation-id");
    assert.ok(directId && directId !== "lobby");
    await pageA.getByTestId("empty-chat").waitFor();
    assert.match(await pageA.getByTestId("empty-chat").textContent(), /No messages yet\./);
    // Starting again opens the same conversation.
    await pageA.getByTestId("tab-people").click();
    await pageA.getByTestId("directory-search").fill(B.username);
    await result.getByTestId("start-chat").click();
    await pageA.getByTestId("chat-view").waitFor();
    assert.equal(await pageA.getByTestId("chat-view").getAttribute("data-conversation-id"), directId);
    await item(pageA, B.username).waitFor();
    assert.equal(await item(pageA, B.username).count(), 1);
  });

  await step("B sees the new conversation live; they chat both ways in real time", async () => {
    await item(pageB, A.username).waitFor();
    await send(pageA, "Hello Bob!");
    await pageA.locator(`[data-testid=message][data-status=sent]`, { hasText: "Hello Bob!" }).waitFor();
    // B's list shows the preview and an unread badge before opening.
    await item(pageB, A.username).getByTestId("unread-badge").waitFor();
    assert.match(await item(pageB, A.username).getByTestId("conversation-preview").textContent(), /Hello Bob!/);
    await item(pageB, A.username).click();
    await msgByText(pageB, "Hello Bob!").waitFor();
    assert.equal(await msgByText(pageB, "Hello Bob!").locator("[data-testid=message-sender]").textContent(), "Alice");
    await item(pageB, A.username).getByTestId("unread-badge").waitFor({ state: "detached" });
    await send(pageB, "Hi Alice, how are you?");
    await msgByText(pageA, "Hi Alice, how are you?").waitFor();
    // Own messages are labelled "Me".
    assert.equal(await msgByText(pageB, "Hi Alice, how are you?").locator("[data-testid=message-sender]").textContent(), "Me");
    // Shift+Enter is a new line, Enter sends.
    const box = pageA.getByTestId("composer");
    await box.fill("");
    await box.type("Great, thanks!");
    await box.press("Shift+Enter");
    await box.type("Are we still on for lunch?");
    await box.press("Enter");
    await msgByText(pageB, "still on for lunch").waitFor();
    assert.equal(await msgByText(pageB, "still on for lunch").getByTestId("message-text").textContent(), "Great, thanks!\nAre we still on for lunch?");
  });

  await step("typing indicator and read state", async () => {
    // B has the chat open, so A's last message is read by B.
    const last = msgByText(pageA, "still on for lunch");
    await last.getByTestId("read-receipt").waitFor();
    assert.equal(await pageA.getByTestId("read-receipt").count(), 1);
    await pageB.getByTestId("composer").type("Yes, 12:30 at", { delay: 20 });
    await pageA.getByTestId("typing-indicator").waitFor();
    assert.match(await pageA.getByTestId("typing-indicator").textContent(), /Bob is typing/);
    await shoot(pageA, "chat");
    await pageA.getByTestId("typing-indicator").waitFor({ state: "detached", timeout: 8000 });
    await pageB.getByTestId("composer").fill("");
  });

  await step("text is shown as text, never as HTML", async () => {
    const evil = `<img src=x onerror="window.__pwned=1"><b>bold</b>`;
    await send(pageA, evil);
    const m = msgByText(pageB, "<b>bold</b>");
    await m.waitFor();
    assert.equal(await m.getByTestId("message-text").textContent(), evil);
    assert.equal(await m.locator("b, img").count(), 0);
    assert.equal(await pageB.evaluate(() => window.__pwned), undefined);
  });

  await step("the list reorders live and counts unread messages", async () => {
    await lobbyItem(pageB).click();
    await pageB.getByTestId("chat-view").waitFor();
    assert.equal(await pageB.getByTestId("chat-view").getAttribute("data-conversation-id"), "lobby");
    await send(pageA, "one");
    await send(pageA, "two");
    await item(pageB, A.username).getByTestId("unread-badge").filter({ hasText: "2" }).waitFor();
    const ids = await pageB.$$eval("[data-testid=conversation-item]", (els) => els.map((e) => e.getAttribute("data-conversation-id")));
    assert.equal(ids[0], "lobby");
    assert.equal(ids[1], directId);
    // A lobby message from C shows up in both lists.
    await signUpKorean();
    await lobbyItem(pageA).getByTestId("conversation-preview").filter({ hasText: `안녕하세요, 여러분! ${run}` }).waitFor();
    await msgByText(pageB, `안녕하세요, 여러분! ${run}`).waitFor();
  });

  async function signUpKorean() {
    await pageC.getByTestId("auth-toggle").click(); // back to sign-in
    await pageC.getByTestId("auth-toggle").click(); // and to sign-up
    await pageC.locator("input[name=username]").fill(C.username);
    await pageC.locator("input[name=displayName]").fill(C.displayName);
    await pageC.locator("input[name=password]").fill(C.password);
    await pageC.getByTestId("auth-submit").click();
    await pageC.getByTestId("conversation-list").waitFor();
    assert.match(await pageC.getByTestId("tab-chats").textContent(), /채팅/);
    await pageC.getByTestId("tab-people").click();
    await pageC.getByTestId("directory-search").fill(A.username);
    await pageC.locator(`[data-testid=directory-result][data-username="${A.username}"]`).getByTestId("start-chat").click();
    await pageC.getByTestId("empty-chat").waitFor();
    assert.match(await pageC.getByTestId("empty-chat").textContent(), /채팅 기록이 없습니다\./);
    await lobbyItem(pageC).click();
    await pageC.getByTestId("chat-view").locator("[data-testid=composer]").waitFor();
    await send(pageC, `안녕하세요, 여러분! ${run}`);
  }

  await step("A uploads a photo with a preview; B sees it in the list", async () => {
    await pageA.getByTestId("open-profile").click();
    await pageA.getByTestId("profile-panel").waitFor();
    await pageA.getByTestId("avatar-input").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: makePng(96) });
    await pageA.getByTestId("avatar-preview").waitFor();
    await pageA.getByTestId("avatar-upload").click();
    await pageA.getByTestId("avatar-remove").waitFor();
    await pageA.getByTestId("open-profile").locator("[data-testid=avatar-img]").waitFor();
    await pageA.locator("input[name=statusMessage]").fill("Down the rabbit hole");
    await pageA.locator("input[name=displayName]").fill("Alice Liddell");
    await pageA.getByTestId("profile-save").click();
    await pageA.getByTestId("profile-notice").waitFor();
    await shoot(pageA, "profile");
    const img = item(pageB, A.username).locator("[data-testid=avatar-img]");
    await img.waitFor();
    const src = await img.getAttribute("src");
    assert.ok(src && src.length > 0);
    assert.ok(await img.evaluate((el) => el.complete && el.naturalWidth > 0), "avatar image loads");
    await item(pageB, A.username).getByTestId("conversation-name").filter({ hasText: "Alice Liddell" }).waitFor();
    // Removing and re-uploading works too.
    await pageA.getByTestId("avatar-remove").click();
    await item(pageB, A.username).locator("[data-testid=avatar-initials]").waitFor();
    await pageA.getByTestId("avatar-input").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: makePng(64) });
    await pageA.getByTestId("avatar-upload").click();
    await item(pageB, A.username).locator("[data-testid=avatar-img]").waitFor();
  });

  await step("after a reload the history is there; older pages load on scroll up", async () => {
    // 70 more messages through the HTTP API, so the history needs two pages.
    // (with the session cookie only: the page holds no token)
    const n = await seedInPage(pageA, directId, 70, "bulk");
    assert.equal(n, 70);
    await pageB.reload();
    await item(pageB, A.username).click();
    await pageB.getByTestId("unread-divider").waitFor(); // B left off before "one"
    const list = pageB.getByTestId("message-list");
    for (let i = 0; i < 30 && !(await pageB.locator(`[data-testid=message][data-seq="1"]`).count()); i++) {
      await list.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); });
      await pageB.waitForTimeout(250);
    }
    await pageB.locator(`[data-testid=message][data-seq="1"]`).waitFor();
    assert.ok(await pageB.getByTestId("day-separator").count() >= 1);
    const all = await collectMessages(pageB);
    const seqs = all.map((m) => Number(m.seq));
    assert.equal(new Set(seqs).size, seqs.length, "no duplicates");
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "seq 1..n in order");
    assert.ok(seqs.length >= 76, `all messages present (${seqs.length})`);
  });

  await step("B goes offline while A sends; back online B sees every message exactly once", async () => {
    await item(pageA, B.username).click();
    await pageA.getByTestId("chat-view").waitFor();
    await list_bottom(pageB);
    await ctxB.setOffline(true);
    const banner = pageB.getByTestId("connection-banner");
    try { await banner.waitFor({ timeout: 3000 }); } catch {
      // Some Chromium builds keep open sockets when emulating offline: tell the page, as the OS would.
      console.log("    (offline emulation fired no 'offline' event; dispatching one)");
      await pageB.evaluate(() => window.dispatchEvent(new Event("offline")));
      await banner.waitFor();
    }
    const texts = Array.from({ length: 6 }, (_, i) => `while you were away ${i + 1}`);
    for (const t of texts) {
      await send(pageA, t);
      await pageA.locator(`[data-testid=message][data-status=sent]`, { hasText: t }).waitFor();
    }
    await send(pageC, `lobby news while Bob is away ${run}`);
    await pageC.locator(`[data-testid=message][data-status=sent]`, { hasText: `lobby news while Bob is away ${run}` }).waitFor();
    // B writes while offline: the message waits in the outbox, shown as pending (not failed).
    await send(pageB, `written offline ${run}`);
    const mine = pageB.locator("[data-testid=message][data-mine=true]", { hasText: `written offline ${run}` });
    await mine.and(pageB.locator("[data-status=pending]")).waitFor();
    const clientId = await mine.getAttribute("data-client-id");
    await pageB.waitForTimeout(500);
    assert.equal(await mine.getAttribute("data-status"), "pending", "still pending while offline, never failed");
    await shoot(pageB, "offline");
    await pageB.waitForTimeout(300);
    for (const t of texts) assert.equal(await msgByText(pageB, t).count(), 0, "offline B got nothing live");
    await ctxB.setOffline(false);
    await pageB.evaluate(() => window.dispatchEvent(new Event("online")));
    await banner.waitFor({ state: "detached" });
    await msgByText(pageB, texts[texts.length - 1]).waitFor();
    // Back online, the outbox sends it by itself, with the same clientId.
    await mine.and(pageB.locator("[data-status=sent]")).waitFor();
    assert.equal(await mine.getAttribute("data-client-id"), clientId);
    const all = await collectMessages(pageB);
    for (const t of texts) assert.equal(all.filter((m) => m.text === t).length, 1, `"${t}" exactly once`);
    const seqs = all.filter((m) => m.seq !== "").map((m) => Number(m.seq));
    assert.equal(all.length, seqs.length, "every message is stored");
    assert.equal(new Set(seqs).size, seqs.length, "no duplicate seqs");
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "ordered by seq");
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "no gaps");
    await msgByText(pageA, `written offline ${run}`).waitFor();
    assert.equal(await msgByText(pageA, `written offline ${run}`).count(), 1);
    assert.equal(await msgByText(pageB, `written offline ${run}`).count(), 1);
    // The list caught up too: the lobby preview shows C's message.
    await lobbyItem(pageB).getByTestId("conversation-preview").filter({ hasText: `lobby news while Bob is away ${run}` }).waitFor();
    // And sending still works after the reconnect.
    await send(pageB, "I'm back");
    await msgByText(pageA, "I'm back").waitFor();
    await banner.waitFor({ state: "detached" });
  });


  await step("an offline send survives a reload and is delivered once the server is reachable", async () => {
    await item(pageB, A.username).click();
    await pageB.getByTestId("chat-view").waitFor();
    await ctxB.setOffline(true);
    await pageB.evaluate(() => window.dispatchEvent(new Event("offline")));
    await pageB.getByTestId("connection-banner").waitFor();
    const text = `kept across a reload ${run}`;
    await send(pageB, text);
    const mine = pageB.locator("[data-testid=message][data-mine=true]", { hasText: text });
    await mine.and(pageB.locator("[data-status=pending]")).waitFor();
    const clientId = await mine.getAttribute("data-client-id");
    await pageB.waitForTimeout(300); // the outbox is written to IndexedDB
    // The network returns but the server stays unreachable for this page: reload then.
    const block = (route) => route.abort();
    await pageB.route("**/api/socket.io/**", block);
    await ctxB.setOffline(false);
    await pageB.reload();
    await pageB.getByTestId("chat-view").waitFor();
    assert.equal(new URL(pageB.url()).pathname, `/c/${directId}`);
    await mine.and(pageB.locator("[data-status=pending]")).waitFor();
    assert.equal(await mine.getAttribute("data-client-id"), clientId, "same clientId after the reload");
    assert.equal(await msgByText(pageA, text).count(), 0, "not delivered while the socket is blocked");
    await pageB.unroute("**/api/socket.io/**", block);
    await mine.and(pageB.locator("[data-status=sent]")).waitFor({ timeout: 20_000 });
    await msgByText(pageA, text).waitFor();
    assert.equal(await msgByText(pageA, text).count(), 1, "stored once");
    await pageB.getByTestId("connection-banner").waitFor({ state: "detached" });
  });

  await step("every conversation has a URL: /c/<id> survives a reload and Back returns to the list", async () => {
    await pageA.goto("/");
    await pageA.getByTestId("conversation-list").waitFor();
    await item(pageA, B.username).click();
    await pageA.getByTestId("chat-view").waitFor();
    assert.equal(new URL(pageA.url()).pathname, `/c/${directId}`);
    await pageA.reload();
    await pageA.getByTestId("chat-view").waitFor();
    assert.equal(await pageA.getByTestId("chat-view").getAttribute("data-conversation-id"), directId);
    await pageA.goBack();
    await pageA.waitForURL((u) => new URL(u).pathname === "/");
    await pageA.getByTestId("chat-view").waitFor({ state: "detached" });
    await pageA.getByTestId("conversation-list").waitFor();
    await pageA.goForward();
    await pageA.getByTestId("chat-view").waitFor();
    // People and profiles have addresses too.
    await pageA.getByTestId("tab-people").click();
    await pageA.waitForURL((u) => new URL(u).pathname === "/people");
    await pageA.goto(`/c/${directId}`);
    await pageA.getByTestId("chat-header").click();
    await pageA.getByTestId("user-profile").waitFor();
    assert.match(new URL(pageA.url()).pathname, /^\/u\//);
    assert.match(await pageA.getByTestId("user-profile-name").textContent(), /Bob/);
    await pageA.goBack();
    await pageA.getByTestId("chat-view").waitFor();
  });

  await step("a draft survives switching chats, Esc and a reload", async () => {
    const draft = `half-written thought ${run}`;
    await pageA.getByTestId("composer").fill(draft);
    await pageA.getByTestId("composer").press("Escape");
    await pageA.getByTestId("chat-view").waitFor({ state: "detached" });
    await lobbyItem(pageA).click();
    await pageA.getByTestId("chat-view").and(pageA.locator("[data-conversation-id=lobby]")).waitFor();
    assert.equal(await pageA.getByTestId("composer").inputValue(), "");
    await item(pageA, B.username).click();
    await pageA.locator(`[data-testid=chat-view][data-conversation-id="${directId}"]`).waitFor();
    assert.equal(await pageA.getByTestId("composer").inputValue(), draft);
    await pageA.waitForTimeout(300);
    await pageA.reload();
    await pageA.getByTestId("chat-view").waitFor();
    assert.equal(await pageA.getByTestId("composer").inputValue(), draft);
    await pageA.getByTestId("composer").fill("");
  });

  await step("opening a chat with 60 unread shows the divider at the first unread; links are anchors", async () => {
    await lobbyItem(pageB).click();
    await pageB.locator("[data-testid=chat-view][data-conversation-id=lobby]").waitFor();
    const before = await pageA.evaluate(async (id) => (await (await fetch(`/api/conversations/${id}/messages?limit=1`)).json()).messages[0].seq, directId);
    const n = await seedInPage(pageA, directId, 57, "unread", 1);
    assert.equal(n, 57);
    await send(pageA, "the plan is at https://example.com/plan?x=1 and javascript:alert(1) stays text");
    await send(pageA, "see you at www.example.org");
    await send(pageA, "last of the sixty");
    await item(pageB, A.username).getByTestId("unread-badge").filter({ hasText: "60" }).waitFor();
    await item(pageB, A.username).click();
    const divider = pageB.getByTestId("unread-divider");
    await divider.waitFor();
    assert.equal(Number(await divider.getAttribute("data-seq")), before + 1, "the divider sits at the first unread");
    // The virtualized list may re-render once as its rows are measured: the divider
    // must be on screen once it settles.
    await divider.waitFor({ state: "visible", timeout: T });
    await pageB.locator(`[data-testid=message][data-seq="${before + 1}"]`).waitFor();
    // Nothing below the fold was marked read yet.
    await pageB.waitForTimeout(400);
    const badge = item(pageB, A.username).getByTestId("unread-badge");
    assert.ok(await badge.count() === 1 && Number(await badge.textContent().then((x) => x.replace(/\D+.*$/, ""))) > 0, "unread left for what is not seen");
    const jump = pageB.getByTestId("jump-to-latest");
    await jump.waitFor();
    assert.ok(Number(await jump.getAttribute("data-count")) > 0, "the jump button counts newer messages");
    assert.match(await jump.textContent(), new RegExp(`\\b${await jump.getAttribute("data-count")} new message`), "the count is in the button's text");
    // The button sits under the list, over no message.
    const jumpBox = await jump.boundingBox(), listBox = await pageB.getByTestId("message-list").boundingBox();
    assert.ok(jumpBox.y >= listBox.y + listBox.height - 1, `the jump button covers no text (button at ${jumpBox.y}, list ends at ${listBox.y + listBox.height})`);
    await shoot(pageB, "unread");
    // The read mark (on the server) moves only as far as what was shown, then further as B scrolls down.
    const newest = before + 60;
    const serverRead = () => pageB.evaluate(async (id) => (await (await fetch(`/api/conversations/${id}`)).json()).conversation.lastReadSeq, directId);
    const shownBottom = async () => pageB.getByTestId("message-list").evaluate((el) => {
      const bottom = el.getBoundingClientRect().bottom;
      let seq = 0;
      for (const m of el.querySelectorAll("[data-testid=message]")) if (m.getBoundingClientRect().top < bottom) seq = Math.max(seq, Number(m.getAttribute("data-seq")) || 0);
      return seq;
    });
    const read1 = await serverRead();
    assert.ok(read1 >= before && read1 < newest, `read up to ${read1} of ${newest} with the first unread on screen`);
    const bottomSeq = await shownBottom();
    assert.ok(read1 <= bottomSeq, `nothing below the screen is marked read (read ${read1}, last on screen ${bottomSeq}, first unread ${before + 1})`);
    await pageB.getByTestId("message-list").evaluate((el) => { el.scrollTop += el.clientHeight * 0.8; });
    await pageB.waitForFunction(async ({ id, was }) => (await (await fetch(`/api/conversations/${id}`)).json()).conversation.lastReadSeq > was, { id: directId, was: read1 }, { polling: 100 });
    const read2 = await serverRead();
    assert.ok(read2 < newest, `scrolling one screen down reads more, not everything (${read1} → ${read2} of ${newest})`);
    console.log(`    (read mark ${read1} → ${read2} → ${newest} as B scrolls)`);
    await jump.click();
    await msgByText(pageB, "last of the sixty").waitFor();
    await badge.waitFor({ state: "detached" });
    await pageB.waitForFunction(async ({ id, newest }) => (await (await fetch(`/api/conversations/${id}`)).json()).conversation.lastReadSeq === newest, { id: directId, newest }, { polling: 100 });
    const link = pageB.locator("[data-testid=message-link]", { hasText: "https://example.com/plan?x=1" });
    await link.waitFor();
    assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.equal(await link.getAttribute("href"), "https://example.com/plan?x=1");
    const links = await msgByText(pageB, "the plan is at").locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert.deepEqual(links, ["https://example.com/plan?x=1"], "javascript: is never a link");
    assert.equal(await msgByText(pageB, "see you at").locator("a").getAttribute("href"), "http://www.example.org");
    await shoot(pageB, "links");
  });

  await step("message search finds Korean inside a word and jumps to the message, highlighted", async () => {
    const marker = `채팅방에서 만나요 ${run}`;
    await seedInPage(pageA, directId, 1, marker, 1);
    await seedInPage(pageA, directId, 80, "filler after the search target", 1);
    const box = pageB.getByTestId("message-search");
    await box.fill("채팅방");
    const result = pageB.locator("[data-testid=search-group]", { has: pageB.locator("[data-testid=search-result]", { hasText: marker }) });
    await result.waitFor();
    assert.equal(await result.getAttribute("data-conversation-id"), directId);
    await result.getByTestId("search-result").filter({ hasText: marker }).first().click();
    await pageB.locator(`[data-testid=chat-view][data-conversation-id="${directId}"]`).waitFor();
    const hit = pageB.locator("[data-testid=message][data-focused=true]");
    await hit.waitFor({ state: "visible" });
    assert.ok((await hit.textContent()).includes(marker), "the highlighted message is the result");
    await shoot(pageB, "search");
    await box.fill("");
    await item(pageB, A.username).waitFor();
  });

  await step("photos and files in the chat: a photo's thumbnail appears live in the other browser and opens full size; drop, paste, file cards; too large, empty and too many are refused readably", async () => {
    await item(pageA, B.username).click();
    await pageA.locator(`[data-testid=chat-view][data-conversation-id="${directId}"]`).waitFor();
    await pageB.locator(`[data-testid=chat-view][data-conversation-id="${directId}"]`).waitFor();
    // B is back at the latest message (the search step left B further up).
    const latest = pageB.getByTestId("jump-to-latest");
    if (await latest.count()) await latest.click();
    await msgByText(pageB, "filler after the search target 80").waitFor();
    await pageB.evaluate(() => { window.__sameDocument = true; });
    // A attaches a photo with the button and sends it with a caption.
    const caption = `The sunset from the pier ${run}`;
    await pageA.getByTestId("attach-input").setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: makeSunset(640, 400) });
    await pageA.locator("[data-testid=pending-attachment][data-ready=true]").waitFor();
    await send(pageA, caption);
    await pageA.getByTestId("attachment-tray").waitFor({ state: "detached" });
    // B sees it without a reload: the preview, loaded from the thumbnail URL.
    const photo = msgByText(pageB, caption).getByTestId("attachment-image");
    await photo.waitFor();
    assert.equal(await pageB.evaluate(() => window.__sameDocument), true, "arrived live, not by a reload");
    const thumb = photo.locator("img");
    const thumbSrc = await thumb.getAttribute("src");
    const id = thumbSrc.match(/^\/api\/attachments\/([0-9a-f]+)\/thumb$/)?.[1];
    assert.ok(id, `the preview is the thumbnail URL (${thumbSrc})`);
    const thumbSize = await loadedSize(thumb);
    assert.ok(thumbSize.width > 0 && thumbSize.width <= 320 && thumbSize.height <= 320, `thumbnail ${JSON.stringify(thumbSize)}`);
    assert.equal(await photo.getAttribute("href"), `/api/attachments/${id}`);
    // Opening it shows the full picture, at its own size.
    const [full] = await Promise.all([pageB.waitForEvent("popup"), photo.click()]);
    await full.waitForLoadState();
    assert.equal(new URL(full.url()).pathname, `/api/attachments/${id}`);
    assert.deepEqual(await loadedSize(full.locator("img")), { width: 640, height: 400 }, "the full-size image");
    await full.close();
    await send(pageB, `What a sunset! Send me the notes too? ${run}`);

    // B drags a text file over the chat and drops it on the message list (anywhere in the
    // chat, not only on the composer): it goes out as a file card with its name and size.
    const notes = "meeting notes\n".repeat(100); // 1,400 bytes
    const dropped = await pageB.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], "notes.txt", { type: "text/plain" }));
      return dt;
    }, notes);
    const list = pageB.getByTestId("message-list");
    const hint = pageB.getByTestId("composer-form").getByText("Drop files to attach");
    await list.dispatchEvent("dragenter", { dataTransfer: dropped });
    await list.dispatchEvent("dragover", { dataTransfer: dropped });
    await hint.waitFor();
    // Onto a message inside the list: the list's dragleave must not hide the hint.
    await msgByText(pageB, caption).dispatchEvent("dragenter", { dataTransfer: dropped });
    await list.dispatchEvent("dragleave", { dataTransfer: dropped });
    await pageB.waitForTimeout(100);
    assert.equal(await hint.count(), 1, "still dragging over a child of the list");
    await msgByText(pageB, caption).dispatchEvent("drop", { dataTransfer: dropped });
    await hint.waitFor({ state: "detached" });
    await pageB.locator("[data-testid=pending-attachment][data-ready=true]").waitFor();
    await pageB.getByTestId("send-button").click();
    const card = pageA.locator("[data-testid=attachment-file]", { has: pageA.locator("[data-testid=attachment-name]", { hasText: "notes.txt" }) });
    await card.waitFor();
    assert.equal(await card.getByTestId("attachment-size").textContent(), "1.4 KB");
    assert.equal(await card.getAttribute("download"), "notes.txt");
    assert.equal(await pageA.evaluate(async (href) => (await fetch(href)).text(), await card.getAttribute("href")), notes);

    // A pastes a picture into the message box: B sees its preview load too.
    await pageA.getByTestId("composer").evaluate((el, bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "image.png", { type: "image/png" }));
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    }, [...makeSunset(200, 120)]);
    await pageA.locator("[data-testid=pending-attachment][data-ready=true]").waitFor();
    assert.equal(await pageA.getByTestId("composer").inputValue(), "", "the picture is not pasted as text");
    const pasteCaption = `pasted from the clipboard ${run}`;
    await send(pageA, pasteCaption);
    const pasted = msgByText(pageB, pasteCaption).locator("[data-testid=attachment-image] img");
    await pasted.waitFor();
    assert.deepEqual(await loadedSize(pasted), { width: 200, height: 120 }, "small pictures keep their size");

    // Too large and empty files: refused with readable errors, nothing sent.
    await pageB.getByTestId("attach-input").setInputFiles([
      { name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(MAX_UPLOAD + 1024 * 1024, 7) },
      { name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) },
    ]);
    const tooLarge = pageB.locator("[data-testid=pending-attachment]", { hasText: "huge.bin" }).getByTestId("attachment-error");
    await tooLarge.waitFor();
    assert.equal(await tooLarge.getAttribute("data-code"), "payload_too_large");
    // The server's limit (NATTER_MAX_UPLOAD), not a number built into the page.
    const mib = MAX_UPLOAD / (1024 * 1024);
    assert.match(await tooLarge.textContent(), new RegExp(`too large.*at most ${mib < 10 ? mib.toFixed(1) : Math.round(mib)} MB`, "i"));
    const empty = pageB.locator("[data-testid=pending-attachment]", { hasText: "empty.txt" }).getByTestId("attachment-error");
    await empty.waitFor();
    assert.equal(await empty.getAttribute("data-code"), "empty_file");
    assert.match(await empty.textContent(), /empty/i);
    assert.equal(await pageB.getByTestId("send-button").isDisabled(), true, "nothing to send");
    for (const name of ["huge.bin", "empty.txt"]) {
      await pageB.locator("[data-testid=pending-attachment]", { hasText: name }).getByRole("button").click();
    }
    await pageB.getByTestId("attachment-tray").waitFor({ state: "detached" });
    // Eleven files for one message: the eleventh is refused in words, not left out silently.
    await pageB.getByTestId("attach-input").setInputFiles(Array.from({ length: 11 }, (_, i) =>
      ({ name: `page-${i + 1}.txt`, mimeType: "text/plain", buffer: Buffer.from(`page ${i + 1}\n`) })));
    await waitCount(pageB.locator("[data-testid=pending-attachment][data-ready=true]"), 10);
    const extra = pageB.locator("[data-testid=pending-attachment]", { hasText: "page-11.txt" }).getByTestId("attachment-error");
    await extra.waitFor();
    assert.equal(await extra.getAttribute("data-code"), "too_many_attachments");
    assert.match(await extra.textContent(), /at most 10 files/);
    const pending = pageB.getByTestId("pending-attachment");
    while (await pending.count()) await pending.first().getByRole("button").click();

    // The search finds the photo's message; its result opens the chat at the photo.
    await pageB.getByTestId("message-search").fill("sunset");
    const group = pageB.locator(`[data-testid=search-group][data-conversation-id="${directId}"]`);
    await group.getByTestId("search-result").filter({ hasText: caption }).waitFor();
    await group.getByTestId("search-result").filter({ hasText: "What a sunset!" }).waitFor();
    await group.getByTestId("search-result").filter({ hasText: caption }).click();
    const focused = pageB.locator("[data-testid=message][data-focused=true]");
    await focused.getByTestId("attachment-image").waitFor();
    assert.ok((await focused.textContent()).includes(caption));
    await loadedSize(focused.locator("[data-testid=attachment-image] img"));
    await shoot(pageB, "photo-search");
    await pageB.getByTestId("message-search").fill("");
    await item(pageB, A.username).waitFor();
  });

  await step("mute is kept on the server; notifications only for unmuted chats while hidden; the title leaves muted out", async () => {
    await ctxB.grantPermissions(["notifications"], { origin: baseURL });
    await pageB.getByTestId("open-settings").click();
    await pageB.locator("[data-testid=notifications-state][data-state=granted]").waitFor();
    await pageB.getByTestId("open-settings").click();
    await item(pageB, A.username).click();
    const toggle = pageB.getByTestId("mute-toggle");
    await toggle.waitFor();
    if ((await toggle.getAttribute("aria-pressed")) !== "true") await toggle.click();
    await pageB.locator("[data-testid=mute-toggle][aria-pressed=true]").waitFor();
    await item(pageB, A.username).getByTestId("muted-icon").waitFor();
    const muted = await pageB.evaluate(async (id) => (await (await fetch(`/api/conversations/${id}`)).json()).conversation.muted, directId);
    assert.equal(muted, true, "stored on the server");
    // Record notifications and pretend the tab went to the background.
    await pageB.evaluate(() => {
      const Real = window.Notification;
      window.__notes = [];
      function Recording(title, options) { window.__notes.push({ title, body: options?.body }); return { close() {}, onclick: null }; }
      Object.defineProperty(Recording, "permission", { get: () => Real.permission });
      Recording.requestPermission = () => Real.requestPermission();
      window.Notification = Recording;
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    // The app sets the title a moment (300 ms) after the count changes.
    const titleCount = async () => Number((await pageB.title()).match(/^\((\d+)\)/)?.[1] ?? 0);
    await pageB.waitForTimeout(400);
    const before = await titleCount();
    await seedInPage(pageA, directId, 1, `muted ping ${run}`, 1);
    await item(pageB, A.username).getByTestId("conversation-preview").filter({ hasText: `muted ping ${run}` }).waitFor();
    await seedInPage(pageA, "lobby", 1, `lobby ping ${run}`, 1);
    await pageB.waitForFunction((text) => window.__notes.some((n) => n.body?.includes(text)), `lobby ping ${run}`);
    const notes = await pageB.evaluate(() => window.__notes);
    assert.ok(!notes.some((n) => n.body?.includes("muted ping")), `no notification for a muted chat: ${JSON.stringify(notes)}`);
    await pageB.waitForFunction((n) => document.title.startsWith(`(${n})`), before + 1);
    await pageB.waitForTimeout(400);
    assert.equal(await titleCount(), before + 1, "only the unmuted message counts in the title");
    await pageB.evaluate(() => {
      delete document.visibilityState;
      document.dispatchEvent(new Event("visibilitychange"));
    });
  });

  await step("the window never scrolls, only the lists inside it (desktop and phone)", async () => {
    for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await pageB.setViewportSize(size);
      await pageB.getByTestId("message-list").waitFor();
      const box = await pageB.getByTestId("message-list").boundingBox();
      await pageB.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      for (let i = 0; i < 12; i++) await pageB.mouse.wheel(0, 4000);
      await pageB.waitForTimeout(200);
      assert.deepEqual(await windowScroll(pageB), { y: 0, x: 0, doc: 0, body: 0 }, `window at 0 after wheeling down (${size.width} px)`);
      for (let i = 0; i < 6; i++) await pageB.mouse.wheel(0, -4000);
      await pageB.waitForTimeout(200);
      assert.deepEqual(await windowScroll(pageB), { y: 0, x: 0, doc: 0, body: 0 }, `window at 0 after wheeling up (${size.width} px)`);
      const h = await pageB.evaluate(() => document.scrollingElement.scrollHeight - window.innerHeight);
      assert.ok(h <= 0, `nothing below the window (${h} px)`);
    }
    await pageB.setViewportSize({ width: 1280, height: 800 });
    await list_bottom(pageB);
  });

  await step("phone width: list and chat one at a time", async () => {
    await pageB.setViewportSize({ width: 390, height: 844 });
    await pageB.getByTestId("chat-back").click();
    await pageB.getByTestId("conversation-list").waitFor();
    assert.equal(await pageB.getByTestId("chat-view").isVisible(), false);
    await shoot(pageB, "phone-list");
    await item(pageB, A.username).click();
    await pageB.getByTestId("chat-view").waitFor();
    assert.equal(await pageB.getByTestId("conversation-list").isVisible(), false);
    // The list has rendered its rows at this width (a blank list once made a blank screenshot).
    await pageB.getByTestId("message").last().waitFor({ state: "visible" });
    await shoot(pageB, "phone-chat");
    await pageB.setViewportSize({ width: 1280, height: 800 });
  });

  await step("Korean UI: switchable language, Korean strings", async () => {
    await lobbyItem(pageC).click();
    await pageC.getByTestId("chat-view").waitFor();
    await send(pageC, "반가워요!");
    await pageC.locator("[data-testid=message][data-status=sent]", { hasText: "반가워요" }).last().waitFor();
    await shoot(pageC, "korean");
    await pageC.getByTestId("lang-switch").selectOption("en");
    await pageC.getByTestId("tab-chats").filter({ hasText: "Chats" }).waitFor();
    assert.equal(await pageC.locator("html").getAttribute("lang"), "en");
    await pageC.getByTestId("lang-switch").selectOption("ko");
    await pageC.getByTestId("tab-chats").filter({ hasText: "채팅" }).waitFor();
  });


  await step("Korean UI: server error codes are shown in Korean, with the limit", async () => {
    await pageC.getByTestId("open-profile").click();
    await pageC.getByTestId("profile-panel").waitFor();
    // A 6 MB photo: the 5 MB limit in the text.
    await pageC.getByTestId("avatar-input").setInputFiles({ name: "big.png", mimeType: "image/png", buffer: Buffer.alloc(6 * 1024 * 1024, 1) });
    const err = pageC.getByTestId("avatar-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-code"), "payload_too_large");
    assert.match(await err.textContent(), /5MB/);
    assert.match(await err.textContent(), /파일이 너무 큽니다/);
    assert.equal(await pageC.getByTestId("avatar-preview").count(), 0, "no broken preview");
    // A wrong current password: the server's 403 as Korean text.
    await pageC.locator("input[name=currentPassword]").fill("not my password");
    await pageC.locator("input[name=newPassword]").fill("a brand new password");
    await pageC.getByTestId("password-save").click();
    const notice = pageC.getByTestId("password-notice");
    await notice.waitFor();
    assert.match(await notice.textContent(), /현재 비밀번호가 올바르지 않습니다/);
    assert.doesNotMatch(await notice.textContent(), /[A-Za-z]{4,}/, "no English leaks into the Korean UI");
  });

  await step("the People list shows live online state of someone B shares no chat with", async () => {
    // B and C share only the lobby: B's list hears of C through its presence subscription.
    await pageB.getByTestId("tab-people").click();
    await pageB.getByTestId("directory-search").fill(C.username);
    const c = (online) => pageB.locator(`[data-testid=directory-result][data-username="${C.username}"][data-online="${online}"]`);
    await c(true).waitFor();
    await pageC.evaluate(() => window.dispatchEvent(new Event("offline")));
    await c(false).waitFor();
    await pageC.evaluate(() => window.dispatchEvent(new Event("online")));
    await c(true).waitFor();
    await pageB.getByTestId("tab-chats").click();
  });

  await step("the session is the HttpOnly cookie: no token in storage, and it survives a reload", async () => {
    await pageA.reload();
    await pageA.getByTestId("conversation-list").waitFor();
    const storage = await pageA.evaluate(() => {
      const dump = (s) => Object.keys(s).map((k) => [k, s.getItem(k)]);
      return { local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie };
    });
    for (const [k, v] of [...storage.local, ...storage.session]) {
      assert.doesNotMatch(k, /token|session|auth/i, `no credential key in storage (${k})`);
      assert.ok(!v || v.length < 40 || k.startsWith("natter.draft."), `no credential-like value in storage (${k})`);
    }
    assert.doesNotMatch(storage.cookie, /natter_session/, "the session cookie is HttpOnly");
    assert.equal(await pageA.evaluate(async () => (await fetch("/api/me")).status), 200);
  });

  await step("A blocks B from B's profile: no composer in their chat, B's send refused, B's lobby messages collapsed", async () => {
    await pageA.goto(`/c/${directId}`);
    await pageA.getByTestId("chat-header").click();
    await pageA.getByTestId("user-profile").waitFor();
    const blockBtn = pageA.getByTestId("user-profile-block");
    assert.equal(await blockBtn.getAttribute("data-blocked"), "false");
    await blockBtn.click();
    await pageA.getByTestId("confirm-dialog").waitFor();
    await pageA.getByTestId("confirm-ok").click();
    await pageA.locator("[data-testid=user-profile-block][data-blocked=true]").waitFor();

    await pageA.goto(`/c/${directId}`);
    await pageA.getByTestId("blocked-notice").waitFor();
    assert.equal(await pageA.getByTestId("composer").count(), 0);

    await pageB.goto(`/c/${directId}`);
    await pageB.getByTestId("chat-view").waitFor();
    await send(pageB, `are you there ${run}?`);
    const refused = pageB.locator("[data-testid=message-error][data-code=blocked]");
    await refused.waitFor();
    assert.match(await refused.textContent(), /cannot message this person/);

    await pageA.goto("/c/lobby");
    await pageA.getByTestId("chat-view").waitFor();
    await pageB.goto("/c/lobby");
    await pageB.getByTestId("chat-view").waitFor();
    await send(pageB, `lobby words ${run}`);
    await pageB.locator(`[data-testid=message][data-status=sent]`, { hasText: `lobby words ${run}` }).waitFor();
    const collapsed = pageA.getByTestId("message-collapsed").last();
    await collapsed.waitFor();
    assert.match(await collapsed.textContent(), /blocked user/);
    assert.equal(await msgByText(pageA, `lobby words ${run}`).count(), 0);
    await collapsed.getByRole("button").click();
    await msgByText(pageA, `lobby words ${run}`).waitFor();

    await pageA.goto(`/c/${directId}`);
    await pageA.getByTestId("blocked-unblock").click();
    await pageA.getByTestId("composer").waitFor();
    assert.equal((await pageA.evaluate(async () => (await fetch("/api/me/blocks")).json())).users.length, 0);
  });

  // Seeded over HTTP by 32 concurrent senders (the e2e server runs with NATTER_SEND_RATE=0 and
  // NATTER_SQLITE_SYNC=normal); E2E_10K=0 leaves it out for a quick local run.
  if (process.env.E2E_10K !== "0") await step("10,000 messages: the DOM stays small, an incoming message renders without freezing the page, older pages keep the view still", async () => {
    const mk = async (name) => {
      const r = await fetch(baseURL + "/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: `${name}_${run}`, password: "long history 123", displayName: name }) });
      assert.equal(r.status, 201);
      return (await r.json());
    };
    const D = await mk("dora"), E = await mk("emil");
    const conv = await (await fetch(baseURL + "/api/conversations", { method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${D.token}` }, body: JSON.stringify({ userId: E.user.id }) })).json();
    const id = conv.conversation.id;
    const t0 = Date.now();
    const post = (token, msg, clientId) => fetch(baseURL + `/api/conversations/${id}/messages`, { method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify({ msg, clientId }) });
    let next = 1;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next <= 10_000) {
        const i = next++;
        const r = await post(D.token, `history line ${i}`, `h-${run}-${i}`);
        if (r.status !== 201) throw new Error(`seed ${i}: ${r.status} ${await r.text()}`);
      }
    }));
    console.log(`    (seeded 10,000 messages in ${Date.now() - t0} ms)`);
    const signIn = async (page, name) => {
      await page.goto("/");
      await page.locator("input[name=username]").fill(`${name}_${run}`);
      await page.locator("input[name=password]").fill("long history 123");
      await page.getByTestId("auth-submit").click();
      await page.getByTestId("conversation-list").waitFor();
      await page.locator(`[data-testid=conversation-item][data-conversation-id="${id}"]`).click();
    };
    const domNodes = (page) => page.evaluate(() => document.getElementsByTagName("*").length);

    // Emil has all 10,000 unread: the chat opens at the first one, with every message loaded.
    const { context, page } = await newUserPage();
    try {
      const t1 = Date.now();
      await signIn(page, "emil");
      const divider = page.getByTestId("unread-divider");
      await divider.waitFor({ state: "visible", timeout: 60_000 });
      assert.equal(await divider.getAttribute("data-seq"), "1");
      console.log(`    (opened at the first of 10,000 unread ${Date.now() - t1} ms after signing in; ${await domNodes(page)} DOM nodes)`);
      assert.ok(await domNodes(page) < 3000);
      await page.getByTestId("jump-to-latest").click();
      await msgByText(page, "history line 10000").waitFor();
      const nodes = await domNodes(page);
      console.log(`    (${nodes} DOM nodes with 10,000 messages loaded)`);
      assert.ok(nodes < 3000, `DOM has ${nodes} nodes`);

      // An incoming message: the renderer's own accounting (CDP Performance metrics) of the
      // scripting it took, and the longest task seen. Nothing of the harness runs in the page
      // meanwhile (no locator polling): one MutationObserver, armed before the send, notes
      // when the row is in the DOM, and the metrics are read once it has been quiet.
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      await page.evaluate(() => {
        window.__longest = 0;
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); }).observe({ type: "longtask" });
      });
      const metric = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
      const samples = [];
      for (let k = 0; k < 5; k++) {
        const text = `a fresh one ${k}`;
        await page.evaluate((text) => {
          const list = document.querySelector("[data-testid=message-list]");
          window.__shown = null;
          const seen = new MutationObserver(() => {
            if (!list.textContent.includes(text)) return;
            window.__shown = performance.now();
            seen.disconnect();
          });
          seen.observe(list, { childList: true, subtree: true, characterData: true });
        }, text);
        await page.waitForTimeout(300);
        const m0 = await metric();
        const sentAt = await page.evaluate(() => performance.now());
        await post(D.token, text, `fresh-${run}-${k}`);
        await page.waitForTimeout(400);
        const m1 = await metric();
        const shownAt = await page.evaluate(() => window.__shown);
        assert.ok(shownAt != null, `"${text}" reached the screen`);
        samples.push({ shown: Math.round(shownAt - sentAt), script: (m1.ScriptDuration - m0.ScriptDuration) * 1000, task: (m1.TaskDuration - m0.TaskDuration) * 1000 });
      }
      await msgByText(page, "a fresh one 4").waitFor();
      const longest = await page.evaluate(() => window.__longest);
      const scripts = samples.map((s) => s.script).sort((a, b) => a - b);
      console.log(`    (incoming messages with 10,000 loaded: ${samples.map((s) => `${Math.round(s.script)} ms scripting, ${Math.round(s.task)} ms main-thread work, in the DOM ${s.shown} ms after the send`).join("; ")}; median scripting ${scripts[2].toFixed(1)} ms; longest task ${Math.round(longest)} ms)`);
      // How fast is measured by e2e/profile-incoming.mjs on a quiet machine (web/README.md), not
      // asserted here: the same build took 6-10 ms (median) on a quiet host and 59 ms on a busy CI host.
      // What is asserted is what no host speed excuses: the page never froze.
      assert.ok(longest < 1000, `the page froze for ${longest} ms`);
      assert.ok(await domNodes(page) < 3000);
      // Halfway up the history the DOM is as small.
      await page.getByTestId("message-list").evaluate((el) => { el.scrollTop = el.scrollHeight / 2; });
      await page.waitForTimeout(300);
      const middle = await domNodes(page);
      assert.ok(middle < 3000, `DOM has ${middle} nodes halfway up`);
      await cdp.detach();
    } finally {
      await context.close();
    }

    // Dora (no unread) opens at the newest page and scrolls up: each older page is prepended
    // with the message on top of the screen staying where it was.
    const dora = await newUserPage();
    try {
      const p = dora.page;
      await signIn(p, "dora");
      await msgByText(p, "a fresh one 4").waitFor();
      // The older page fails twice (503): with one scroll to the top and no other, the list
      // keeps asking (startReached fires once per first row) until the page is in.
      const olderPage = /\/messages\?.*before=/;
      let asked = 0;
      await p.route(olderPage, (route) => (++asked <= 2
        ? route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "service_unavailable", message: "try again" } }) })
        : route.continue()));
      const list = p.getByTestId("message-list");
      const h0 = await list.evaluate((el) => el.scrollHeight);
      await list.evaluate((el) => { el.scrollTop = 0; });
      await p.waitForFunction((h) => document.querySelector("[data-testid=message-list]").scrollHeight > h + 1000, h0, { timeout: 10_000 });
      assert.ok(asked >= 3, `the older page was asked for until it came (${asked} requests)`);
      await p.unroute(olderPage);
      await p.waitForTimeout(500);
      const shifts = [], finals = [], held = [];
      for (let pages = 0; pages < 4; pages++) {
        // Scroll to the top and follow, frame by frame, where the oldest held message is on
        // screen until the page before it is in and settled: it must not move.
        const frames = await p.evaluate(async () => {
          const list = document.querySelector("[data-testid=message-list]");
          const frame = () => new Promise(requestAnimationFrame);
          const h0 = list.scrollHeight;
          list.scrollTop = 0;
          await frame();
          // The top message on screen now: it must stay where it is while the page before it comes in.
          const rows = [...list.querySelectorAll("[data-testid=message]")];
          const anchor = rows.find((e) => e.getBoundingClientRect().bottom > list.getBoundingClientRect().top)?.getAttribute("data-seq");
          const held = () => list.querySelector(`[data-testid=message][data-seq="${anchor}"]`);
          const out = [];
          const t0 = performance.now();
          while (performance.now() - t0 < 10_000) {
            const a = held();
            out.push(a ? Math.round(a.getBoundingClientRect().top) : null);
            // An older page is in when the content grew by far more than a row or two.
            if (list.scrollHeight > h0 + 1000) {
              // ... and until it has held still for 8 frames (at most 90).
              for (let i = 0, still = 0; i < 90 && still < 8; i++) {
                await frame();
                const b = held();
                const y = b ? Math.round(b.getBoundingClientRect().top) : null;
                still = y === out[out.length - 1] ? still + 1 : 0;
                out.push(y);
              }
              return { anchor, out, grew: true };
            }
            await frame();
          }
          return { anchor, out, grew: false };
        }).then((r) => { assert.ok(r.grew, `an older page loaded above message ${r.anchor}`); return r.out; });
        const seen = frames.filter((y) => y != null);
        assert.ok(seen.length > 0, "the oldest held message was on screen");
        shifts.push(Math.max(...seen) - Math.min(...seen));
        finals.push(seen[seen.length - 1] - seen[0]);
        // A shift that lasts three frames or more (50 ms; shorter is a flicker, reported above).
        const off = seen.map((y) => Math.abs(y - seen[0]));
        held.push(Math.max(0, ...off.slice(2).map((o, i) => Math.min(o, off[i], off[i + 1]))));
        if (process.env.E2E_DEBUG) console.log(`    frames: ${seen.join(" ")}`);
        assert.ok(await domNodes(p) < 3000);
      }
      console.log(`    (older pages prepended; the top message moved at most ${shifts.join(", ")} px, for three frames or more at most ${held.join(", ")} px, and ended ${finals.join(", ")} px from where it was)`);
      // For a frame or two while Virtuoso measures the new rows it is ~20 px off, now and then
      // ~130 px (a flicker, reported above). Virtuoso leaves it off by the rows' estimate error
      // when they are measured late (9 px on a quiet host, 135 px on a loaded CI host), and
      // useHoldTopRow puts it back; a 9 px step of Virtuoso's own can still come after that.
      for (const f of finals) assert.ok(Math.abs(f) <= 12, `the view moved ${f} px when an older page loaded`);
      for (const h of held) assert.ok(h <= 40, `the view jumped ${h} px for three frames or more when an older page loaded`);
    } finally {
      await dora.context.close();
    }
  });

  // ---- issue 17: the smaller bullets, each through the UI ----
  await step("\"Online\" only while I am connected myself; small avatars are the 64 px variant; the composer does not grab focus", async () => {
    await pageB.goto(`/c/${directId}`);
    await pageB.getByTestId("chat-view").waitFor();
    assert.notEqual(await pageB.evaluate(() => document.activeElement?.getAttribute("data-testid")), "composer", "opening a chat does not focus the composer (no phone keyboard)");
    const status = pageB.getByTestId("chat-status");
    const dot = pageB.getByTestId("chat-header").getByTestId("presence-dot");
    await status.filter({ hasText: /^Online/ }).waitFor();
    assert.equal(await dot.getAttribute("data-online"), "true");
    // A's photo in the 44 px header and the list is the small variant; the full picture only in the big profile spot.
    for (const img of [pageB.getByTestId("chat-header").getByTestId("avatar-img"), item(pageB, A.username).getByTestId("avatar-img")]) {
      assert.match(await img.getAttribute("src"), /[?&]size=64$/);
    }
    await ctxB.setOffline(true);
    await pageB.evaluate(() => window.dispatchEvent(new Event("offline")));
    await pageB.getByTestId("connection-banner").waitFor();
    await status.filter({ hasText: "Waiting for network" }).waitFor();
    assert.doesNotMatch(await status.textContent(), /Online/, "no stale \"Online\" while I am offline");
    assert.equal(await dot.count(), 0, "no presence dot while I am offline");
    await ctxB.setOffline(false);
    await pageB.evaluate(() => window.dispatchEvent(new Event("online")));
    await pageB.getByTestId("connection-banner").waitFor({ state: "detached" });
    await status.filter({ hasText: /^Online/ }).waitFor();
  });

  await step("the lobby lists its members with live presence, and a member opens their profile", async () => {
    await pageB.goto("/c/lobby");
    await pageB.getByTestId("chat-view").waitFor();
    await pageB.getByTestId("chat-header").click();
    await pageB.getByTestId("lobby-members").waitFor();
    const member = (u, online) => pageB.locator(`[data-testid=lobby-member][data-username="${u.username}"][data-online="${online}"]`);
    await member(A, true).waitFor();
    await member(C, true).waitFor();
    await member(B, true).waitFor(); // me, always online while connected
    await pageC.evaluate(() => window.dispatchEvent(new Event("offline")));
    await member(C, false).waitFor();
    await pageC.evaluate(() => window.dispatchEvent(new Event("online")));
    await member(C, true).waitFor();
    await member(A, true).click();
    await pageB.getByTestId("user-profile").waitFor();
    assert.match(await pageB.getByTestId("user-profile-name").textContent(), /Alice/);
    await pageB.goBack();
    await pageB.getByTestId("chat-view").waitFor();
  });

  await step("a paste over 4,000 characters is not cut: a counter shows the limit and sending waits", async () => {
    await pageB.goto(`/c/${directId}`);
    const box = pageB.getByTestId("composer");
    await box.fill("x".repeat(3600));
    assert.match(await pageB.getByTestId("char-count").textContent(), /3,?600\s*\/\s*4,?000/);
    assert.equal(await pageB.getByTestId("send-button").isEnabled(), true);
    await box.fill("y".repeat(4100));
    assert.equal((await box.inputValue()).length, 4100, "nothing is cut");
    assert.match(await pageB.getByTestId("char-count").textContent(), /4,000/);
    assert.equal(await pageB.getByTestId("send-button").isDisabled(), true);
    await box.press("Enter");
    assert.equal((await box.inputValue()).length, 4100, "Enter does not send (or drop) it");
    await box.fill("");
    await pageB.getByTestId("char-count").waitFor({ state: "detached" });
  });

  await step("the profile panel changes the password and signs out everywhere; a non-image photo is refused with no preview", async () => {
    const u = { username: `pat_${run}`, password: "first password 1", next: "second password 2" };
    const r = await fetch(baseURL + "/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: u.username, password: u.password, displayName: "Pat" }) });
    assert.equal(r.status, 201);
    const signIn = async (page, password) => {
      await page.goto("/");
      await page.getByTestId("auth-form").waitFor();
      await page.locator("input[name=username]").fill(u.username);
      await page.locator("input[name=password]").fill(password);
      await page.getByTestId("auth-submit").click();
      await page.getByTestId("conversation-list").waitFor();
    };
    const me = (page) => page.evaluate(async () => (await fetch("/api/me")).status);
    const one = await newUserPage(), two = await newUserPage();
    try {
      await signIn(one.page, u.password);
      await signIn(two.page, u.password);
      await one.page.getByTestId("open-profile").click();
      await one.page.getByTestId("profile-panel").waitFor();
      assert.equal(new URL(one.page.url()).pathname, "/profile");
      // Not a picture: said so, and no broken preview.
      await one.page.getByTestId("avatar-input").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a picture") });
      await one.page.locator("[data-testid=avatar-error][data-code=unsupported_media_type]").waitFor();
      assert.equal(await one.page.getByTestId("avatar-preview").count(), 0);
      // The password: this session stays, the other one is signed out.
      await one.page.locator("input[name=currentPassword]").fill(u.password);
      await one.page.locator("input[name=newPassword]").fill(u.next);
      await one.page.getByTestId("password-save").click();
      await one.page.locator("[data-testid=password-notice][data-code='']").filter({ hasText: /Password changed/ }).waitFor();
      assert.equal(await me(one.page), 200);
      assert.equal(await me(two.page), 401, "the other session ended with the password change");
      await two.page.reload();
      await two.page.getByTestId("auth-form").waitFor();
      await signIn(two.page, u.next);
      // Sign out everywhere: asks first, then both sessions end and this page keeps no socket.
      await one.page.getByTestId("sign-out-everywhere").click();
      await one.page.getByTestId("confirm-dialog").waitFor();
      await one.page.getByTestId("confirm-ok").click();
      await one.page.getByTestId("auth-form").waitFor();
      assert.equal(await me(one.page), 401);
      assert.equal(await me(two.page), 401);
      await two.page.reload();
      await two.page.getByTestId("auth-form").waitFor();
      await one.page.waitForTimeout(1500);
      assert.equal(await one.page.evaluate(() => !!window.__natterSocket?.active), false, "no socket left behind");
    } finally {
      await one.context.close();
      await two.context.close();
    }
  });

  await step("Korean UI: an empty display name and a locked sign-in are told in Korean", async () => {
    await pageC.goto("/profile");
    await pageC.getByTestId("profile-panel").waitFor();
    const name = pageC.locator("input[name=displayName]");
    const old = await name.inputValue();
    await name.fill("   ");
    await pageC.getByTestId("profile-save").click();
    const notice = pageC.getByTestId("profile-notice");
    await notice.filter({ hasText: /표시 이름/ }).waitFor();
    assert.doesNotMatch(await notice.textContent(), /[A-Za-z]{4,}/, "no English leaks into the Korean UI");
    await name.fill(old);
    // Ten wrong passwords lock an account for a while: the eleventh try, in a Korean browser, says so in Korean.
    const victim = `locked_${run}`;
    const reg = await fetch(baseURL + "/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: victim, password: "the right one 123", displayName: "Locked" }) });
    assert.equal(reg.status, 201);
    for (let i = 0; i < 10; i++) {
      const r = await fetch(baseURL + "/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: victim, password: `wrong ${i}` }) });
      assert.ok(r.status === 401 || r.status === 429, `login answered ${r.status}`);
    }
    const { context, page } = await newUserPage("ko-KR");
    try {
      await page.goto("/");
      await page.getByTestId("auth-form").waitFor();
      await page.locator("input[name=username]").fill(victim);
      await page.locator("input[name=password]").fill("the right one 123");
      await page.getByTestId("auth-submit").click();
      const err = page.locator("[data-testid=auth-error][data-code=too_many_requests]");
      await err.waitFor();
      assert.match(await err.textContent(), /시도가 너무 많습니다/);
      assert.doesNotMatch(await err.textContent(), /[A-Za-z]{4,}/, "no English leaks into the Korean UI");
    } finally {
      await context.close();
    }
  });

  await step("a group of three: reply, edit, react and delete, each live in the other browser and all still there after a reload", async () => {
    const title = `Team ${run}`;
    const groupItem = (page) => page.locator(`[data-testid=conversation-item][data-conversation-id="${groupId}"]`);
    // A picks B and C in People (the picks survive a new search) and names the group.
    await pageA.goto("/people");
    for (const u of [B, C]) {
      await pageA.getByTestId("directory-search").fill(u.username);
      await pageA.locator(`[data-testid=directory-result][data-username="${u.username}"]`).getByTestId("group-pick").check();
    }
    await pageA.getByTestId("new-group-title").fill(title);
    await pageA.getByTestId("new-group-create").click();
    await pageA.getByTestId("chat-title").filter({ hasText: title }).waitFor();
    const groupId = await pageA.getByTestId("chat-view").getAttribute("data-conversation-id");
    await pageA.locator("[data-testid=system-message][data-action=created]").waitFor();

    // The members panel: all three, A marked as the owner.
    await pageA.getByTestId("group-members-toggle").click();
    await waitCount(pageA.getByTestId("group-member"), 3);
    assert.equal(await pageA.locator("[data-testid=group-member][data-owner=true]").getAttribute("data-username"), A.username);
    await pageA.getByTestId("group-members-toggle").click();

    // B's list shows the group live: its title, member avatars and the system line as its preview.
    await pageB.goto("/");
    await groupItem(pageB).getByTestId("conversation-name").filter({ hasText: title }).waitFor();
    await groupItem(pageB).locator("[data-testid=group-avatars][data-count='3']").waitFor();
    assert.match(await groupItem(pageB).getByTestId("conversation-preview").textContent(), new RegExp(`^Alice.* created the group “${title}”$`));
    await groupItem(pageB).click();
    await pageB.getByTestId("chat-title").filter({ hasText: title }).waitFor();

    // A sends; B replies to it: the quote is shown on both sides.
    const original = `first plan ${run}`;
    const edited = `better plan ${run}`;
    const reply = `sounds good ${run}`;
    await send(pageA, original);
    await msgByText(pageB, original).getByTestId("reply-button").click();
    assert.match(await pageB.getByTestId("replying-to").textContent(), /Replying to Alice/);
    await send(pageB, reply);
    await msgByText(pageB, reply).getByTestId("reply-quote").filter({ hasText: original }).waitFor();
    await msgByText(pageA, reply).getByTestId("reply-quote").filter({ hasText: original }).waitFor();

    // A edits in place: Esc cancels (and leaves the chat open), Enter saves.
    await msgByText(pageA, original).getByTestId("edit-button").click();
    await pageA.getByTestId("edit-input").press("Escape");
    await pageA.getByTestId("edit-box").waitFor({ state: "detached" });
    assert.equal(await pageA.getByTestId("chat-view").count(), 1, "Esc in the edit box does not close the chat");
    await msgByText(pageA, original).getByTestId("edit-button").click();
    await pageA.getByTestId("edit-input").fill(edited);
    await pageA.getByTestId("edit-input").press("Enter");
    await pageA.getByTestId("edit-box").waitFor({ state: "detached" });
    // B sees the new text and the mark live, and the reply's quote follows.
    await msgByText(pageB, edited).getByTestId("message-edited").waitFor();
    await msgByText(pageB, reply).getByTestId("reply-quote").filter({ hasText: edited }).waitFor();
    assert.equal(await msgByText(pageB, original).count(), 0);

    // B reacts; A sees the count live.
    await msgByText(pageB, edited).getByTestId("react-button").click();
    await msgByText(pageB, edited).locator("[data-testid=reaction-choice][data-emoji='🎉']").click();
    await msgByText(pageA, edited).locator("[data-testid=reaction][data-emoji='🎉']").getByTestId("reaction-count").filter({ hasText: /^1$/ }).waitFor();

    // A deletes a message after asking; B sees the tombstone live.
    const oops = `wrong chat ${run}`;
    await send(pageA, oops);
    await msgByText(pageB, oops).waitFor();
    const oopsSeq = await msgByText(pageB, oops).getAttribute("data-seq");
    await msgByText(pageA, oops).getByTestId("delete-button").click();
    await pageA.getByTestId("confirm-dialog").waitFor();
    await pageA.getByTestId("confirm-ok").click();
    const tombstone = (page) => page.locator(`[data-testid=message][data-seq="${oopsSeq}"] [data-testid=message-deleted]`);
    await tombstone(pageB).waitFor();
    assert.equal(await msgByText(pageB, oops).count(), 0);
    await groupItem(pageB).getByTestId("conversation-preview").filter({ hasText: "Message deleted" }).waitFor();
    await shoot(pageB, "group");

    // After a reload B has all of it from the server.
    await pageB.reload();
    await pageB.getByTestId("chat-title").filter({ hasText: title }).waitFor();
    await msgByText(pageB, edited).getByTestId("message-edited").waitFor();
    assert.equal(await msgByText(pageB, edited).locator("[data-testid=reaction][data-emoji='🎉'] [data-testid=reaction-count]").textContent(), "1");
    await tombstone(pageB).waitFor();
    assert.equal(await msgByText(pageB, oops).count(), 0);
    await msgByText(pageB, reply).getByTestId("reply-quote").filter({ hasText: edited }).waitFor();

    // Membership: the owner removes C and adds C back; B's list tells it in words.
    await pageA.getByTestId("group-members-toggle").click();
    await pageA.locator(`[data-testid=group-member][data-username="${C.username}"]`).getByTestId("group-member-remove").click();
    await pageA.getByTestId("confirm-ok").click();
    await waitCount(pageA.getByTestId("group-member"), 2);
    await groupItem(pageB).getByTestId("conversation-preview").filter({ hasText: /^Alice.* removed 민지$/ }).waitFor();
    await pageA.getByTestId("group-add-people").click();
    await pageA.getByTestId("group-add-search").fill(C.username);
    await pageA.locator(`[data-testid=group-add-result][data-username="${C.username}"]`).getByTestId("group-pick").check();
    await pageA.getByTestId("group-add-submit").click();
    await waitCount(pageA.getByTestId("group-member"), 3);
    await groupItem(pageB).getByTestId("conversation-preview").filter({ hasText: /^Alice.* added 민지$/ }).waitFor();
    // C, back in, has the group in its (Korean) list, the change in words.
    await groupItem(pageC).getByTestId("conversation-preview").filter({ hasText: /^Alice.*님이 민지님을 초대했습니다$/ }).waitFor();

    // An inline rename reaches B live.
    await pageA.getByTestId("group-rename").click();
    await pageA.getByTestId("group-rename-input").fill(`${title}!`);
    await pageA.getByTestId("group-rename-input").press("Enter");
    await pageB.getByTestId("chat-title").filter({ hasText: `${title}!` }).waitFor();
  });

  await step("accessibility: no serious axe-core violations on the main screens", async () => {
    const axe = fs.readFileSync(path.join(HERE, "../node_modules/axe-core/axe.min.js"), "utf8");
    const check = async (page, label) => {
      // The screen as it settles: the list item just left fades its background out over
      // 150 ms while its text is already in the inactive colour, and axe run in that window
      // measured slate-500 on indigo-50 (4.3:1), a colour pair that is gone a moment later.
      await page.waitForFunction(() => !document.getAnimations().some((a) => a instanceof CSSTransition));
      // Evaluated, not added as an inline <script>: the page's CSP forbids inline scripts.
      await page.evaluate(axe);
      const v = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
        .filter((x) => x.impact === "serious" || x.impact === "critical")
        .map((x) => `${x.id}: ${x.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`));
      assert.deepEqual(v, [], `${label}: ${v.join("; ")}`);
    };
    await item(pageA, B.username).click();
    await pageA.getByTestId("chat-view").waitFor();
    await check(pageA, "chat");
    await pageA.getByTestId("tab-people").click();
    await pageA.getByTestId("directory-result").first().waitFor();
    await check(pageA, "directory");
    await pageA.getByTestId("open-profile").click();
    await pageA.getByTestId("profile-panel").waitFor();
    await check(pageA, "profile");
    await check(pageC, "Korean chat");
    await check(pageB, "group chat with a reply, a reaction and a tombstone");
  });


  await step("sign-out asks first and leaves no socket behind", async () => {
    await pageC.getByTestId("sign-out").click();
    await pageC.getByTestId("confirm-dialog").waitFor();
    await pageC.getByTestId("confirm-cancel").click();
    await pageC.getByTestId("confirm-dialog").waitFor({ state: "detached" });
    await pageC.getByTestId("conversation-list").waitFor();
    await pageC.getByTestId("sign-out").click();
    await pageC.getByTestId("confirm-ok").click();
    await pageC.getByTestId("auth-form").waitFor();
    await pageC.waitForTimeout(2500);
    assert.deepEqual(await pageC.evaluate(() => ({ connected: !!window.__natterSocket?.connected, active: !!window.__natterSocket?.active })),
      { connected: false, active: false });
    assert.equal(await pageC.evaluate(async () => (await fetch("/api/me")).status), 401);
  });

  await step("no uncaught errors in the pages", async () => {
    assert.deepEqual(pageErrors, []);
  });
} catch (e) {
  results.push({ name: "harness", ok: false });
  console.log("  ✘ harness: " + (e.stack || e));
} finally {
  await browser.close().catch(() => {});
}
await finish();

async function waitCount(locator, n, ms = T) {
  const until = Date.now() + ms;
  let c;
  while ((c = await locator.count()) !== n) {
    if (Date.now() > until) throw new Error(`expected ${n} elements, found ${c}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


/** POST `n` messages to a conversation from inside a signed-in page (cookie session, CSRF header), `par` at a time. */
async function seedInPage(page, id, n, prefix, par = 8, from = 1) {
  return page.evaluate(async ({ id, n, prefix, par, from }) => {
    let ok = 0, next = from;
    const worker = async () => {
      while (next < from + n) {
        const i = next++;
        const r = await fetch(`/api/conversations/${id}/messages`, {
          method: "POST", headers: { "Content-Type": "application/json", "X-Requested-With": "natter" },
          body: JSON.stringify({ msg: `${prefix} ${i}`, clientId: `${prefix}-${i}-${Math.random()}` }),
        });
        if (r.status === 201) ok++;
      }
    };
    // Sequential order matters for the tests that count seqs: one worker unless asked.
    await Promise.all(Array.from({ length: par }, worker));
    return ok;
  }, { id, n, prefix, par, from });
}

/** Every message of the open (virtualized) list: scrolls from top to bottom collecting rows. */
async function collectMessages(page) {
  const list = page.getByTestId("message-list");
  for (let i = 0; i < 30; i++) {
    await list.evaluate((el) => { el.scrollTop = 0; });
    await page.waitForTimeout(120);
    if (await list.evaluate((el) => el.scrollTop === 0)) break;
  }
  const seen = new Map();
  for (let i = 0; i < 400; i++) {
    for (const m of await messagesOf(page)) {
      const k = m.clientId + "|" + m.seq;
      if (!seen.has(k)) seen.set(k, m);
    }
    const done = await list.evaluate((el) => {
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 2) return true;
      el.scrollTop += Math.max(100, el.clientHeight * 0.7);
      return false;
    });
    if (done) break;
    await page.waitForTimeout(80);
  }
  return [...seen.values()].sort((a, b) => (a.seq === "" ? Infinity : Number(a.seq)) - (b.seq === "" ? Infinity : Number(b.seq)));
}

async function windowScroll(page) {
  return page.evaluate(() => ({ y: window.scrollY, x: window.scrollX, doc: document.scrollingElement.scrollTop, body: document.body.scrollTop }));
}

async function list_bottom(page) {
  await page.getByTestId("message-list").evaluate((el) => { el.scrollTop = el.scrollHeight; });
}

/** Waits for an <img> to finish loading; answers its natural size (throws if it failed to load). */
async function loadedSize(img) {
  return img.evaluate((el) => new Promise((resolve, reject) => {
    const done = () => (el.naturalWidth > 0 ? resolve({ width: el.naturalWidth, height: el.naturalHeight }) : reject(new Error(`${el.src} did not load`)));
    if (el.complete) done();
    else { el.addEventListener("load", done, { once: true }); el.addEventListener("error", done, { once: true }); }
  }));
}

/** A photo-like PNG of `w` × `h`: an evening sky over the sea, with the sun. */
function makeSunset(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const horizon = Math.round(h * 0.62);
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) {
      const sun = Math.hypot(x - w * 0.5, y - horizon) / (h * 0.16);
      let r, g, b;
      if (y < horizon) {
        const t = y / horizon;
        [r, g, b] = [60 + 195 * t, 40 + 120 * t, 110 - 40 * t];
        if (sun < 1) [r, g, b] = [255, 220 - 40 * sun, 120];
        else if (sun < 2.2) { const k = (2.2 - sun) / 1.2 * 0.5; [r, g, b] = [r + (255 - r) * k, g + (190 - g) * k, b + (110 - b) * k]; }
      } else {
        const t = (y - horizon) / (h - horizon);
        const glint = Math.abs(x - w * 0.5) < w * (0.04 + 0.12 * t) && (y + (x >> 3)) % 7 < 3 ? 0.45 : 0;
        [r, g, b] = [30 + 60 * (1 - t), 50 + 50 * (1 - t), 90 + 40 * (1 - t)];
        [r, g, b] = [r + (255 - r) * glint, g + (200 - g) * glint, b + (120 - b) * glint];
      }
      const o = 1 + x * 3;
      row[o] = Math.round(r); row[o + 1] = Math.round(g); row[o + 2] = Math.round(b);
    }
    rows.push(row);
  }
  const idat = zlib.deflateSync(Buffer.concat(rows));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}
