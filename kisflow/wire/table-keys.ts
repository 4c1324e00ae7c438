/**
 * The key schema of every KisFlow table (connectors and keyed state): the CDK tables, the dev
 * tables and the DynamoDB stores must agree on it, so it is written once, here.
 */

/** `pk` (S, HASH) + `sk` (S, RANGE). */
export const TABLE_KEY = { partition: 'pk', sort: 'sk' } as const;

/** The attribute DynamoDB's TTL reads (epoch seconds) on records that expire. */
export const TTL_ATTRIBUTE = 'ttl';
