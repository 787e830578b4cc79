import type { ASTVisitor, FieldNode, ValidationContext } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { clientMessage } from '#kit';
import type { RouterPlugin } from './routerPlugin.ts';

/**
 * What production mode adds to the router's documents: introspection (`__schema`, `__type`) is
 * refused while validating, with the code INTROSPECTION_DISABLED. `__typename` stays allowed.
 * Validation errors suggest no field names (`Did you mean "id"?`): they would tell the schema
 * introspection no longer tells.
 * (GraphiQL off and errors masked without their originals are the router's own settings.)
 */
export function useProductionMode(): RouterPlugin {
  // Ours, not useDisableIntrospection (@envelop/disable-introspection): its graphql-js rule gives no INTROSPECTION_DISABLED code.
  return {
    onValidate({ addValidationRule }) {
      // Validation errors reach the client without passing the error masking: their messages are changed here.
      const withoutSuggestions = ({ result }: { result: readonly Error[] }) => {
        for (const error of result) error.message = clientMessage(error.message, { hideSchemaDetails: true });
      };
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
      return withoutSuggestions;
    },
  };
}
