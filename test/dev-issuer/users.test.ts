import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_DEV_USER, parseDevUsers } from "../../src/dev-issuer/index.js";
import { resolveUser, UserDirectory } from "../../src/dev-issuer/users.js";
import { ConfigError } from "../../src/errors.js";

describe("dev issuer users", () => {
  it("defaults: one pro user dev@example.com in workspace org_dev, with stable derived ids", () => {
    const dir = new UserDirectory();
    expect(dir.defaultUser).toMatchObject({
      email: "dev@example.com",
      plan: "pro",
      workspaces: [
        { id: "org_dev", name: "Dev Workspace", plan: "pro", structure: "personal", role: "owner" },
      ],
    });
    expect(dir.defaultUser.sub).toMatch(/^auth0\|dev-[0-9a-f]{16}$/);
    expect(dir.defaultUser.userId).toMatch(/^user-[0-9a-f]{24}$/);
    expect(resolveUser(DEFAULT_DEV_USER)).toEqual(dir.defaultUser);
  });

  it("accepts {users:[…]} and a bare array; workspace plans override the user's", () => {
    const users = parseDevUsers({
      users: [
        { email: "a@example.com", plan: "plus", workspaces: [{ id: "w1" }, { id: "w2", plan: "team" }] },
      ],
    });
    const [a] = new UserDirectory(users).users;
    expect(a!.workspaces.map((w) => [w.id, w.plan, w.structure])).toEqual([
      ["w1", "plus", "personal"],
      ["w2", "team", "workspace"],
    ]);
    expect(parseDevUsers([{ email: "b@example.com" }])).toEqual([{ email: "b@example.com" }]);
  });

  it.each([
    [{}, "at least one user"],
    [{ users: [] }, "at least one user"],
    [{ users: [{}] }, '"email" must be a non-empty string'],
    [{ users: [{ email: "nope" }] }, "must be an email address"],
    [{ users: [{ email: "a@b.c", plan: 3 }] }, '"plan" must be a non-empty string'],
    [{ users: [{ email: "a@b.c", workspaces: [] }] }, '"workspaces" must be a non-empty array'],
    [{ users: [{ email: "a@b.c", workspaces: [{ id: "w", structure: "x" }] }] }, '"structure" must be'],
    [{ users: [{ email: "a@b.c" }], extra: 1 }, 'unknown key "extra"'],
  ])("refuses %j", (value, message) => {
    expect(() => parseDevUsers(value)).toThrow(message);
  });

  it("duplicate users are refused", () => {
    expect(() => new UserDirectory([{ email: "a@example.com" }, { email: "A@example.com" }])).toThrow(
      "duplicate",
    );
  });

  it("any JSON value either parses or fails with a ConfigError (never anything else)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          const users = parseDevUsers(value);
          expect(users.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
