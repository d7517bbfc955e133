// message:send over Socket.IO: acks, fan-out, idempotency, ordering, errors, polling.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, api, assertFields, connect, directConversation, register, sleep, useServer } from "../lib/harness.mjs";

useServer();

const MESSAGE_KEYS = ["id", "conversationId", "seq", "senderId", "user", "msg", "clientId", "createdAt"];

function assertMessage(m, { conversationId, sender, msg, clientId, seq }) {
  assert.ok(m && typeof m === "object", `message object expected, got ${JSON.stringify(m)}`);
  for (const k of MESSAGE_KEYS) assert.ok(k in m, `message lacks '${k}': ${JSON.stringify(m)}`);
  assert.equal(typeof m.id, "string");
  assert.ok(m.id.length > 0);
  assert.equal(m.conversationId, conversationId);
  assert.equal(m.senderId, sender.id);
  assert.equal(m.user, sender.username);
  assert.equal(m.msg, msg);
  assert.equal(m.clientId, clientId);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `seq must be a positive integer: ${m.seq}`);
  if (seq !== undefined) assert.equal(m.seq, seq);
  assert.equal(typeof m.createdAt, "number");
  assert.ok(Number.isInteger(m.createdAt), "createdAt is integer milliseconds");
  assert.ok(Math.abs(m.createdAt - Date.now()) < 120_000, `createdAt ${m.createdAt} is not ms since the epoch of now`);
}

const byConv = (id) => (m) => m && m.conversationId === id;

test("message:send answers the ack {ok: true, message} with the stored message", async () => {
  const a = await register("snd");
  const b = await register("snd");
  const conv = await directConversation(a, b);
  const c = await connect({ token: a.token });
  const text = "  héllo <b>wörld</b> 🎉\nsecond line ";
  const ack = await c.ack("message:send", { conversationId: conv.id, msg: text, clientId: "c-first" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.error, undefined);
  assertMessage(ack.message, { conversationId: conv.id, sender: a, msg: text, clientId: "c-first", seq: 1 });

  const ack2 = await c.ack("message:send", { conversationId: conv.id, msg: "next", clientId: "c-second" });
  assert.equal(ack2.ok, true, JSON.stringify(ack2));
  assertMessage(ack2.message, { conversationId: conv.id, sender: a, msg: "next", clientId: "c-second", seq: 2 });
  assert.notEqual(ack2.message.id, ack.message.id);

  // durably stored: the history (as seen by the peer) has it, identical
  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages?after=0&limit=100`, {
    token: b.token,
  });
  assert.equal(hist.status, 200, JSON.stringify(hist.body));
  assert.deepEqual(hist.body.messages, [ack.message, ack2.message]);
  assert.equal(hist.body.hasMore, false);
});

test("a message reaches every connected socket of every member (sender's other tabs and the sending socket too)", async () => {
  const a = await register("dlv");
  const b = await register("dlv");
  const conv = await directConversation(a, b);
  const [a1, a2, b1, b2] = await Promise.all([
    connect({ token: a.token }),
    connect({ token: a.token }),
    connect({ token: b.token }),
    connect({ token: b.token }),
  ]);
  const outsider = await register("dlv");
  const o1 = await connect({ token: outsider.token });

  const ack = await a1.ack("message:send", { conversationId: conv.id, msg: "fan out", clientId: "fan-1" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const want = (m) => m.id === ack.message.id;
  const [gotB1, gotB2, gotA2, gotA1] = await Promise.all([
    b1.waitFor("message", want),
    b2.waitFor("message", want),
    a2.waitFor("message", want),
    a1.waitFor("message", want),
  ]);
  for (const m of [gotB1, gotB2, gotA2, gotA1]) assert.deepEqual(m, ack.message);
  // exactly once per socket
  await sleep(200);
  for (const s of [a1, a2, b1, b2]) assert.equal(s.received("message", want).length, 1);
  // a non-member sees nothing of it
  assert.equal(o1.received("message", byConv(conv.id)).length, 0);
});

test("retrying message:send with the same clientId returns the same message and stores one", async () => {
  const a = await register("idm");
  const b = await register("idm");
  const conv = await directConversation(a, b);
  const c = await connect({ token: a.token });
  const payload = { conversationId: conv.id, msg: "only once", clientId: `retry-${Date.now()}` };
  const first = await c.ack("message:send", payload);
  const second = await c.ack("message:send", payload);
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(second.ok, true, JSON.stringify(second));
  assert.equal(second.message.id, first.message.id);
  assert.equal(second.message.seq, first.message.seq);
  assert.equal(second.message.seq, 1);
  assert.deepEqual(second.message, first.message);

  // a retry from another socket of the same user is idempotent too
  const c2 = await connect({ token: a.token });
  const third = await c2.ack("message:send", payload);
  assert.equal(third.ok, true, JSON.stringify(third));
  assert.equal(third.message.id, first.message.id);

  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages?after=0&limit=100`, {
    token: a.token,
  });
  assert.equal(hist.status, 200);
  assert.equal(hist.body.messages.length, 1, JSON.stringify(hist.body));
  assert.equal(hist.body.messages[0].id, first.message.id);

  // the next new message follows without a gap
  const next = await c.ack("message:send", { conversationId: conv.id, msg: "after retry", clientId: "new-one" });
  assert.equal(next.message.seq, 2);
});

