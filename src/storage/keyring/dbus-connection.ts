/**
 * A D-Bus client connection on this process's event loop: unix socket, SASL
 * EXTERNAL authentication, `Hello`, then method calls matched to their
 * replies. Everything is asynchronous, so a bus that stops answering leaves
 * nothing blocked: the caller's deadline closes the socket and every pending
 * call rejects.
 */
import { connect, type Socket } from "node:net";
import {
  type DbusMessage,
  type DbusValue,
  DbusWireError,
  decodeMessage,
  encodeMessage,
  MessageType,
  messageLength,
} from "./dbus-wire.js";

/** An error reply from the bus or a service (`org.freedesktop.DBus.Error.ServiceUnknown`, …). */
export class DbusErrorReply extends Error {
  override readonly name = "DbusErrorReply";
  constructor(
    readonly errorName: string,
    detail: string,
  ) {
    super(`${errorName}${detail ? `: ${detail}` : ""}`);
  }
}

/** The connection failed or was closed; `message` says how. */
export class DbusConnectionError extends Error {
  override readonly name = "DbusConnectionError";
}

/**
 * The socket paths of a D-Bus address (`unix:path=…` or `unix:abstract=…`,
 * several separated by `;`, values %-escaped), in the order libdbus tries
 * them; undefined when any part uses another transport (tcp, unixexec,
 * launchd, …), which this client does not speak.
 */
export function unixSocketPaths(address: string): string[] | undefined {
  const paths: string[] = [];
  for (const part of address.split(";")) {
    if (part === "") continue;
    const colon = part.indexOf(":");
    if (colon < 0 || part.slice(0, colon) !== "unix") return undefined;
    const keys = new Map<string, string>();
    for (const pair of part.slice(colon + 1).split(",")) {
      const eq = pair.indexOf("=");
      if (eq < 0) return undefined;
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(eq + 1));
      } catch {
        return undefined;
      }
      keys.set(pair.slice(0, eq), value);
    }
    const path = keys.get("path");
    const abstract = keys.get("abstract");
    if (path !== undefined) paths.push(path);
    else if (abstract !== undefined) paths.push(`\0${abstract}`);
    else return undefined;
  }
  return paths.length > 0 ? paths : undefined;
}

export interface MethodCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: DbusValue[];
}

/**
 * One authenticated connection to a bus. Its socket is unref'd: an idle
 * connection never keeps a process alive.
 */
export class DbusConnection {
  private readonly pending = new Map<number, { resolve(m: DbusMessage): void; reject(e: Error): void }>();
  private nextSerial = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private failure: DbusConnectionError | undefined;

  private constructor(private readonly socket: Socket) {}

