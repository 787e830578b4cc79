import { requireScope, Scope } from '#auth';
import { runMutation } from '#kit';
import type { OnboardTenantPayload, Resolvers, UserError } from '../__generated__/resolvers.ts';
import { toUserError } from '../user-errors.ts';

/**
 * `Query.tenants` (needs `infra:read`; the tenant wall keeps a tenant to its own),
 * `Mutation.onboardTenant` (needs `admin`) and a tenant's parts, each through a per-operation
 * loader. The scope is checked first (a top-level FORBIDDEN), then `runMutation` gives
 * idempotency and turns expected failures into the payload's `userErrors`.
 */
export const tenantResolvers: Resolvers = {
  Query: {
    tenants: (_root, _args, ctx) => {
      requireScope(ctx.caller, Scope.INFRA_READ);
      return ctx.loaders.lists.tenants();
    },
  },
  Mutation: {
    onboardTenant: (_root, { input }, ctx) => {
      requireScope(ctx.caller, Scope.ADMIN);
      const { exposeInternalErrors, idempotency } = ctx.services;
      const runner = { caller: ctx.caller, idempotency, toUserError: (error: unknown) => toUserError(error, { exposeInternalErrors }) };
      return runMutation<UserError, OnboardTenantPayload>(runner, 'onboardTenant', input, { tenant: null }, async () => {
        const onboarded = await ctx.sources.onboarder.onboard({ id: input.id, name: input.name });
        return { tenant: { id: onboarded.id } };
      });
    },
  },
  Tenant: {
    namespace: (tenant, _args, ctx) => ctx.loaders.namespaceOfTenant.load(tenant.id),
    virtualNetwork: (tenant, _args, ctx) => ctx.loaders.virtualNetworkOfTenant.load(tenant.id),
    project: (tenant, _args, ctx) => ctx.loaders.projectOfTenant.load(tenant.id),
  },
};
