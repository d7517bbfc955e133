// Server -> client events: conversation, typing, read, presence, lobby messages.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, api, assertFields, connect, directConversation, register, sleep, useServer } from "../lib/harness.mjs";

useServer();

test("creating a direct conversation emits 'conversation' to both users, as each sees it", async () => {
  const a = await register("cnv");
  const b = await register("cnv");
  const sa = await connect({ token: a.token });
  const sb = await connect({ token: b.token });

  const res = await api("POST", "/api/conversations", { token: a.token, body: { userId: b.id } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const conv = res.body.conversation;
  assert.equal(typeof conv.id, "string");
  assert.notEqual(conv.id, "lobby");
  assert.equal(conv.kind, "direct");
  assert.equal(conv.peer.id, b.id);
  assert.equal(conv.peer.username, b.username);

  const forA = await sa.waitFor("conversation", (c) => c.id === conv.id);
  const forB = await sb.waitFor("conversation", (c) => c.id === conv.id);
  assert.equal(forA.kind, "direct");
  assert.equal(forB.kind, "direct");
  assert.equal(forA.peer.id, b.id, "A's copy has B as peer");
  assert.equal(forB.peer.id, a.id, "B's copy has A as peer");
  assert.equal(forB.peer.username, a.username);
  for (const c of [forA, forB]) {
    for (const k of ["id", "kind", "peer", "lastMessage", "unreadCount", "lastReadSeq", "peerLastReadSeq", "createdAt"]) {
      assert.ok(k in c, `conversation lacks '${k}': ${JSON.stringify(c)}`);
    }
    assert.equal(c.lastMessage, null);
    assert.equal(c.unreadCount, 0);
    assert.equal(typeof c.createdAt, "number");
  }

  // the second POST (from either side) answers 200 with the same conversation and no new event
  const again = await api("POST", "/api/conversations", { token: b.token, body: { userId: a.id } });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.conversation.id, conv.id);
  assert.equal(again.body.conversation.peer.id, a.id);
  await sleep(200);
  assert.equal(sa.received("conversation", (c) => c.id === conv.id).length, 1);
  assert.equal(sb.received("conversation", (c) => c.id === conv.id).length, 1);
});

test("'typing' from A reaches B as {conversationId, userId}", async () => {
  const a = await register("typ");
  const b = await register("typ");
  const conv = await directConversation(a, b);
  const sa = await connect({ token: a.token });
  const sb = await connect({ token: b.token });
  const outsider = await register("typ");
  const so = await connect({ token: outsider.token });

  const ack = await sa.ack("typing", { conversationId: conv.id });
  assertFields(ack, { ok: true }, "typing ack");
  const ev = await sb.waitFor("typing", (t) => t.conversationId === conv.id);
  assertFields(ev, { conversationId: conv.id, userId: a.id }, "typing event");
  await sleep(200);
  assert.equal(so.received("typing", (t) => t.conversationId === conv.id).length, 0, "non-members get no typing");

  // typing into a conversation one is not a member of is refused
  const denied = await so.ack("typing", { conversationId: conv.id });
  assert.equal(denied.error?.code, "not_found", JSON.stringify(denied));
});

test("'read' from B is acked and A receives {conversationId, userId, seq}", async () => {
  const a = await register("rd");
  const b = await register("rd");
  const conv = await directConversation(a, b);
  const sa = await connect({ token: a.token });
  const sb = await connect({ token: b.token });
  for (let i = 1; i <= 2; i++) {
    const s = await sa.ack("message:send", { conversationId: conv.id, msg: `to read ${i}`, clientId: `rd-${i}` });
    assert.equal(s.ok, true, JSON.stringify(s));
  }
  const before = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}`, { token: b.token });
  assert.equal(before.status, 200);
  assert.equal(before.body.conversation.unreadCount, 2);
  assert.equal(before.body.conversation.lastMessage.seq, 2);

  const ack = await sb.ack("read", { conversationId: conv.id, seq: 2 });
  assertFields(ack, { ok: true }, "read ack");
  const ev = await sa.waitFor("read", (r) => r.conversationId === conv.id);
  assertFields(ev, { conversationId: conv.id, userId: b.id, seq: 2 }, "read event");

  const forB = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}`, { token: b.token });
  assert.equal(forB.body.conversation.lastReadSeq, 2);
  assert.equal(forB.body.conversation.unreadCount, 0);
  const forA = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}`, { token: a.token });
  assert.equal(forA.body.conversation.peerLastReadSeq, 2);

  // read marks never move backwards
  const back = await sb.ack("read", { conversationId: conv.id, seq: 1 });
  assert.equal(back.ok, true, JSON.stringify(back));
  const still = await api("GET", `/api/conversations/${encodeURIComponent(conv.id)}`, { token: b.token });
  assert.equal(still.body.conversation.lastReadSeq, 2);
});

test("'presence': online when B's first socket connects, offline with lastSeenAt when the last one goes", async () => {
  const a = await register("prs");
  const sa = await connect({ token: a.token });
  const b = await register("prs");
  const isB = (p) => p && p.userId === b.id;
  // A and B share no conversation: A hears of B because it asks to.
  assert.deepEqual(await sa.ack("presence:subscribe", { userIds: [b.id] }), { ok: true });

  const b1 = await connect({ token: b.token });
  const online = await sa.waitFor("presence", isB);
  assertFields(online, { userId: b.id, online: true, lastSeenAt: null }, "presence event");
  const seenOnline = await api("GET", `/api/users/${encodeURIComponent(b.id)}`, { token: a.token });
  assert.equal(seenOnline.status, 200);
  assert.equal(seenOnline.body.user.online, true);
  assert.equal(seenOnline.body.user.lastSeenAt, null);

  // a second socket of B is not a new presence; closing one of two is not offline
  const b2 = await connect({ token: b.token });
  await sleep(300);
  b1.close();
  await sleep(500);
  assert.deepEqual(sa.received("presence", isB), [online], "only B's first socket and last socket change presence");

  const t0 = Date.now();
  b2.close();
  const offline = await sa.waitFor("presence", (p) => isB(p) && p.online === false, 10_000);
  assert.equal(offline.userId, b.id);
  assert.equal(offline.online, false);
  assert.equal(typeof offline.lastSeenAt, "number");
  assert.ok(Number.isInteger(offline.lastSeenAt));
  assert.ok(offline.lastSeenAt >= t0 - 5_000 && offline.lastSeenAt <= Date.now() + 5_000, `lastSeenAt ${offline.lastSeenAt}`);
  const seenOffline = await api("GET", `/api/users/${encodeURIComponent(b.id)}`, { token: a.token });
  assert.equal(seenOffline.body.user.online, false);
  assert.equal(typeof seenOffline.body.user.lastSeenAt, "number");
});

test("'presence': sockets closed right after connecting leave the user offline", async () => {
  // Each socket's disconnect must be accounted for even when it comes at once.
  const ROUNDS = 100;
  const a = await register("prc");
  const sa = await connect({ token: a.token });
  const b = await register("prc");
  const isB = (p) => p && p.userId === b.id;
  assert.deepEqual(await sa.ack("presence:subscribe", { userIds: [b.id] }), { ok: true });
  for (let i = 0; i < ROUNDS; i++) {
    const c = new Client({ token: b.token, transports: i % 10 === 9 ? ["polling"] : ["websocket"] });
    c.socket.once("connect", () => c.close());
    await c.connected();
  }
  // wait for the presence to settle: the last presence of B that A saw, and the directory, say offline
  const deadline = Date.now() + 5_000;
  let user;
  for (;;) {
    const res = await api("GET", `/api/users/${encodeURIComponent(b.id)}`, { token: a.token });
    assert.equal(res.status, 200);
    user = res.body.user;
    const last = sa.received("presence", isB).at(-1);
    if ((user.online === false && last?.online === false) || Date.now() > deadline) break;
    await sleep(100);
  }
  const seen = sa.received("presence", isB);
  assert.ok(seen.length > 0, "A saw presence events of B");
  assertFields(seen.at(-1), { userId: b.id, online: false }, "last presence event of B");
  assert.equal(typeof seen.at(-1).lastSeenAt, "number");
  assert.equal(user.online, false, `B has no socket left but is still online: ${JSON.stringify(user)}`);
  assert.equal(typeof user.lastSeenAt, "number");
});

test("lobby: POST /api/chat {msg} answers 201 and every connected socket gets the 'message'", async () => {
  const a = await register("lob");
  const b = await register("lob");
  const sa = await connect({ token: a.token });
  const sb = await connect({ token: b.token });
  const sb2 = await connect({ token: b.token, transports: ["polling"] });
  const text = `hello lobby ${Date.now()}`;

  const res = await api("POST", "/api/chat", { token: a.token, body: { msg: text } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const m = res.body.message;
  assert.equal(m.conversationId, "lobby");
  assert.equal(m.user, a.username);
  assert.equal(m.senderId, a.id);
  assert.equal(m.msg, text);
  assert.equal(typeof m.id, "string");
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1);
  assert.equal(typeof m.createdAt, "number");
  assert.ok(Math.abs(m.createdAt - Date.now()) < 120_000);

  for (const s of [sa, sb, sb2]) {
    const got = await s.waitFor("message", (x) => x.id === m.id);
    assert.deepEqual(got, m);
  }

  // the sender is the signed-in user, never a name from the body
  const spoof = await api("POST", "/api/chat", { token: b.token, body: { msg: "spoof?", user: a.username } });
  assert.equal(spoof.status, 201, JSON.stringify(spoof.body));
  assert.equal(spoof.body.message.user, b.username);
  assert.equal(spoof.body.message.senderId, b.id);

  // without auth: 401 with an error body
  const anon = await api("POST", "/api/chat", { body: { msg: "anon" } });
  assert.equal(anon.status, 401);
  assert.equal(typeof anon.body.error?.code, "string");
});
