/**
 * The one place where a failure becomes a JSON-RPC error. Codex 0.169
 * answers requests it refuses (not initialized, bad parameters, a policy, an
 * unknown login id) with -32600 and failures while serving one with -32603;
 * method-not-found is JSON-RPC's -32601.
 */
import { CodexAuthError, InvalidCredentialError, LoginRestrictedError, RpcRequestError } from "../errors.js";
import type { JsonRpcErrorObject } from "./protocol.js";

/** JSON-RPC error codes the server uses. */
export const JSON_RPC_CODES = {
  invalidRequest: -32600,
  methodNotFound: -32601,
  internalError: -32603,
} as const;

/**
 * The JSON-RPC error for a thrown value. Messages are the errors' own
 * (Codex's words where Codex has them); they never carry secrets. Anything
 * that is not a codex-auth error is a bug and says only `internal error`.
 */
export function toJsonRpcError(err: unknown): JsonRpcErrorObject {
  if (err instanceof RpcRequestError) {
    const code =
      err.code === "ERR_RPC_METHOD_NOT_FOUND" ? JSON_RPC_CODES.methodNotFound : JSON_RPC_CODES.invalidRequest;
    return { code, message: err.message };
  }
  // Refused sign-ins (a policy, an empty key, an unsupported region) are the request's fault, as in Codex.
  if (err instanceof LoginRestrictedError || err instanceof InvalidCredentialError)
    return { code: JSON_RPC_CODES.invalidRequest, message: err.message };
  if (err instanceof CodexAuthError) return { code: JSON_RPC_CODES.internalError, message: err.message };
  return { code: JSON_RPC_CODES.internalError, message: "internal error" };
}
