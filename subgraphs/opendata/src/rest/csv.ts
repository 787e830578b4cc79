/** One CSV cell value; null and undefined become empty cells. */
export type CsvValue = string | number | null | undefined;

/**
 * RFC 4180 text: CRLF line ends, a header row, and cells quoted (with inner quotes doubled) when
 * they hold a comma, a quote or a line break.
 */
export function toCsv(columns: readonly string[], rows: ReadonlyArray<Readonly<Record<string, CsvValue>>>): string {
  const line = (cells: readonly CsvValue[]) => cells.map(csvCell).join(',') + '\r\n';
  return line(columns) + rows.map((row) => line(columns.map((column) => row[column]))).join('');
}

function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
