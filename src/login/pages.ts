/** The small server-rendered pages the callback server shows in the browser. */
import { escapeHtml } from "../html.js";

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{line-height:1.5}</style>
</head><body>${body}</body></html>`;
}

/** Shown after a successful sign-in. */
export function successPage(): string {
  return page(
    "Signed in to Codex",
    "<h1>Signed in to Codex</h1><p>You may now close this page and return to your terminal.</p>",
  );
}

/** Shown when a sign-in fails; the message never contains a secret. */
export function errorPage(message: string): string {
  return page(
    "Codex Sign-in Error",
    `<h1>Sign-in could not be completed</h1><p>${escapeHtml(message)}</p><p>Return to your terminal to retry, switch accounts, or contact your workspace admin if access is restricted.</p>`,
  );
}
