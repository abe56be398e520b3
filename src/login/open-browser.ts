import { spawn } from "node:child_process";
import { type Env, processEnv } from "../config/env.js";

/** Opens a URL in the user's browser; resolves false when there is no way to. */
export type BrowserOpener = (url: string) => Promise<boolean>;

/**
 * The platform's opener (`open`, `xdg-open`, `start`) when there is a
 * display; on a headless Linux box (no DISPLAY / WAYLAND_DISPLAY) nothing is
 * opened and the caller prints the URL.
 */
export function systemBrowserOpener(env: Env = processEnv()): BrowserOpener {
  return async (url) => {
    const [cmd, args] =
      process.platform === "darwin"
        ? ["open", [url]]
        : process.platform === "win32"
          ? ["cmd", ["/c", "start", "", url]]
          : env.DISPLAY || env.WAYLAND_DISPLAY
            ? ["xdg-open", [url]]
            : [undefined, []];
    if (!cmd) return false;
    return new Promise<boolean>((resolve) => {
      const child = spawn(cmd, args as string[], { stdio: "ignore", detached: true });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    });
  };
}
