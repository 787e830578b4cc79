// Placeholder: shared gateways' mutations (issue 13, item 4) are written here.
import type { Resolvers } from '../__generated__/resolvers.ts';

/** `Mutation.assignNodes`, `removeGatewayTenant`, and `Gateway.tenants`. */
export const tenancyResolvers: Resolvers = {};
