import { CLIENT_ID, DEFAULT_ORIGINATOR } from "./constants.js";

/** Scopes Codex 0.169 requests. */
export const LOGIN_SCOPES = "openid profile email offline_access api.connectors.read api.connectors.invoke";

/** Inputs of {@link buildAuthorizeUrl}. */
export interface AuthorizeUrlOptions {
  issuer: string;
  redirectUri: string;
  codeChallenge: string;
  state: string;
  originator?: string;
  /** `forced_chatgpt_workspace_id`: sent as one comma-joined `allowed_workspace_id`. */
  allowedWorkspaceIds?: readonly string[];
}

/**
 * The authorize URL with the parameters, order and encoding Codex 0.169
 * sends (form encoding: spaces as `+`).
 */
export function buildAuthorizeUrl(o: AuthorizeUrlOptions): string {
  const params = new URLSearchParams([
    ["response_type", "code"],
    ["client_id", CLIENT_ID],
    ["redirect_uri", o.redirectUri],
    ["code_challenge", o.codeChallenge],
    ["code_challenge_method", "S256"],
    ["state", o.state],
    ["scope", LOGIN_SCOPES],
    ["id_token_add_organizations", "true"],
    ["codex_cli_simplified_flow", "true"],
    ["originator", o.originator ?? DEFAULT_ORIGINATOR],
  ]);
  if (o.allowedWorkspaceIds?.length) params.append("allowed_workspace_id", o.allowedWorkspaceIds.join(","));
  return `${trimIssuer(o.issuer)}/oauth/authorize?${params.toString()}`;
}

/** The issuer without trailing slashes, for building endpoint URLs. */
export function trimIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, "");
}
