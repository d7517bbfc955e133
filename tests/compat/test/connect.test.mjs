// Socket.IO connection and authentication.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, api, connect, directConversation, register, useServer } from "../lib/harness.mjs";

useServer();

test("connect without a token is refused with connect_error 'unauthorized'", async () => {
  const err = await new Client({ transports: ["polling", "websocket"] }).connectError();
  assert.equal(err.message, "unauthorized");
  const errWs = await new Client({ transports: ["websocket"] }).connectError();
  assert.equal(errWs.message, "unauthorized");
});

test("connect with a bad token is refused with connect_error 'unauthorized'", async () => {
  const err = await new Client({ token: "not-a-valid-token" }).connectError();
  assert.equal(err.message, "unauthorized");
  const errPolling = await new Client({ token: "x".repeat(43), transports: ["polling"] }).connectError();
  assert.equal(errPolling.message, "unauthorized");
});

test("connect with a token from register over WebSocket", async () => {
  const a = await register("ws");
  const c = await connect({ token: a.token, transports: ["websocket"] });
  assert.equal(c.socket.connected, true);
  assert.equal(typeof c.socket.id, "string");
  assert.equal(c.socket.io.engine.transport.name, "websocket");
});

test("a logged-out token no longer connects", async () => {
  const a = await register("lo");
  const out = await api("POST", "/api/auth/logout", { token: a.token });
  assert.equal(out.status, 204);
  const err = await new Client({ token: a.token }).connectError();
  assert.equal(err.message, "unauthorized");
});

test("connect with only the session cookie from register (polling, then upgrade)", async () => {
  const a = await register("ck");
  const b = await register("ck");
  assert.ok(a.cookie, "register must answer with a session cookie (Set-Cookie)");
  const conv = await directConversation(a, b);
  const c = await connect({ cookie: a.cookie, transports: ["polling", "websocket"] });
  assert.equal(c.socket.connected, true);
  // the cookie-authenticated socket acts as user a
  const ack = await c.ack("message:send", { conversationId: conv.id, msg: "via cookie", clientId: "ck-1" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.equal(ack.message.senderId, a.id);
  assert.equal(ack.message.user, a.username);
  assert.equal(ack.message.msg, "via cookie");
});
