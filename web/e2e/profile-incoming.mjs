// Where the browser's time goes when a message arrives in a chat with 10,000
// messages loaded: seeds them through the API of a running server, opens the
// chat in Chromium, then for each of N incoming messages prints the renderer's
// scripting and main-thread time (CDP Performance metrics) and finally the
// functions with the most self time (CDP Profiler, 50 µs sampling: adds some
// overhead of its own). Line:column point into the served bundle.
//
//   NATTER_RATE_LIMITS=off NATTER_SIGNUP_PER_HOUR=10000 NATTER_ADDR=127.0.0.1:3300 target/release/natter &
//   cd web && BASE=http://127.0.0.1:3300 N=5 node e2e/profile-incoming.mjs
//   (PROFILE=0: the metrics only, without the profiler's own overhead)
import { chromium } from "playwright-core";
const base = process.env.BASE;
const PROFILE = process.env.PROFILE !== "0";
const run = Date.now().toString(36);
const j = (r) => r.json();
const mk = async (n) => j(await fetch(base + "/api/auth/register", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: `${n}_${run}`, password: "long history 123", displayName: n }) }));
const D = await mk("dora"), E = await mk("emil");
const conv = await j(await fetch(base + "/api/conversations", { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${D.token}` }, body: JSON.stringify({ userId: E.user.id }) }));
const id = conv.conversation.id;
const post = (msg, clientId) => fetch(base + `/api/conversations/${id}/messages`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${D.token}` }, body: JSON.stringify({ msg, clientId }) });
let next = 1;
await Promise.all(Array.from({ length: 16 }, async () => { while (next <= 10000) { const i = next++; await post(`history line ${i}`, `h${i}`); } }));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
const context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto("/");
await page.locator("input[name=username]").fill(`emil_${run}`);
await page.locator("input[name=password]").fill("long history 123");
await page.getByTestId("auth-submit").click();
await page.getByTestId("conversation-list").waitFor();
await page.locator(`[data-testid=conversation-item][data-conversation-id="${id}"]`).click();
await page.getByTestId("unread-divider").waitFor({ timeout: 60000 });
await page.getByTestId("jump-to-latest").click();
await page.locator("[data-testid=message-text]", { hasText: "history line 10000" }).waitFor();
await page.waitForTimeout(1500);
const cdp = await context.newCDPSession(page);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
await cdp.send("Performance.enable");
const metric = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
const self = new Map();
const scripts = [];
for (let k = 0; k < Number(process.env.N || 5); k++) {
  await page.waitForTimeout(500);
  const m0 = await metric();
  if (PROFILE) await cdp.send("Profiler.start");
  await post(`fresh ${k}`, `f${k}`);
  await page.waitForTimeout(400);
  const { profile } = PROFILE ? await cdp.send("Profiler.stop") : { profile: { samples: [], timeDeltas: [], nodes: [] } };
  const m1 = await metric();
  scripts.push((m1.ScriptDuration - m0.ScriptDuration) * 1000);
  console.log(`script ${scripts.at(-1).toFixed(1)} ms, task ${((m1.TaskDuration - m0.TaskDuration) * 1000).toFixed(1)} ms`);
  const dt = new Map();
  profile.samples.forEach((s, i) => dt.set(s, (dt.get(s) || 0) + (profile.timeDeltas[i] || 0)));
  for (const n of profile.nodes) {
    const t = dt.get(n.id) || 0;
    if (!t) continue;
    const f = n.callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber}:${f.columnNumber}`;
    self.set(key, (self.get(key) || 0) + t / 1000);
  }
}
scripts.sort((a, b) => a - b);
const at = (q) => scripts[Math.min(scripts.length - 1, Math.floor(q * scripts.length))].toFixed(1);
console.log(`scripting per incoming message: median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms (${scripts.length} messages${PROFILE ? ", profiler on" : ""})`);
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
for (const [k, v] of top) console.log(v.toFixed(1).padStart(8), k);
await browser.close();
