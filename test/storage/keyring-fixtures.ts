/**
 * Keyring test fixtures: buses that stop answering, and a scratch collection
 * on the throwaway gnome-keyring (scripts/with-secret-service.sh) that tests
 * can lock and unlock without a prompt.
 */
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { DbusConnection, unixSocketPaths } from "../../src/storage/keyring/dbus-connection.js";
import {
  type DbusValue,
  decodeMessage,
  encodeMessage,
  messageLength,
} from "../../src/storage/keyring/dbus-wire.js";

export interface FakeBus {
  address: string;
  /** Client connections accepted so far. */
  clients: Socket[];
  /** Method calls received and never answered. */
  swallowed: string[];
  close(): Promise<void>;
}

async function listen(path: string, onClient: (socket: Socket, bus: FakeBus) => void): Promise<FakeBus> {
  rmSync(path, { force: true });
  let server: Server | undefined;
  const bus: FakeBus = {
    address: `unix:path=${path}`,
    clients: [],
    swallowed: [],
    close: () =>
      new Promise((resolve) => {
        for (const c of bus.clients) c.destroy();
        server!.close(() => resolve());
      }),
  };
  server = createServer((socket) => {
    bus.clients.push(socket);
    socket.on("error", () => {});
    onClient(socket, bus);
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  return bus;
}

/** A bus that accepts connections and never says a word (a hung dbus-daemon). */
export function hungBus(dir: string): Promise<FakeBus> {
  return listen(join(dir, "hung-bus.sock"), (socket) => socket.resume());
}

/**
 * A bus that authenticates clients and answers `Hello`, but whose Secret
 * Service never answers (as a stopped gnome-keyring behind a live bus).
 */
export function frozenSecretServiceBus(dir: string): Promise<FakeBus> {
  return listen(join(dir, "frozen-ss-bus.sock"), (socket, bus) => {
    let buffered = Buffer.alloc(0);
    let okSent = false;
    let authenticated = false;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!authenticated) {
        // The client sends "\0AUTH EXTERNAL <hex uid>\r\nBEGIN\r\n" (possibly with its first messages).
        if (!okSent && buffered.includes("\r\n")) {
          okSent = true;
          socket.write("OK 0123456789abcdef0123456789abcdef\r\n");
        }
        const begin = buffered.indexOf("BEGIN\r\n");
        if (begin < 0) return;
        authenticated = true;
        buffered = buffered.subarray(begin + "BEGIN\r\n".length);
      }
      for (
        let n = messageLength(buffered);
        n !== undefined && buffered.length >= n;
        n = messageLength(buffered)
      ) {
        const msg = decodeMessage(buffered.subarray(0, n));
        buffered = buffered.subarray(n);
        if (msg.member === "Hello") {
          socket.write(
            encodeMessage({
              type: 2,
              flags: 0,
              serial: 1,
              replySerial: msg.serial,
              signature: "s",
              body: [":1.1"],
            }),
          );
        } else {
          bus.swallowed.push(`${msg.interface}.${msg.member}`);
        }
      }
    });
  });
}

const SECRETS = { destination: "org.freedesktop.secrets" };
const GNOME_KEYRING_INTERNAL = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface";

/**
 * A collection of its own on the throwaway gnome-keyring, created, locked and
 * unlocked with a master password through gnome-keyring's internal interface
 * (no prompt). Secrets cross a plain session: the keyring is throwaway.
 */
export class ScratchCollection {
  private constructor(
    private readonly bus: DbusConnection,
    private readonly session: string,
    readonly path: string,
  ) {}

  static async create(label: string): Promise<ScratchCollection> {
    const address = process.env.DBUS_SESSION_BUS_ADDRESS!;
    const bus = await DbusConnection.open(address, unixSocketPaths(address)!, new AbortController().signal);
    const [, session] = await bus.call({
      ...SECRETS,
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "OpenSession",
      signature: "sv",
      body: ["plain", { signature: "s", value: "" }],
    });
    const [path] = await bus.call({
      ...SECRETS,
      path: "/org/freedesktop/secrets",
      interface: GNOME_KEYRING_INTERNAL,
      member: "CreateWithMasterPassword",
      signature: "a{sv}(oayays)",
      body: [
        [["org.freedesktop.Secret.Collection.Label", { signature: "s", value: label }]],
        ScratchCollection.masterPassword(session as string),
      ],
    });
    return new ScratchCollection(bus, session as string, path as string);
  }

  private static masterPassword(session: string): DbusValue[] {
    return [session, new Uint8Array(), Buffer.from("scratch"), "text/plain"];
  }

  /** Adds an item with these attributes (no label: as a third-party tool might). */
  async addItem(attributes: Record<string, string>, secret: string): Promise<void> {
    await this.bus.call({
      ...SECRETS,
      path: this.path,
      interface: "org.freedesktop.Secret.Collection",
      member: "CreateItem",
      signature: "a{sv}(oayays)b",
      body: [
        [
          [
            "org.freedesktop.Secret.Item.Attributes",
            { signature: "a{ss}", value: Object.entries(attributes) },
          ],
        ],
        [this.session, new Uint8Array(), Buffer.from(secret), "text/plain"],
        true,
      ],
    });
  }

  async lock(): Promise<void> {
    await this.bus.call({
      ...SECRETS,
      path: "/org/freedesktop/secrets",
      interface: "org.freedesktop.Secret.Service",
      member: "Lock",
      signature: "ao",
      body: [[this.path]],
    });
  }

  async unlock(): Promise<void> {
    await this.bus.call({
      ...SECRETS,
      path: "/org/freedesktop/secrets",
      interface: GNOME_KEYRING_INTERNAL,
      member: "UnlockWithMasterPassword",
      signature: "o(oayays)",
      body: [this.path, ScratchCollection.masterPassword(this.session)],
    });
  }

  /** Deletes the collection and its items. */
  async remove(): Promise<void> {
    try {
      await this.unlock();
      await this.bus.call({
        ...SECRETS,
        path: this.path,
        interface: "org.freedesktop.Secret.Collection",
        member: "Delete",
      });
    } finally {
      this.bus.close();
    }
  }
}