async function orderingScenario({ pipelined }) {
  const N = 50;
  const a = await register("ord");
  const b = await register("ord");
  const conv = await directConversation(a, b);
  const sender = await connect({ token: a.token });
  const peer = await connect({ token: b.token });

  const send = (i) =>
    sender.ack("message:send", { conversationId: conv.id, msg: `m${i}`, clientId: `ord-${i}` }, 15_000);
  let acks;
  if (pipelined) {
    // all 50 in flight at once on one socket
    acks = await Promise.all(Array.from({ length: N }, (_, i) => send(i)));
  } else {
    // back to back: each send as soon as the previous ack arrived
    acks = [];
    for (let i = 0; i < N; i++) acks.push(await send(i));
  }
  for (const [i, ack] of acks.entries()) {
    assert.equal(ack.ok, true, `send ${i}: ${JSON.stringify(ack)}`);
    assert.equal(ack.message.msg, `m${i}`);
    assert.equal(ack.message.clientId, `ord-${i}`);
  }
  const ackSeqs = acks.map((x) => x.message.seq);
  if (pipelined) ackSeqs.sort((x, y) => x - y);
  assert.deepEqual(ackSeqs, Array.from({ length: N }, (_, i) => i + 1), "acked seqs are 1..50 without gaps");

  const got = await peer.waitForCount("message", byConv(conv.id), N, 15_000);
  assert.deepEqual(
    got.map((m) => m.seq),
    Array.from({ length: N }, (_, i) => i + 1),
    "the peer must receive the messages in seq order (contract: every member sees messages in seq order)",
  );
  const ackById = new Map(acks.map((x) => [x.message.id, x.message]));
  for (const m of got) assert.deepEqual(m, ackById.get(m.id));

  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages?after=0&limit=100`, {
    token: b.token,
  });
  assert.equal(hist.status, 200, JSON.stringify(hist.body));
  assert.equal(hist.body.messages.length, N);
  assert.equal(hist.body.hasMore, false);
  assert.deepEqual(hist.body.messages, got);
}

test("ordering, 50 back-to-back sends with acks: the peer receives seq 1..50 in order, history agrees", () =>
  orderingScenario({ pipelined: false }));

test("ordering, 50 pipelined sends (all in flight): the peer still receives seq 1..50 in order, history agrees", () =>
  orderingScenario({ pipelined: true }));

test("a non-member's send into a direct conversation gets the error ack not_found", async () => {
  const a = await register("err");
  const b = await register("err");
  const c = await register("err");
  const conv = await directConversation(a, b);
  const sa = await connect({ token: a.token });
  const sc = await connect({ token: c.token });

  const denied = await sc.ack("message:send", { conversationId: conv.id, msg: "let me in", clientId: "x-1" });
  assert.equal(denied.ok, undefined, JSON.stringify(denied));
  assert.ok(denied.error, `error ack expected: ${JSON.stringify(denied)}`);
  assert.equal(denied.error.code, "not_found");
  assert.equal(typeof denied.error.message, "string");
  assert.ok(denied.error.message.length > 0);
  // and over HTTP the conversation does not exist for C
  const seen = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}`, { token: c.token });
  assert.equal(seen.status, 404);
  assert.equal(seen.body.error.code, "not_found");

  const unknownConv = await sa.ack("message:send", { conversationId: "no-such-conversation", msg: "hi", clientId: "x-2" });
  assert.equal(unknownConv.error?.code, "not_found", JSON.stringify(unknownConv));
  assert.equal(sc.socket.connected, true);
  // nothing was stored
  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages`, { token: a.token });
  assert.equal(hist.status, 200);
  assert.deepEqual(hist.body.messages, []);
});

test("malformed message:send payloads get an error ack and the connection stays usable", async () => {
  const a = await register("mal");
  const b = await register("mal");
  const conv = await directConversation(a, b);
  const sa = await connect({ token: a.token });

  const malformed = [
    "just a string",
    42,
    null,
    [],
    { conversationId: conv.id },
    { conversationId: conv.id, msg: "no client id" },
    { msg: "no conversation", clientId: "x-3" },
    { conversationId: conv.id, msg: 12345, clientId: "x-4" },
    { conversationId: conv.id, msg: "", clientId: "x-5" },
    { conversationId: conv.id, msg: "   \n\t ", clientId: "x-6" },
    { conversationId: conv.id, msg: "x".repeat(4001), clientId: "x-7" },
    { conversationId: conv.id, msg: "long client id", clientId: "c".repeat(65) },
    { conversationId: conv.id, msg: "empty client id", clientId: "" },
  ];
  // every malformed payload is checked; the problems are reported together at the end
  const problems = [];
  for (const p of malformed) {
    const what = String(JSON.stringify(p)).slice(0, 60);
    let ack;
    try {
      ack = await sa.ack("message:send", p, 2000);
    } catch (e) {
      problems.push(`${what}: no ack`);
      continue;
    }
    if (!ack || typeof ack !== "object") problems.push(`${what}: ack is not an object: ${JSON.stringify(ack)}`);
    else if (ack.ok === true) problems.push(`${what}: accepted: ${JSON.stringify(ack).slice(0, 200)}`);
    else if (typeof ack.error?.code !== "string" || typeof ack.error?.message !== "string") {
      problems.push(`${what}: not {error: {code, message}}: ${JSON.stringify(ack)}`);
    } else if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(ack.error.code)) {
      // contract: snake_case; the reference peer answers e.g. 'invalid_clientId', so only identifier-like is required
      problems.push(`${what}: odd error code ${JSON.stringify(ack.error.code)}`);
    }
  }
  assert.equal(sa.socket.connected, true, "the connection stays up after bad payloads");

  const ok = await sa.ack("message:send", { conversationId: conv.id, msg: "still fine", clientId: "x-ok" });
  assert.equal(ok.ok, true, JSON.stringify(ok));
  assert.equal(ok.message.seq, 1, "refused sends must not consume seqs");
  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages`, { token: a.token });
  assert.equal(hist.status, 200);
  assert.deepEqual(hist.body.messages, [ok.message]);
  assert.deepEqual(problems, [], "every malformed message:send must get an error ack");
});

