// Shared helpers of the natter compatibility suite: the server under test,
// HTTP calls, fresh users and recorded Socket.IO clients.
//
// Server under test:
//   COMPAT_BASE_URL=http://host:port  -> use that running server
//   NATTER_BIN=/path/to/natter        -> spawn it (fresh port and data dir), kill it afterwards
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before } from "node:test";
import { io } from "socket.io-client";

export const TIMEOUT = Number(process.env.COMPAT_TIMEOUT_MS || 5000);
export const SOCKET_PATH = "/api/socket.io";

// ---------------------------------------------------------------- server

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function spawnNatter() {
  const bin = process.env.NATTER_BIN;
  if (!bin) {
    throw new Error(
      "natter compat: set COMPAT_BASE_URL to test a running server, or NATTER_BIN to the natter binary to spawn",
    );
  }
  if (!fs.existsSync(bin)) throw new Error(`natter compat: NATTER_BIN=${bin} does not exist`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "natter-compat-"));
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(bin, [], {
    env: {
      // The suites measure ordering and delivery under bursts, not the send rate limit,
      // and sign up and sign in hundreds of users from 127.0.0.1 (the soak test).
      NATTER_SEND_RATE: "0",
      NATTER_SIGNUP_PER_HOUR: "100000",
      NATTER_SIGNIN_PER_MINUTE: "100000",
      // A presence test opens and closes 100 sockets of one user back to back.
      NATTER_MAX_SOCKETS_PER_USER: "1000",
      ...process.env,
      NATTER_ADDR: `127.0.0.1:${port}`,
      NATTER_DATA_DIR: dataDir,
      RUST_LOG: process.env.RUST_LOG || "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d) => {
    output = (output + d.toString()).slice(-8000);
    if (process.env.COMPAT_SERVER_LOG) process.stderr.write(d);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  const stop = async () => {
    if (exited === null) {
      child.kill("SIGTERM");
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) child.kill("SIGKILL");
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + Number(process.env.COMPAT_STARTUP_MS || 20000);
  let last = "";
  while (Date.now() < deadline) {
    if (exited !== null) {
      await stop();
      throw new Error(
        `natter compat: ${bin} exited (${JSON.stringify(exited)}) before /healthz answered 200; output:\n${output}`,
      );
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return { baseUrl, stop, spawned: true, pid: child.pid };
      last = `status ${res.status}`;
    } catch (e) {
      last = String(e?.cause?.code || e?.message || e);
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`natter compat: ${bin} did not answer GET /healthz with 200 in time (last: ${last}); output:\n${output}`);
}

let server = null;

/** Registers the suite hooks of a test file: server start/stop and socket clean-up. */
export function useServer() {
  before(async () => {
    if (process.env.COMPAT_BASE_URL) {
      server = { baseUrl: process.env.COMPAT_BASE_URL.replace(/\/+$/, ""), stop: async () => {}, spawned: false };
    } else {
      server = await spawnNatter();
    }
  });
  afterEach(() => closeAllSockets());
  after(async () => {
    closeAllSockets();
    if (server) await server.stop();
  });
}

/** The spawned server's process id (undefined for COMPAT_BASE_URL). */
export function serverPid() {
  return server?.pid;
}

export function baseUrl() {
  if (!server) throw new Error("natter compat: server not started (useServer() missing?)");
  return server.baseUrl;
}

// ---------------------------------------------------------------- HTTP

/** fetch wrapper: returns {status, headers, body} with body parsed as JSON when it is JSON. */
export async function api(method, urlPath, { token, cookie, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (cookie) h.cookie = cookie;
  let payload;
  if (body !== undefined) {
    h["content-type"] = "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await fetch(baseUrl() + urlPath, {
    method,
    headers: h,
    body: payload,
    signal: AbortSignal.timeout(TIMEOUT * 2),
  });
  const text = await res.text();
  let parsed = text;
  if ((res.headers.get("content-type") || "").includes("json") && text.length) {
    parsed = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export function randomName(prefix = "u") {
  return `${prefix}_${crypto.randomBytes(6).toString("hex")}`;
}

/** Registers a fresh user: {user, token, cookie, username, password, id}. */
export async function register(prefix = "u") {
  const username = randomName(prefix);
  const password = `pw-${crypto.randomBytes(8).toString("hex")}`;
  const res = await api("POST", "/api/auth/register", { body: { username, password } });
  if (res.status !== 201) {
    throw new Error(`register ${username}: expected 201, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  const { user, token } = res.body;
  if (!user || typeof token !== "string" || !token) {
    throw new Error(`register ${username}: body lacks user/token: ${JSON.stringify(res.body)}`);
  }
  const setCookies = typeof res.headers.getSetCookie === "function" ? res.headers.getSetCookie() : [];
  const cookie = setCookies.map((c) => c.split(";")[0].trim()).filter(Boolean).join("; ") || null;
  return { user, id: user.id, username, password, token, cookie };
}

/** Opens (POST /api/conversations) the direct conversation of a with b; returns the conversation. */
export async function directConversation(a, b) {
  const res = await api("POST", "/api/conversations", { token: a.token, body: { userId: b.id } });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`POST /api/conversations: got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.conversation;
}

// ---------------------------------------------------------------- sockets

const openSockets = new Set();

export function closeAllSockets() {
  for (const c of openSockets) c.close();
  openSockets.clear();
}

/**
 * A Socket.IO client that records every event it receives from the moment it is
 * created, so that waiting for an event never misses one that came early.
 */
export class Client {
  constructor({ token, cookie, transports = ["websocket"], auth } = {}) {
    const opts = {
      path: SOCKET_PATH,
      transports,
      forceNew: true,
      reconnection: false,
      timeout: TIMEOUT,
    };
    if (auth !== undefined) opts.auth = auth;
    else if (token !== undefined) opts.auth = { token };
    if (cookie) opts.extraHeaders = { cookie };
    this.events = []; // [{event, args, at}]
    this.waiters = new Set();
    this.socket = io(baseUrl(), opts);
    this.socket.onAny((event, ...args) => {
      const rec = { event, args, at: Date.now() };
      this.events.push(rec);
      for (const w of [...this.waiters]) w(rec);
    });
    openSockets.add(this);
  }

  /** Resolves once connected; rejects with the connect_error. */
  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve(this);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error("timed out waiting for connect"));
      }, TIMEOUT * 2);
      const onConnect = () => {
        cleanup();
        resolve(this);
      };
      const onError = (err) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.socket.off("connect", onConnect);
        this.socket.off("connect_error", onError);
      };
      this.socket.on("connect", onConnect);
      this.socket.on("connect_error", onError);
    });
  }

  /** Resolves with the connect_error (fails when the connection succeeds). */
  connectError() {
    return this.connected().then(
      () => {
        throw new Error("expected connect_error, but the socket connected");
      },
      (err) => err,
    );
  }

  /** Payloads (first argument) of every received `event` matching pred, in order. */
  received(event, pred = () => true) {
    return this.events.filter((r) => r.event === event && pred(r.args[0])).map((r) => r.args[0]);
  }

  /** Waits for the first (already or newly) received `event` whose payload matches pred. */
  waitFor(event, pred = () => true, timeout = TIMEOUT) {
    const seen = this.events.find((r) => r.event === event && pred(r.args[0]));
    if (seen) return Promise.resolve(seen.args[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        const got = this.events.filter((r) => r.event === event).map((r) => r.args[0]);
        reject(
          new Error(
            `timed out after ${timeout} ms waiting for '${event}' matching ${pred}; ` +
              `received '${event}' events: ${JSON.stringify(got).slice(0, 1500)}`,
          ),
        );
      }, timeout);
      const w = (rec) => {
        if (rec.event === event && pred(rec.args[0])) {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(rec.args[0]);
        }
      };
      this.waiters.add(w);
    });
  }

  /** Waits until `count` matching events have been received; resolves with them in order. */
  async waitForCount(event, pred, count, timeout = TIMEOUT) {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      const got = this.received(event, pred);
      if (got.length >= count) return got;
      await sleep(20);
    }
    const got = this.received(event, pred);
    throw new Error(`timed out waiting for ${count} '${event}' events, got ${got.length}`);
  }

  /** Emits with an acknowledgement; rejects when no ack comes in time. */
  async ack(event, payload, timeout = TIMEOUT) {
    try {
      return await this.socket.timeout(timeout).emitWithAck(event, payload);
    } catch (e) {
      throw new Error(
        `no acknowledgement within ${timeout} ms for '${event}' with payload ` +
          `${String(JSON.stringify(payload)).slice(0, 120)} (socket connected: ${this.socket.connected}): ${e.message}`,
      );
    }
  }

  close() {
    this.socket.close();
    openSockets.delete(this);
  }
}

/** Creates and connects a client (see Client for options). */
export async function connect(opts) {
  const c = new Client(opts);
  await c.connected();
  return c;
}

export { sleep };

/**
 * Asserts that obj has every field of `expected` with a deep-equal value. The contract
 * lets implementations add fields, so payloads are not compared as a whole.
 */
export function assertFields(obj, expected, what = "payload") {
  if (!obj || typeof obj !== "object") {
    throw new assert.AssertionError({ message: `${what}: object expected, got ${JSON.stringify(obj)}` });
  }
  const picked = {};
  for (const k of Object.keys(expected)) if (k in obj) picked[k] = obj[k];
  assert.deepStrictEqual(picked, expected, `${what}: ${JSON.stringify(obj)}`);
}
