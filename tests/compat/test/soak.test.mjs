// A small soak: 200 clients (SOAK_CLIENTS) in the lobby for SOAK_SECONDS (default 60) while 10
// of them send, every client dropping its connection now and then and coming
// back (catching up over HTTP from its last contiguous seq). Afterwards: every
// acknowledged message is at every receiver exactly once, no socket ever got
// the same seq twice, and the server's memory is back near where it started.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { Client, api, register, serverPid, sleep, useServer } from "../lib/harness.mjs";

useServer();

const CLIENTS = Number(process.env.SOAK_CLIENTS || 200);
const SENDERS = 10;
const SECONDS = Number(process.env.SOAK_SECONDS || 60);

function rssKiB(pid) {
  if (!pid) return null;
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

class Receiver {
  constructor(user) {
    this.user = user;
    this.have = new Set();
    this.contiguous = 0;
    this.duplicates = 0;
    this.client = null;
  }
  take(seq) {
    this.have.add(seq);
    while (this.have.has(this.contiguous + 1)) this.contiguous++;
  }
  async connect() {
    const client = new Client({ token: this.user.token });
    const seenHere = new Set();
    client.socket.on("message", (m) => {
      if (m.conversationId !== "lobby") return;
      if (seenHere.has(m.seq)) this.duplicates++;
      seenHere.add(m.seq);
      this.take(m.seq);
    });
    await client.connected();
    this.client = client;
    await this.catchUp();
  }
  async catchUp() {
    for (;;) {
      const { status, body } = await api("GET", `/api/conversations/lobby/messages?after=${this.contiguous}&limit=100`, { token: this.user.token });
      assert.equal(status, 200);
      for (const m of body.messages) this.take(m.seq);
      if (!body.hasMore) return;
    }
  }
  close() {
    this.client?.close();
    this.client = null;
  }
}

test(`soak: ${CLIENTS} clients, ${SENDERS} senders, random reconnects for ${SECONDS} s`, { timeout: (SECONDS + 240) * 1000 }, async () => {
  const users = [];
  for (let i = 0; i < CLIENTS; i += 10) {
    users.push(...(await Promise.all(Array.from({ length: Math.min(10, CLIENTS - i) }, () => register("soak")))));
  }
  const rssBefore = rssKiB(serverPid());
  const receivers = users.map((u) => new Receiver(u));
  for (let i = 0; i < receivers.length; i += 20) await Promise.all(receivers.slice(i, i + 20).map((r) => r.connect()));

  const acked = new Map(); // clientId -> seq
  const until = Date.now() + SECONDS * 1000;
  const senders = receivers.slice(0, SENDERS).map(async (r, s) => {
    let n = 0;
    while (Date.now() < until) {
      const clientId = `s${s}-${n}`;
      for (;;) {
        const client = r.client;
        if (client?.socket.connected) {
          try {
            const ack = await client.ack("message:send", { conversationId: "lobby", msg: `soak ${clientId}`, clientId }, 10_000);
            if (ack.ok) { acked.set(clientId, ack.message.seq); break; }
            assert.equal(ack.error.code, "busy", JSON.stringify(ack));
          } catch { /* the connection dropped under the send: retry it, same clientId */ }
        }
        await sleep(50);
      }
      n++;
      await sleep(300);
    }
  });
  const churn = (async () => {
    while (Date.now() < until) {
      const r = receivers[Math.floor(Math.random() * receivers.length)];
      r.close();
      await sleep(100 + Math.random() * 400);
      await r.connect();
      await sleep(50);
    }
  })();
  await Promise.all([...senders, churn]);

  for (const r of receivers) await r.catchUp();
  const seqs = [...acked.values()];
  assert.ok(seqs.length > SENDERS * 10, `senders got ${seqs.length} acks`);
  assert.equal(new Set(seqs).size, seqs.length, "each acknowledged send is one message");
  for (const r of receivers) {
    assert.equal(r.duplicates, 0, `${r.user.username} got a seq twice on one socket`);
    const missing = seqs.filter((seq) => !r.have.has(seq));
    assert.deepEqual(missing, [], `${r.user.username} misses acknowledged messages`);
  }
  for (const r of receivers) r.close();

  if (rssBefore !== null) {
    let rssAfter = rssKiB(serverPid());
    for (let i = 0; i < 50 && rssAfter > rssBefore + 32 * 1024; i++) {
      await sleep(100);
      rssAfter = rssKiB(serverPid());
    }
    console.log(`soak: ${seqs.length} messages to ${CLIENTS} clients; server RSS ${rssBefore} KiB before, ${rssAfter} KiB after`);
    assert.ok(rssAfter <= rssBefore + 32 * 1024, `server memory back near its start: ${rssBefore} -> ${rssAfter} KiB`);
  }
});
