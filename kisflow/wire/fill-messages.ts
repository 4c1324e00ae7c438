/** Items that fit one message, as their JSON texts, in order. */
export interface MessageFill<T> {
  readonly items: T[];
  readonly parts: string[];
}

/**
 * Cuts items, in order, into as few messages as `maxBytes` allows: each message is filled until
 * the next item would not fit. A message is `head + parts.join(',') + tail` of `overhead` bytes
 * plus its parts and commas, so each item is encoded and measured once: linear, no re-encoding.
 * An item too large for a message even alone goes to `oversize` (the caller dead-letters or
 * refuses it). The one fill routine of envelopes (`packBatch`) and dead-letter records.
 *
 * @example
 * const { fills } = fillMessages(rows, (r) => JSON.stringify(r), 100, 262_144);
 */
export function fillMessages<T>(
  items: readonly T[],
  encode: (item: T) => string,
  overhead: number,
  maxBytes: number,
): { fills: MessageFill<T>[]; oversize: { item: T; bytes: number }[] } {
  const fills: MessageFill<T>[] = [];
  const oversize: { item: T; bytes: number }[] = [];
  let fill: MessageFill<T> = { items: [], parts: [] };
  let size = overhead;
  for (const item of items) {
    const json = encode(item);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (overhead + bytes > maxBytes) {
      oversize.push({ item, bytes });
      continue;
    }
    const comma = fill.parts.length > 0 ? 1 : 0;
    if (size + bytes + comma > maxBytes) {
      fills.push(fill);
      fill = { items: [], parts: [] };
      size = overhead;
    }
    size += bytes + (fill.parts.length > 0 ? 1 : 0);
    fill.parts.push(json);
    fill.items.push(item);
  }
  if (fill.parts.length > 0) fills.push(fill);
  return { fills, oversize };
}
