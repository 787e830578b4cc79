import type { ASTVisitor, FieldNode, ValidationContext } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * What production mode adds to the router's documents: introspection (`__schema`, `__type`) is
 * refused while validating, with the code INTROSPECTION_DISABLED. `__typename` stays allowed.
 * (GraphiQL off and errors masked without their originals are the router's own settings.)
 */
export function useProductionMode(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule((context: ValidationContext): ASTVisitor => ({
        Field(node: FieldNode) {
          if (node.name.value !== '__schema' && node.name.value !== '__type') return;
          context.reportError(
            createGraphQLError(`Introspection is disabled on this production API: "${node.name.value}" cannot be queried`, {
              nodes: [node],
              extensions: { code: 'INTROSPECTION_DISABLED' },
            }),
          );
        },
      }));
    },
  };
}
