/**
 * A D-Bus client connection on this process's event loop: unix socket, SASL
 * EXTERNAL authentication, `Hello`, then method calls matched to their
 * replies. Everything is asynchronous, so a bus that stops answering leaves
 * nothing blocked: the caller's deadline closes the socket and every pending
 * call rejects. Like sd-bus, it does not wait for the bus between
 * authentication, `Hello` and the first calls: they go out together and the
 * bus answers them in order, which saves a round trip each.
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
 * One connection to a bus. Its socket is unref'd: an idle connection never
 * keeps a process alive.
 */
export class DbusConnection {
  private readonly pending = new Map<number, { resolve(m: DbusMessage): void; reject(e: Error): void }>();
  private nextSerial = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private failure: DbusConnectionError | undefined;
  /** Until the bus's `OK <guid>` line has been read, incoming bytes are authentication. */
  private authenticated = false;

  private constructor(private readonly socket: Socket) {}

  /**
   * Connects to the first of `paths` that accepts, then sends SASL EXTERNAL
   * authentication as this process's user, `BEGIN` and `Hello` without
   * waiting: calls made right away follow them, and fail with the reason if
   * the bus refuses. `signal` abandons the connecting.
   *
   * @throws {DbusConnectionError} when no path accepts or `signal` aborts.
   */
  static async open(address: string, paths: string[], signal: AbortSignal): Promise<DbusConnection> {
    const uid = process.getuid?.();
    if (uid === undefined) throw new DbusConnectionError("no user id to authenticate with");
    let lastError: unknown;
    for (const path of paths) {
      if (signal.aborted) break;
      const socket = connect(path);
      const onAbort = (): void => {
        socket.destroy();
      };
      signal.addEventListener("abort", onAbort);
      try {
        await connected(socket);
      } catch (err) {
        lastError = err;
        socket.destroy();
        continue;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      socket.unref();
      const connection = new DbusConnection(socket);
      socket.on("data", (chunk: Buffer) => connection.onData(chunk));
      socket.on("error", (err) => connection.fail(`the D-Bus connection failed (${err.message})`));
      socket.on("close", () =>
        connection.fail(
          connection.authenticated
            ? "the D-Bus connection was closed"
            : "the bus closed the connection during authentication",
        ),
      );
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid), "ascii").toString("hex")}\r\nBEGIN\r\n`);
      connection
        .call({
          destination: "org.freedesktop.DBus",
          path: "/org/freedesktop/DBus",
          interface: "org.freedesktop.DBus",
          member: "Hello",
        })
        .catch((err: Error) => connection.close(`the bus refused Hello (${err.message})`));
      return connection;
    }
    if (signal.aborted) throw new DbusConnectionError("the connection to the bus was abandoned");
    const code = (lastError as NodeJS.ErrnoException | undefined)?.code;
    throw new DbusConnectionError(
      `cannot connect to the D-Bus session bus at ${address} (${code ?? (lastError as Error | undefined)?.message})`,
    );
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

  /** Closes the connection; pending calls reject with `reason`. */
  close(reason = "the D-Bus connection was closed"): void {
    this.fail(reason);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (!this.authenticated) {
      const end = this.buffered.indexOf("\r\n");
      if (end < 0) {
        if (this.buffered.length > 512) this.close("the bus sent an overlong authentication line");
        return;
      }
      const line = this.buffered.subarray(0, end).toString("latin1");
      if (!line.startsWith("OK ")) {
        this.close(`the bus refused authentication (${line.slice(0, 100)})`);
        return;
      }
      this.authenticated = true;
      this.buffered = this.buffered.subarray(end + 2);
    }
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