  /**
   * Connects to the first of `paths` that accepts, authenticates as this
   * process's user and says `Hello`. `signal` aborts all of it (the socket
   * is destroyed).
   *
   * @throws {DbusConnectionError} when no path accepts, the bus refuses, or `signal` aborts.
   */
  static async open(address: string, paths: string[], signal: AbortSignal): Promise<DbusConnection> {
    let socket: Socket | undefined;
    const onAbort = (): void => {
      socket?.destroy();
    };
    signal.addEventListener("abort", onAbort);
    try {
      let lastError: unknown;
      for (const path of paths) {
        if (signal.aborted) break;
        socket = connect(path);
        try {
          await connected(socket);
          break;
        } catch (err) {
          lastError = err;
          socket = undefined;
        }
      }
      if (signal.aborted) throw new DbusConnectionError("the connection to the bus was abandoned");
      if (!socket) {
        const code = (lastError as NodeJS.ErrnoException | undefined)?.code;
        throw new DbusConnectionError(
          `cannot connect to the D-Bus session bus at ${address} (${code ?? (lastError as Error | undefined)?.message})`,
        );
      }
      socket.unref();
      await authenticate(socket);
      const connection = new DbusConnection(socket);
      socket.on("data", (chunk: Buffer) => connection.onData(chunk));
      socket.on("error", (err) => connection.fail(`the D-Bus connection failed (${err.message})`));
      socket.on("close", () => connection.fail("the D-Bus connection was closed"));
      await connection.call({
        destination: "org.freedesktop.DBus",
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member: "Hello",
      });
      return connection;
    } catch (err) {
      socket?.destroy();
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Calls a method and returns the reply's body.
   *
   * @throws {DbusErrorReply} when the callee answers with an error.
   * @throws {DbusConnectionError} when the connection fails or is closed first.
   */
  async call(call: MethodCall): Promise<DbusValue[]> {
    if (this.failure) throw this.failure;
    const serial = this.nextSerial++;
    const bytes = encodeMessage({
      type: MessageType.methodCall,
      flags: 0,
      serial,
      path: call.path,
      interface: call.interface,
      member: call.member,
      destination: call.destination,
      signature: call.signature ?? "",
      body: call.body ?? [],
    });
    const reply = await new Promise<DbusMessage>((resolve, reject) => {
      this.pending.set(serial, { resolve, reject });
      this.socket.write(bytes);
    });
    if (reply.type === MessageType.error) {
      const detail = typeof reply.body[0] === "string" ? reply.body[0] : "";
      throw new DbusErrorReply(reply.errorName ?? "org.freedesktop.DBus.Error.Failed", detail);
    }
    return reply.body;
  }

  /** Closes the connection; pending calls reject. */
  close(reason = "the D-Bus connection was closed"): void {
    this.fail(reason);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      for (
        let length = messageLength(this.buffered);
        length !== undefined && this.buffered.length >= length;
      ) {
        const msg = decodeMessage(this.buffered.subarray(0, length));
        this.buffered = this.buffered.subarray(length);
        if (msg.type === MessageType.methodReturn || msg.type === MessageType.error) {
          const waiter = msg.replySerial === undefined ? undefined : this.pending.get(msg.replySerial);
          if (waiter) {
            this.pending.delete(msg.replySerial!);
            waiter.resolve(msg);
          }
        }
        // Signals (NameAcquired, …) and calls to us are ignored: nothing here listens for them.
        length = messageLength(this.buffered);
      }
    } catch (err) {
      const detail = err instanceof DbusWireError ? err.message : String(err);
      this.close(`the bus sent a malformed message (${detail})`);
    }
  }

  private fail(reason: string): void {
    if (!this.failure) this.failure = new DbusConnectionError(reason);
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.removeListener("close", onClose);
      reject(err);
    };
    const onClose = (): void => {
      socket.removeListener("error", onError);
      reject(new DbusConnectionError("the connection to the bus was abandoned"));
    };
    socket.once("connect", () => {
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      resolve();
    });
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}

/**
 * SASL EXTERNAL as the spec describes it: a NUL byte, `AUTH EXTERNAL` with
 * this user's uid in hex-encoded ASCII, `OK <guid>` back, then `BEGIN`.
 */
function authenticate(socket: Socket): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return Promise.reject(new DbusConnectionError("no user id to authenticate with"));
  return new Promise((resolve, reject) => {
    let line = "";
    const done = (err?: Error): void => {
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer): void => {
      line += chunk.toString("latin1");
      const end = line.indexOf("\r\n");
      if (end < 0) {
        if (line.length > 512) done(new DbusConnectionError("the bus sent an overlong authentication line"));
        return;
      }
      if (end + 2 !== line.length) {
        done(new DbusConnectionError("the bus sent data before authentication ended"));
        return;
      }
      if (!line.startsWith("OK ")) {
        done(new DbusConnectionError(`the bus refused authentication (${line.slice(0, end).slice(0, 100)})`));
        return;
      }
      socket.write("BEGIN\r\n");
      done();
    };
    const onError = (err: Error): void =>
      done(new DbusConnectionError(`the D-Bus connection failed (${err.message})`));
    const onClose = (): void =>
      done(new DbusConnectionError("the bus closed the connection during authentication"));
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid), "ascii").toString("hex")}\r\n`);
  });
}
