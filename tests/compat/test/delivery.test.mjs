// Delivery under pressure with the official client: a socket with 300 sends in
// flight gets an ack for every one (the stored message, or `busy` past the
// per-socket budget, which the client retries with the same clientId), and the
// partner's socket gets every stored seq in order, or is closed: never a gap.
import assert from "node:assert/strict";
import { test } from "node:test";
import { api, connect, directConversation, register, sleep, useServer } from "../lib/harness.mjs";

useServer();

test("300 sends in flight on one socket: every send is acknowledged, none is lost or skipped", async () => {
  const a = await register("fast");
  const b = await register("peer");
  const conv = await directConversation(a, b);
  const sender = await connect({ token: a.token });
  const receiver = await connect({ token: b.token });
  let receiverClosed = false;
  receiver.socket.on("disconnect", () => { receiverClosed = true; });

  const send = (i) => sender.ack("message:send", { conversationId: conv.id, msg: `m${i}`, clientId: `c${i}` }, 30_000);
  const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => send(i)));
  const busy = [];
  acks.forEach((ack, i) => {
    if (ack.ok === true) return;
    assert.equal(ack.error?.code, "busy", `send ${i}: ${JSON.stringify(ack)}`);
    busy.push(i);
  });
  assert.ok(300 - busy.length >= 64, `at least the in-flight budget is accepted (busy: ${busy.length})`);
  for (const i of busy) {
    const ack = await send(i);
    assert.equal(ack.ok, true, `retry of ${i}: ${JSON.stringify(ack)}`);
  }

  const deadline = Date.now() + 30_000;
  let seqs = [];
  while (Date.now() < deadline) {
    seqs = receiver.received("message", (m) => m.conversationId === conv.id).map((m) => m.seq);
    if (seqs.length >= 300 || receiverClosed) break;
    await sleep(20);
  }
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "in order, no gap");
  assert.ok(seqs.length === 300 || receiverClosed, `300 messages or a closed socket, got ${seqs.length}`);

  const stored = [];
  let after = 0;
  for (;;) {
    const { body } = await api("GET", `/api/conversations/${conv.id}/messages?after=${after}&limit=100`, { token: a.token });
    if (body.messages.length === 0) break;
    stored.push(...body.messages);
    after = body.messages.at(-1).seq;
  }
  assert.equal(stored.length, 300, "every send stored exactly once");
  assert.equal(new Set(stored.map((m) => m.clientId)).size, 300);
  sender.close();
  receiver.close();
});
