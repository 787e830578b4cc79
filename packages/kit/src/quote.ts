/** Characters of a client's input an error message quotes at most. */
export const QUOTED_INPUT_CHARS = 40;

/**
 * A client's input quoted for an error message: in double quotes, cut to its first 40 characters
 * (with `...`), so that a hostile input is never echoed back whole (a 900 KB id, three times).
 */
export function quoteInput(text: string): string {
  return JSON.stringify(text.length > QUOTED_INPUT_CHARS ? `${text.slice(0, QUOTED_INPUT_CHARS)}...` : text);
}