test("a send emitted right on 'connect' (a client flushing its outbox) is never lost", async () => {
  // A client that reconnects sends its queued messages from its 'connect' handler. The
  // server must already listen for events when it tells the client it is connected.
  const ROUNDS = 200;
  const a = await register("fl");
  const b = await register("fl");
  const conv = await directConversation(a, b);
  const lost = [];
  const acked = [];
  for (let i = 0; i < ROUNDS && lost.length < 3; i++) {
    const transports = i % 5 === 4 ? ["polling"] : ["websocket"];
    const c = new Client({ token: a.token, transports });
    const payload = { conversationId: conv.id, msg: `flush ${i}`, clientId: `flush-${i}` };
    const answer = new Promise((resolve) => {
      c.socket.once("connect", () => {
        c.socket.timeout(2000).emit("message:send", payload, (err, ack) => resolve(err ? null : ack));
      });
    });
    await c.connected();
    const ack = await answer;
    if (ack === null) lost.push(`round ${i} (${transports[0]}): no ack`);
    else if (ack.ok !== true) lost.push(`round ${i} (${transports[0]}): ${JSON.stringify(ack)}`);
    else acked.push(ack.message);
    c.close();
  }
  assert.deepEqual(lost, [], `sends emitted on 'connect' went unanswered (${lost.length} of ${lost.length + acked.length})`);
  const hist = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}/messages?limit=100`, {
    token: a.token,
  });
  assert.equal(hist.status, 200);
  assert.deepEqual(hist.body.messages.map((m) => m.clientId), acked.slice(-100).map((m) => m.clientId));
});

test("long-polling only: connect, send with ack, receive events", async () => {
  const a = await register("pol");
  const b = await register("pol");
  const conv = await directConversation(a, b);
  const pa = await connect({ token: a.token, transports: ["polling"] });
  const pb = await connect({ token: b.token, transports: ["polling"] });
  assert.equal(pa.socket.io.engine.transport.name, "polling");
  assert.equal(pb.socket.io.engine.transport.name, "polling");

  const ack = await pa.ack("message:send", { conversationId: conv.id, msg: "over polling", clientId: "p-1" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assertMessage(ack.message, { conversationId: conv.id, sender: a, msg: "over polling", clientId: "p-1", seq: 1 });
  assert.deepEqual(await pb.waitFor("message", (m) => m.id === ack.message.id), ack.message);
  assert.deepEqual(await pa.waitFor("message", (m) => m.id === ack.message.id), ack.message);

  // and the other direction, several in a row
  const acks = [];
  for (let i = 0; i < 5; i++) {
    acks.push(await pb.ack("message:send", { conversationId: conv.id, msg: `back ${i}`, clientId: `pb-${i}` }));
  }
  const got = await pa.waitForCount("message", (m) => m.senderId === b.id, 5);
  assert.deepEqual(got, acks.map((x) => x.message));
  assert.deepEqual(got.map((m) => m.seq), [2, 3, 4, 5, 6]);

  const typ = await pa.ack("typing", { conversationId: conv.id });
  assert.equal(typ.ok, true, JSON.stringify(typ));
  assertFields(await pb.waitFor("typing"), { conversationId: conv.id, userId: a.id }, "typing event");
  assert.equal(pa.socket.io.engine.transport.name, "polling");
});
