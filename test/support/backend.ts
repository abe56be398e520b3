/**
 * A minimal ChatGPT backend answering only `GET /backend-api/wham/accounts/check`,
 * which `codex app-server` calls before `account/read` in ChatGPT mode. Used
 * where a test needs codex to read a ChatGPT record and no issuer is involved.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export async function startAccountsBackend(
  accounts: { id: string; name: string }[],
): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url?.startsWith("/backend-api/wham/accounts/check")) {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          accounts: accounts.map((a) => ({
            id: a.id,
            name: a.name,
            profile_picture_url: null,
            structure: "personal",
            workspace_backend_origin: "https://chatgpt.com",
            account_routing_override: "NO_CONSTRAINT",
          })),
          account_ordering: accounts.map((a) => a.id),
          default_account_id: accounts[0]?.id ?? null,
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/backend-api/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
