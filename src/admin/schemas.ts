// Issue 16: /admin request and response schemas (TypeBox: validated on the way in, published in openapi.json).
import { t, type TSchema } from "elysia";

const Decimal = t.String({ maxLength: 32, description: "Decimal amount string (SPEC §6.3), e.g. \"12.50\"" });
const Currency = t.String({ pattern: "^[A-Z]{3,5}$" });
const Cursor = t.Optional(t.String({ pattern: "^[0-9]{1,19}$", description: "nextCursor from the previous page" }));
const Limit = t.Optional(t.String({ pattern: "^[0-9]{1,3}$", description: "1–200, default 50" }));

export const PageQuery = t.Object({ limit: Limit, cursor: Cursor });
export const Page = <T extends TSchema>(item: T) => t.Object({ items: t.Array(item), nextCursor: t.Optional(t.String()) });

export const Balance = t.Object({ currency: t.String(), amount: t.String() });
export const UserSummary = t.Object({ id: t.String(), name: t.String(), createdAt: t.Integer(), frozen: t.Boolean() });
export const LimitsView = t.Record(t.String(), t.Record(t.String(), t.String()), { description: "currency → limit name → maximum" });
export const UserDetail = t.Object({ user: UserSummary, balances: t.Array(Balance), limits: LimitsView });
export const CreateUserBody = t.Object({ name: t.String({ minLength: 1, maxLength: 64 }) });
export const UserWithToken = t.Object({ user: t.Object({ id: t.String(), name: t.String() }), token: t.String({ description: "Shown once" }) });
export const UserEnvelope = t.Object({ user: UserSummary });
export const FundsBody = t.Object({ currency: Currency, amount: Decimal });
export const Movement = t.Object({
  movement: t.Object({
    id: t.String(),
    kind: t.Union([t.Literal("credit"), t.Literal("debit")]),
    account: t.String(),
    currency: t.String(),
    amount: t.String(),
    balance: t.String({ description: "The account's balance after the movement" }),
    createdAt: t.Integer(),
  }),
});
const LimitValue = t.Optional(t.Union([Decimal, t.Null()]));
export const LimitsBody = t.Object({ currency: Currency, perPayment: LimitValue, perDay: LimitValue, maxBalance: LimitValue });
export const LimitsResult = t.Object({ userId: t.String(), limits: LimitsView });
export const AuditItem = t.Object({ id: t.Integer(), actor: t.String(), action: t.String(), args: t.Record(t.String(), t.Unknown()), at: t.Integer() });
