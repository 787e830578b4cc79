import {
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { RouterPlugin } from './routerPlugin.ts';

export interface CostLimitOptions {
  /** Highest estimated cost an operation may have. Default 5000. */
  maxCost?: number;
  /** How many items a list field is assumed to return. Default 10. */
  defaultListSize?: number;
  /** Assumed sizes of particular list fields by schema coordinate, e.g. `{ 'Query.gateways': 300 }`. */
  listSizes?: Readonly<Record<string, number>>;
  /** Most fields an operation may select once its fragments are spread (each spread counts again). Default 1000. */
  maxFields?: number;
  /**
   * Most mutation fields one operation may carry. Default 10: each provisions (nodes, vRouters,
   * pods), and the whole operation takes one request of the rate limit.
   */
  maxMutationFields?: number;
}

/**
 * Refuses operations that would cost too much, while validating them, so before anything is
 * planned or sent to a subgraph:
 * - COST_LIMIT_EXCEEDED (`estimatedCost`, `maxCost`): the estimate of IBM's GraphQL cost
 *   specification, as in Hive Gateway's demand control: every field returning an object,
 *   interface or union costs 1, scalars nothing, and a list field multiplies what it and its
 *   selection cost by its assumed size (once per list level);
 * - QUERY_TOO_LARGE (`fields`, `maxFields`): too many fields once fragments are spread. A few
 *   hundred bytes that spread a fragment twice at every level select millions of fields, and the
 *   Rust query planner expands them all (22 levels: 23 s of blocked event loop, measured).
 *
 * Every fragment is measured once however often it is spread, so this takes linear time. The
 * variables play no part (our lists have no slicing arguments), so the verdict is cached with the
 * document's validation. Hive's `useDemandControl` is not used: it counts per subgraph request,
 * so an operation over the limit has already reached its first subgraphs.
 */
export function useCostLimit(options: CostLimitOptions = {}): RouterPlugin {
  const limits: Required<CostLimitOptions> = {
    maxCost: options.maxCost ?? 5000,
    defaultListSize: options.defaultListSize ?? 10,
    listSizes: options.listSizes ?? {},
    maxFields: options.maxFields ?? 1000,
    maxMutationFields: options.maxMutationFields ?? 10,
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule((context: ValidationContext) => costRule(context, limits));
    },
  };
}

function costRule(context: ValidationContext, limits: Required<CostLimitOptions>): ASTVisitor {
  const schema = context.getSchema();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }

  const fragmentFields = oncePerFragment(fragments);
  const fieldCount = (selectionSet: SelectionSetNode): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) total += 1 + (selection.selectionSet ? fieldCount(selection.selectionSet) : 0);
      else if (selection.kind === Kind.INLINE_FRAGMENT) total += fieldCount(selection.selectionSet);
      else total += fragmentFields(selection.name.value, (fragment) => fieldCount(fragment.selectionSet));
    }
    return total;
  };

  const listFactor = (field: GraphQLField<unknown, unknown>, coordinate: string): number => {
    // `[[Reading!]!]` is two list levels.
    const levels = String(field.type).split('[').length - 1;
    return (limits.listSizes[coordinate] ?? limits.defaultListSize) ** levels;
  };
  const fragmentRootFields = oncePerFragment(fragments);
  const rootFieldCount = (selectionSet: SelectionSetNode): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) total += 1;
      else if (selection.kind === Kind.INLINE_FRAGMENT) total += rootFieldCount(selection.selectionSet);
      else total += fragmentRootFields(selection.name.value, (fragment) => rootFieldCount(fragment.selectionSet));
    }
    return total;
  };

  const fragmentCost = oncePerFragment(fragments);
  const costOf = (selectionSet: SelectionSetNode, type: GraphQLNamedType): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        // Introspection costs nothing; unknown fields are another rule's error.
        const field = fieldsOf(type)?.[selection.name.value];
        if (!field || selection.name.value.startsWith('__')) continue;
        const returned = compositeType(schema, String(field.type).replace(/[[\]!]/g, ''));
        if (!returned) continue;
        const own = 1 + (selection.selectionSet ? costOf(selection.selectionSet, returned) : 0);
        total += own * listFactor(field, `${type.name}.${field.name}`);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? compositeType(schema, selection.typeCondition.name.value) : type;
        if (condition) total += costOf(selection.selectionSet, condition);
      } else {
        total += fragmentCost(selection.name.value, (fragment) => {
          const condition = compositeType(schema, fragment.typeCondition.name.value);
          return condition ? costOf(fragment.selectionSet, condition) : 0;
        });
      }
    }
    return total;
  };

  return {
    OperationDefinition(operation) {
      const fields = fieldCount(operation.selectionSet);
      if (fields > limits.maxFields) {
        context.reportError(
          createGraphQLError(
            `The operation selects ${fields} fields once its fragments are spread; at most ${limits.maxFields} are allowed`,
            {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_LARGE', fields, maxFields: limits.maxFields },
            },
          ),
        );
        return;
      }
      const mutations = operation.operation === 'mutation' ? rootFieldCount(operation.selectionSet) : 0;
      if (mutations > limits.maxMutationFields) {
        context.reportError(
          createGraphQLError(
            `The operation carries ${mutations} mutations; at most ${limits.maxMutationFields} are allowed in one operation`,
            {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_LARGE', mutations, maxMutations: limits.maxMutationFields },
            },
          ),
        );
        return;
      }
      const root = schema.getRootType(operation.operation);
      const cost = root ? costOf(operation.selectionSet, root) : 0;
      if (cost <= limits.maxCost) return;
      context.reportError(
        createGraphQLError(
          `The operation's estimated cost is ${cost}, more than the limit of ${limits.maxCost} (a list counts as ${limits.defaultListSize} items unless configured otherwise)`,
          {
            nodes: [operation],
            extensions: { code: 'COST_LIMIT_EXCEEDED', estimatedCost: cost, maxCost: limits.maxCost },
          },
        ),
      );
    },
  };
}

/**
 * A measure of fragments taken once per fragment, however often it is spread (the fragment's
 * type condition fixes its type, so its measure is the same everywhere). An unknown fragment or
 * one of a cycle measures 0: other rules report those.
 */
function oncePerFragment(
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): (name: string, measure: (fragment: FragmentDefinitionNode) => number) => number {
  const measured = new Map<string, number>();
  const visiting = new Set<string>();
  return (name, measure) => {
    const known = measured.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    if (!fragment || visiting.has(name)) return 0;
    visiting.add(name);
    const value = measure(fragment);
    visiting.delete(name);
    measured.set(name, value);
    return value;
  };
}

// Types are told apart by their shape, not with graphql's `isObjectType` & co.: those use
// `instanceof`, which throws when graphql is loaded twice (its ESM and CJS builds, as under vitest).

/** The object, interface or union type of this name; undefined for scalars, enums, introspection and unknown names. */
function compositeType(schema: GraphQLSchema, name: string): GraphQLNamedType | undefined {
  const type = schema.getType(name);
  return type && !name.startsWith('__') && ('getFields' in type || 'getTypes' in type) ? type : undefined;
}

function fieldsOf(type: GraphQLNamedType): Record<string, GraphQLField<unknown, unknown>> | undefined {
  return 'getFields' in type ? (type.getFields() as Record<string, GraphQLField<unknown, unknown>>) : undefined;
}
