import { QUOTED_INPUT_CHARS } from './quote.ts';

/** Characters an error message sent to a client has at most (graphql-js quotes input values whole). */
export const MAX_ERROR_MESSAGE_CHARS = 300;

/**
 * The message of an error as a client may see it: cut to `MAX_ERROR_MESSAGE_CHARS` (a coercion
 * error quotes the whole value it refused), and without graphql-js' field suggestions (` Did you
 * mean "x"?`) when the schema's details are hidden, as in production, where introspection is off.
 */
export function clientMessage(message: string, options: { hideSchemaDetails: boolean }): string {
  const text = options.hideSchemaDetails ? message.replace(/ Did you mean [^]*$/, '') : message;
  return text.length <= MAX_ERROR_MESSAGE_CHARS ? text : `${text.slice(0, MAX_ERROR_MESSAGE_CHARS)}... (cut)`;
}

/** A client's input as a short prefix, for `extensions` that name it (such as `id`). */
export function clipInput(value: string): string {
  return value.length <= QUOTED_INPUT_CHARS ? value : `${value.slice(0, QUOTED_INPUT_CHARS)}...`;
}
