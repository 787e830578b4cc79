import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from 'graphql';
import type { RouterPlugin } from './routerPlugin.ts';

export interface QueryLimitsOptions {
  /** Deepest selection an operation may have (introspection fields do not count). Default 12. */
  maxDepth?: number;
  /** Most lexical tokens a document may have; parsing stops past it. Default 5000. */
  maxTokens?: number;
  /** Largest document in bytes, refused before it is parsed (see `DocumentLimits`). Default 64 KiB. */
  maxDocumentBytes?: number;
}

/**
 * Refuses documents that are too large or too deep before anything is planned or sent to a
 * subgraph: parsing stops after `maxTokens`, and validation rejects a selection deeper than
 * `maxDepth` (fragments followed) with the code QUERY_TOO_DEEP.
 */
export function useQueryLimits(options: QueryLimitsOptions = {}): RouterPlugin {
  const maxDepth = options.maxDepth ?? 12;
  const maxTokens = options.maxTokens ?? 5000;
  // Ours, not graphql-armor's max-depth/max-tokens (Hive Gateway's `maxDepth`/`maxTokens`, not installed): QUERY_TOO_DEEP is our code, and tokens are graphql-js's own parse limit.
  return {
    onParse({ parseFn, setParseFn }) {
      // The runtime's own parser, with a token limit: its errors keep their 400 status.
      setParseFn((source, parseOptions) => parseFn(source, { ...parseOptions, maxTokens }));
    },
    onValidate({ addValidationRule }) {
      addValidationRule((context: ValidationContext) => depthRule(context, maxDepth));
    },
  };
}

function depthRule(context: ValidationContext, maxDepth: number): ASTVisitor {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const depthOf = (selectionSet: SelectionSetNode, visiting: ReadonlySet<string>): number => {
    let deepest = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        deepest = Math.max(deepest, 1 + (selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
      } else {
        deepest = Math.max(deepest, fragmentDepth(selection.name.value, visiting));
      }
      if (deepest > maxDepth) break;
    }
    return deepest;
  };
  // Each fragment is measured once, however often it is spread: a document spreading a fragment
  // twice at every level would otherwise take exponential time (26 fragments: about 2 minutes).
  const fragmentDepths = new Map<string, number>();
  const fragmentDepth = (name: string, visiting: ReadonlySet<string>): number => {
    const known = fragmentDepths.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // A cycle of fragments is another rule's error; an unknown fragment too.
    if (!fragment || visiting.has(name)) return 0;
    const depth = depthOf(fragment.selectionSet, new Set([...visiting, name]));
    fragmentDepths.set(name, depth);
    return depth;
  };
  return {
    OperationDefinition(operation) {
      const depth = depthOf(operation.selectionSet, new Set());
      if (depth > maxDepth) {
        context.reportError(
          new GraphQLError(
            `The operation is ${depth > maxDepth + 1 ? 'more than ' : ''}${maxDepth + 1} levels deep; at most ${maxDepth} are allowed`,
            {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_DEEP' },
            },
          ),
        );
      }
    },
  };
}
