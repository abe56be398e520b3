/**
 * A byte relay between the keyring binding and the D-Bus session bus, run on
 * this process's event loop. The binding's libdbus talks to the relay's
 * socket; the relay forwards each connection to the bus the current request
 * names. Because every byte passes through here, a bus or Secret Service
 * that stops answering can always be cut off: closing the binding's
 * connection makes its blocked call return an error at once. See
 * `in-process.ts` for why that matters.
 */
import { rmSync } from "node:fs";
import { lstat, mkdir, readdir, rm, stat } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Longest unix socket path Linux accepts (sun_path is 108 bytes, NUL included). */
const MAX_SOCKET_PATH = 107;

/**
 * The socket paths of a D-Bus address (`unix:path=…` or `unix:abstract=…`,
 * several separated by `;`, values %-escaped), in the order libdbus tries
 * them; undefined when any part uses another transport (tcp, unixexec,
 * launchd, …), which the relay does not speak.
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

/**
 * Listens on a socket in a directory only this user can enter and pipes
 * each accepted connection to {@link DbusRelay.route}'s bus (which sees the
 * relay's credentials, that is this process's). Every handle is unref'd: the
 * relay never keeps a process alive.
 */
export class DbusRelay {
  /** The bus address new connections are forwarded to. */
  route: string | undefined;
  /** Connections accepted so far. */
  accepted = 0;
  /** Why the last connection could not reach its bus (for messages). */
  upstreamError: string | undefined;
  private open = true;
  private readonly sockets = new Set<Socket>();

  private constructor(
    /** The relay's socket. */
    readonly path: string,
    private readonly server: Server,
  ) {}

  /** The D-Bus address of the relay's socket. */
  get address(): string {
    return `unix:path=${this.path}`;
  }

  /**
   * A relay whose socket will be `<dir>/relay-<pid>-<random>.sock`; it
   * listens only once {@link DbusRelay.listen} is called.
   *
   * @throws when the path is too long for a unix socket.
   */
  static create(dir: string): DbusRelay {
    const path = join(dir, `relay-${process.pid}-${((Math.random() * 2 ** 32) >>> 0).toString(36)}.sock`);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new Error(`the socket path ${path} is too long`);
    const relay: DbusRelay = new DbusRelay(
      path,
      createServer((socket) => relay.forward(socket)),
    );
    return relay;
  }

  /** Starts accepting connections. @throws when the socket cannot be created. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.path, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.unref();
  }

  /**
   * Destroys every connection (each blocked binding call on one of them
   * returns an error) and, from now on, every new one.
   */
  shut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Stops listening and removes the socket (synchronous: also used at exit). */
  remove(): void {
    this.shut();
    this.server.close();
    rmSync(this.path, { force: true });
  }

  private forward(client: Socket): void {
    client.unref();
    client.on("error", () => {});
    if (!this.open) {
      client.destroy();
      return;
    }
    this.accepted++;
    this.sockets.add(client);
    client.once("close", () => this.sockets.delete(client));
    const paths = this.route === undefined ? undefined : unixSocketPaths(this.route);
    if (!paths) {
      this.upstreamError = `cannot relay to the D-Bus address ${this.route ?? "(none)"}`;
      client.destroy();
      return;
    }
    // Until the bus answers, what the client sends stays buffered in its socket.
    const attempt = (i: number): void => {
      const upstream = connect(paths[i]!);
      upstream.unref();
      upstream.once("connect", () => {
        upstream.removeAllListeners("error");
        upstream.on("error", () => {});
        if (!this.open || client.destroyed) {
          upstream.destroy();
          client.destroy();
          return;
        }
        this.sockets.add(upstream);
        upstream.once("close", () => {
          this.sockets.delete(upstream);
          client.destroy();
        });
        client.once("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.once("error", (err: NodeJS.ErrnoException) => {
        if (i + 1 < paths.length) return attempt(i + 1);
        this.upstreamError = `cannot connect to the D-Bus session bus at ${this.route} (${err.code ?? err.message})`;
        client.destroy();
      });
    };
    attempt(0);
  }
}

/**
 * `<runtimeDir or temp dir>/codex-auth-<uid>/`, created 0700 when missing (as
 * tmux does), after removing relay sockets left there by processes that died
 * without cleaning up.
 *
 * @throws when it exists but is not a directory private to this user.
 */
export async function privateRuntimeDir(runtimeDir: string | undefined): Promise<string> {
  const base = runtimeDir && (await isPrivateDir(runtimeDir)) ? runtimeDir : tmpdir();
  const dir = join(base, `codex-auth-${process.getuid?.() ?? "user"}`);
  await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  if (!(await isPrivateDir(dir, true))) throw new Error(`${dir} is not a directory private to this user`);
  await removeStaleSockets(dir);
  return dir;
}

/** True when `dir` is a directory (not a symlink, when `exact`) of this user that nobody else can enter. */
async function isPrivateDir(dir: string, exact = false): Promise<boolean> {
  try {
    const s = exact ? await lstat(dir) : await stat(dir);
    return s.isDirectory() && s.uid === process.getuid?.() && (s.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** Removes `relay-<pid>-*.sock` files whose process is gone. */
async function removeStaleSockets(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const pid = /^relay-(\d+)-[0-9a-z]+\.sock$/.exec(name)?.[1];
    if (pid === undefined || isAlive(Number(pid))) continue;
    await rm(join(dir, name), { force: true }).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
