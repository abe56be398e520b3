/**
 * Server-rendered pages of the development issuer: sign-in, consent, device
 * code entry and errors. Plain HTML forms, no scripts, so they work in any
 * browser (and in tests that post the forms with fetch).
 */
import { escapeHtml } from "../html.js";
import type { ResolvedUser, ResolvedWorkspace } from "./users.js";

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; display: flex; justify-content: center; padding: 48px 16px; }
  main { width: 100%; max-width: 420px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  .sub { color: #777; font-size: .9rem; }
  p.sub { margin: 0 0 24px; }
  label { display: block; font-size: .85rem; margin: 14px 0 4px; }
  input[type=text], input[type=email], input[type=password], select {
    width: 100%; box-sizing: border-box; padding: 9px; font-size: 1rem; border: 1px solid #aaa; border-radius: 6px; }
  .row { display: flex; gap: 8px; margin-top: 20px; }
  button { flex: 1; padding: 10px; font-size: 1rem; border-radius: 6px; border: 1px solid #444; cursor: pointer; }
  button.primary { background: #111; color: #fff; }
  .error { background: #fdecea; color: #8a1c12; padding: 10px; border-radius: 6px; margin: 12px 0; }
  .ok { background: #e8f5e9; color: #1b5e20; padding: 10px; border-radius: 6px; margin: 12px 0; }
  ul.scopes { padding-left: 20px; font-size: .9rem; }
  .radio { display: flex; gap: 8px; align-items: center; margin: 6px 0; font-size: .95rem; }
  code { font-size: .85rem; }
  footer { margin-top: 32px; color: #888; font-size: .75rem; }
`;

/** Wraps page content in the common layout. */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
${body}
<footer>codex-auth development issuer — a local stand-in for auth.openai.com. Not for real accounts.</footer>
</main></body>
</html>`;
}

/** An error page (also used for oidc-provider's own errors). */
export function errorPage(title: string, message: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1><div class="error" id="error">${escapeHtml(message)}</div>`,
  );
}

function notice(error: string | undefined): string {
  return error ? `<div class="error" id="error">${escapeHtml(error)}</div>` : "";
}

function userPicker(users: readonly ResolvedUser[], selected: string | undefined): string {
  const options = users
    .map((u) => {
      const isSelected = selected !== undefined && u.email.toLowerCase() === selected.toLowerCase();
      const lock = u.password ? " (password)" : "";
      return `<option value="${escapeHtml(u.email)}"${isSelected ? " selected" : ""}>${escapeHtml(
        `${u.name} <${u.email}> — ${u.plan}${lock}`,
      )}</option>`;
    })
    .join("");
  return `<label for="email">Account</label><select id="email" name="email">${options}</select>
<label for="password">Password <span class="sub">(only for accounts that have one)</span></label>
<input id="password" name="password" type="password" autocomplete="current-password">`;
}

/** The sign-in step of `/oauth/authorize`. */
export function loginPage(opts: {
  action: string;
  abortAction: string;
  users: readonly ResolvedUser[];
  clientName: string;
  email?: string;
  error?: string;
}): string {
  return layout(
    "Sign in",
    `<h1>Sign in</h1><p class="sub">to continue to ${escapeHtml(opts.clientName)}</p>
${notice(opts.error)}
<form method="post" action="${escapeHtml(opts.action)}">
${userPicker(opts.users, opts.email)}
<div class="row"><button class="primary" type="submit">Continue</button></div>
</form>
<form method="post" action="${escapeHtml(opts.abortAction)}"><div class="row"><button type="submit">Cancel</button></div></form>`,
  );
}

/** The consent step of `/oauth/authorize`: scopes, and the workspace the tokens will be for. */
export function consentPage(opts: {
  action: string;
  abortAction: string;
  clientName: string;
  user: ResolvedUser;
  workspaces: readonly ResolvedWorkspace[];
  scopes: readonly string[];
}): string {
  const choices = opts.workspaces
    .map(
      (w, i) =>
        `<label class="radio"><input type="radio" name="workspace" value="${escapeHtml(w.id)}"${
          i === 0 ? " checked" : ""
        }> ${escapeHtml(w.name)} <code>${escapeHtml(w.id)}</code> — ${escapeHtml(w.plan)}</label>`,
    )
    .join("");
  const scopes = opts.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  return layout(
    "Authorize",
    `<h1>Authorize ${escapeHtml(opts.clientName)}</h1>
<p class="sub">Signed in as ${escapeHtml(opts.user.email)}</p>
<p>${escapeHtml(opts.clientName)} asks for:</p><ul class="scopes">${scopes}</ul>
<form method="post" action="${escapeHtml(opts.action)}">
<label>Workspace</label>${choices}
<div class="row"><button class="primary" type="submit" name="decision" value="allow">Allow</button></div>
</form>
<form method="post" action="${escapeHtml(opts.abortAction)}"><div class="row"><button type="submit">Deny</button></div></form>`,
  );
}

/** Shown when `allowed_workspace_id` names no workspace of the signed-in user. */
export function workspaceRestrictedPage(opts: {
  loginAction: string;
  abortAction: string;
  users: readonly ResolvedUser[];
  user: ResolvedUser;
  allowed: readonly string[];
}): string {
  return layout(
    "Workspace not available",
    `<h1>Workspace not available</h1>
<div class="error" id="error">${escapeHtml(
      `This sign-in is restricted to workspace ${opts.allowed.join(", ")}, and ${opts.user.email} is not a member of it.`,
    )}</div>
<p>Sign in with another account:</p>
<form method="post" action="${escapeHtml(opts.loginAction)}">
${userPicker(opts.users, undefined)}
<div class="row"><button class="primary" type="submit">Continue</button></div>
</form>
<form method="post" action="${escapeHtml(opts.abortAction)}"><div class="row"><button type="submit">Cancel sign-in</button></div></form>`,
  );
}

/** The device-code page (`/codex/device`): enter the code, pick the account and workspace, approve or deny. */
export function devicePage(opts: {
  users: readonly ResolvedUser[];
  userCode?: string;
  email?: string;
  error?: string;
}): string {
  const options = opts.users
    .flatMap((u) =>
      u.workspaces.map((w) => {
        const value = `${u.email}|${w.id}`;
        const selected = opts.email !== undefined && value.toLowerCase() === opts.email.toLowerCase();
        const lock = u.password ? " (password)" : "";
        return `<option value="${escapeHtml(value)}"${selected ? " selected" : ""}>${escapeHtml(
          `${u.email} — ${w.name} (${w.id}, ${w.plan})${lock}`,
        )}</option>`;
      }),
    )
    .join("");
  return layout(
    "Device sign-in",
    `<h1>Sign in to Codex on another device</h1>
<p class="sub">Enter the one-time code shown in your terminal.</p>
${notice(opts.error)}
<form method="post" action="/codex/device">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" value="${escapeHtml(
      opts.userCode ?? "",
    )}" placeholder="ABCD-12345">
<label for="account">Account and workspace</label><select id="account" name="account">${options}</select>
<label for="password">Password <span class="sub">(only for accounts that have one)</span></label>
<input id="password" name="password" type="password" autocomplete="current-password">
<div class="row">
<button class="primary" type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>`,
  );
}

/** The page after a device code was approved or denied. */
export function deviceDonePage(approved: boolean): string {
  return approved
    ? layout(
        "Device approved",
        `<h1>Signed in</h1><div class="ok" id="result">Device approved. Return to your terminal; Codex finishes signing in.</div>`,
      )
    : layout(
        "Device denied",
        `<h1>Request denied</h1><div class="error" id="result">The sign-in request was denied. Nothing was shared.</div>`,
      );
}

/** The landing page of `/`: what this is and how to use it. */
export function indexPage(issuer: string, users: readonly ResolvedUser[], autoApprove: boolean): string {
  const rows = users
    .map(
      (u, i) =>
        `<li>${escapeHtml(u.email)} — ${escapeHtml(u.plan)} — ${u.workspaces
          .map((w) => `<code>${escapeHtml(w.id)}</code>`)
          .join(", ")}${i === 0 ? " (default)" : ""}</li>`,
    )
    .join("");
  return layout(
    "codex-auth development issuer",
    `<h1>Development issuer</h1>
<p class="sub">${escapeHtml(issuer)} — ${autoApprove ? "auto-approve is on" : "sign-ins need a person"}</p>
<p>Users:</p><ul>${rows}</ul>
<p>Try: <code>codex login --device-auth --experimental_issuer ${escapeHtml(issuer)}</code></p>
<p><a href="/codex/device">Enter a device code</a> · <a href="/.well-known/openid-configuration">Discovery</a></p>`,
  );
}

/** The page at the device flow's registered redirect URI. */
export function deviceCallbackPage(): string {
  return layout(
    "Signed in",
    `<h1>Signed in</h1><div class="ok">You can close this page and return to Codex.</div>`,
  );
}
