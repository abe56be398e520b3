import { type Env, resolveOriginator } from "../config/network.js";
import { CLIENT_ID } from "./constants.js";

/** Scopes Codex 0.169 requests. */
export const LOGIN_SCOPES = "openid profile email offline_access api.connectors.read api.connectors.invoke";

/** Inputs of {@link buildAuthorizeUrl}. */
export interface AuthorizeUrlOptions {
  issuer: string;
  redirectUri: string;
  codeChallenge: string;
  state: string;
  /**
   * The host's originator; `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` in `env`
   * wins over it, as in Codex. Default `codex_cli_rs`.
   */
  originator?: string;
  /** Where `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` is read. Default: the process environment. */
  env?: Env;
  /** The OAuth client id; default Codex's (an app server passes `appServerClientId(env)`). */
  clientId?: string;
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
    ["client_id", o.clientId ?? CLIENT_ID],
    ["redirect_uri", o.redirectUri],
    ["code_challenge", o.codeChallenge],
    ["code_challenge_method", "S256"],
    ["state", o.state],
    ["scope", LOGIN_SCOPES],
    ["id_token_add_organizations", "true"],
    ["codex_cli_simplified_flow", "true"],
    ["originator", resolveOriginator(o.env, o.originator)],
  ]);
  if (o.allowedWorkspaceIds?.length) params.append("allowed_workspace_id", o.allowedWorkspaceIds.join(","));
  return `${trimIssuer(o.issuer)}/oauth/authorize?${params.toString()}`;
}

/** The issuer without trailing slashes, for building endpoint URLs. */
export function trimIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, "");
}
