/**
 * In-memory storage for oidc-provider (its Adapter interface) plus the
 * refresh-token ledger the OpenAI dialect needs: oidc-provider forgets a
 * token once it is revoked, but OpenAI still tells a revoked token
 * (`refresh_token_invalidated`) from a rotated one (`refresh_token_reused`)
 * and an expired one (`refresh_token_expired`).
 */
import type { Adapter, AdapterPayload } from "oidc-provider";

/** What became of a refresh token, as the OpenAI dialect reports it. */
export type RefreshTokenState = "active" | "reused" | "expired" | "revoked" | "unknown";

interface LedgerEntry {
  /** Injected-clock milliseconds after which the token is expired. */
  expiresAt: number;
  consumed: boolean;
  revoked: boolean;
}

interface Stored {
  payload: AdapterPayload;
  /** Wall-clock milliseconds (oidc-provider's own clock), or undefined for no expiry. */
  expiresAt: number | undefined;
}

const GRANTABLE = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode"]);

/** Every stateful record of one issuer. Nothing is shared between issuers. */
export class IssuerStore {
  private readonly records = new Map<string, Stored>();
  private readonly byGrant = new Map<string, Set<string>>();
  private readonly sessionsByUid = new Map<string, string>();
  private readonly ledger = new Map<string, LedgerEntry>();

  /**
   * @param now clock for refresh-token expiry (milliseconds)
   * @param refreshTtlMs lifetime of each refresh token, counted from its issue
   */
  constructor(
    private readonly now: () => number,
    private readonly refreshTtlMs: number,
  ) {}

  /** The factory oidc-provider calls once per model name. */
  adapterFactory = (model: string): Adapter => new StoreAdapter(this, model);

  /** Classifies a presented refresh token. Rotation wins over revocation and expiry. */
  refreshTokenState(value: string): RefreshTokenState {
    const entry = this.ledger.get(value);
    if (!entry) return "unknown";
    if (entry.consumed) return "reused";
    if (entry.revoked) return "revoked";
    if (this.now() >= entry.expiresAt) return "expired";
    return "active";
  }

  /** Whether a refresh token was revoked (its grant revoked, e.g. by a logout), rotated or not. */
  refreshTokenRevoked(value: string): boolean {
    return this.ledger.get(value)?.revoked === true;
  }

  /** Number of refresh tokens issued so far (rotations included). */
  get refreshTokensIssued(): number {
    return this.ledger.size;
  }

  // --- used by StoreAdapter ------------------------------------------------

  key(model: string, id: string): string {
    return `${model}:${id}`;
  }

  get(model: string, id: string): AdapterPayload | undefined {
    const key = this.key(model, id);
    const stored = this.records.get(key);
    if (!stored) return undefined;
    if (stored.expiresAt !== undefined && Date.now() >= stored.expiresAt) {
      this.records.delete(key);
      return undefined;
    }
    return stored.payload;
  }

  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): void {
    const key = this.key(model, id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.records.set(key, { payload, expiresAt });
    if (GRANTABLE.has(model) && payload.grantId) {
      const set = this.byGrant.get(payload.grantId) ?? new Set<string>();
      set.add(key);
      this.byGrant.set(payload.grantId, set);
    }
    if (model === "Session" && payload.uid) this.sessionsByUid.set(payload.uid, id);
    if (model === "RefreshToken" && !this.ledger.has(id)) {
      this.ledger.set(id, { expiresAt: this.now() + this.refreshTtlMs, consumed: false, revoked: false });
    }
  }

  consume(model: string, id: string): void {
    const payload = this.get(model, id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    if (model === "RefreshToken") {
      const entry = this.ledger.get(id);
      if (entry) entry.consumed = true;
    }
  }

  destroy(model: string, id: string): void {
    this.records.delete(this.key(model, id));
    if (model === "RefreshToken") {
      const entry = this.ledger.get(id);
      if (entry) entry.revoked = true;
    }
  }

  revokeByGrantId(grantId: string): void {
    const keys = this.byGrant.get(grantId);
    if (!keys) return;
    for (const key of keys) {
      const sep = key.indexOf(":");
      this.destroy(key.slice(0, sep), key.slice(sep + 1));
    }
    this.byGrant.delete(grantId);
  }

  sessionIdByUid(uid: string): string | undefined {
    return this.sessionsByUid.get(uid);
  }
}

class StoreAdapter implements Adapter {
  constructor(
    private readonly store: IssuerStore,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.store.upsert(this.model, id, payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.store.get(this.model, id);
  }

  async findByUserCode(): Promise<undefined> {
    // oidc-provider's own device flow is not used: OpenAI's differs (see device.ts).
    return undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = this.store.sessionIdByUid(uid);
    return id === undefined ? undefined : this.store.get(this.model, id);
  }

  async consume(id: string): Promise<void> {
    this.store.consume(this.model, id);
  }

  async destroy(id: string): Promise<void> {
    this.store.destroy(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.store.revokeByGrantId(grantId);
  }
}
