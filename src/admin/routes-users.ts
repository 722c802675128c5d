// Issue 16: /admin/users* and /admin/audit.
import type { AdminRoute } from "./route";
import { answer, fundsRoutes, paged, pageParams } from "./route";
import * as S from "./schemas";
import {
  adminCreateUser,
  moveUserFunds,
  requireUser,
  rotateUserToken,
  setFrozen,
  setUserLimits,
  setUserTier,
  userDetail,
  userJson,
} from "./users";
import { issueEnrolLink } from "../flows/sign-in";

export const USER_ROUTES: AdminRoute[] = [
  {
    method: "GET",
    path: "/users",
    scope: "users:read",
    summary: "List users (creation order, cursor pages)",
    query: S.PageQuery,
    response: S.Page(S.UserSummary),
    handle: (gw, c) => {
      const { limit, cursor } = pageParams(c.query, 0);
      return gw.store.read(async (tx) => {
        const page = paged(
          await tx.users.page(cursor, limit + 1),
          limit,
          (u) => u.cursor,
          (u) => userJson(tx, u),
        );
        return { ...page, items: await Promise.all(page.items) };
      });
    },
  },
  {
    method: "POST",
    path: "/users",
    scope: "users:write",
    summary: "Create a user; the bearer token is in the answer only",
    body: S.CreateUserBody,
    status: 201,
    response: S.UserWithToken,
    handle: async (gw, c) => answer({ status: 201, body: await adminCreateUser(gw, c.key.name, c.body.name) }),
  },
  {
    method: "GET",
    path: "/users/:id",
    scope: "users:read",
    summary: "A user, its balances and limits",
    response: S.UserDetail,
    handle: (gw, c) => userDetail(gw, c.params.id!),
  },
  {
    method: "POST",
    path: "/users/:id/freeze",
    scope: "users:write",
    summary: "Freeze: the user can no longer confirm, pay or receive",
    response: S.UserEnvelope,
    handle: (gw, c) => setFrozen(gw, c.key.name, c.params.id!, true),
  },
  {
    method: "POST",
    path: "/users/:id/unfreeze",
    scope: "users:write",
    summary: "Unfreeze",
    response: S.UserEnvelope,
    handle: (gw, c) => setFrozen(gw, c.key.name, c.params.id!, false),
  },
  {
    method: "POST",
    path: "/users/:id/token",
    scope: "users:write",
    summary: "Rotate the user's bearer token (every older token is revoked)",
    response: S.UserWithToken,
    handle: (gw, c) => rotateUserToken(gw, c.key.name, c.params.id!),
  },
  {
    method: "POST",
    path: "/users/:id/enrol-link",
    scope: "users:write",
    summary: "A one-time link that lets the user register a first passkey (issue 22)",
    status: 201,
    response: S.EnrolLink,
    handle: async (gw, c) => {
      const user = await gw.store.read((tx) => requireUser(tx, c.params.id!));
      return answer({ status: 201, body: await issueEnrolLink(gw, c.key.name, user) });
    },
  },
  {
    method: "PUT",
    path: "/users/:id/limits",
    scope: "users:write",
    summary: "Set per-user limits for one currency (per payment, per UTC day, maximum balance); null removes one",
    body: S.LimitsBody,
    response: S.LimitsResult,
    handle: (gw, c) => setUserLimits(gw, c.key.name, c.params.id!, c.body),
  },
  {
    method: "PUT",
    path: "/users/:id/tier",
    scope: "users:write",
    summary: "Pin a user to a KYC tier (null: back to the tier their verifications qualify for)",
    body: S.TierBody,
    response: S.TierResult,
    handle: (gw, c) => setUserTier(gw, c.key.name, c.params.id!, c.body.tier),
  },
  ...fundsRoutes(
    "/users/:id",
    "funds:write",
    {
      credit: "Credit a user (deposit / top-up) from funding",
      debit: "Debit a user (withdrawal / cash-out) to funding",
    },
    (gw, tx, c, kind) => moveUserFunds(gw, tx, c.key.name, c.params.id!, kind, c.body.currency, c.body.amount),
  ),
  {
    method: "GET",
    path: "/audit",
    scope: "audit:read",
    summary: "The audit log, newest first",
    query: S.PageQuery,
    response: S.Page(S.AuditItem),
    handle: (gw, c) => {
      const { limit, cursor } = pageParams(c.query, Number.MAX_SAFE_INTEGER);
      return gw.store.read(async (tx) =>
        paged(
          await tx.audit.page(cursor, limit + 1),
          limit,
          (a) => a.id,
          (a) => a,
        ),
      );
    },
  },
];
