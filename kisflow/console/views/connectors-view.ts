import { type ConnectorPage, scanConnectorItems } from '../../aws/connector-items.ts';
import { resourceNames } from '../../config/names.ts';
import { UsageError } from '../../errors.ts';
import type { ConsoleContext } from '../console-context.ts';

/** The Connectors page's list: each connector, the functions that save to and load from it. */
export async function connectorsView(context: ConsoleContext) {
  const project = await context.project();
  return [...project.conns.values()].map((c) => ({
    cid: c.cid,
    cname: c.cname,
    type: c.type,
    key: c.key,
    save: c.save,
    load: c.load,
    flows: c.flows,
    browsable: c.type === 'dynamodb',
  }));
}

/** A page of what a connector holds, by key (what Save stored, what Load reads). */
export async function connectorItems(
  context: ConsoleContext,
  cid: string,
  options: { keyPrefix?: string; after?: string; limit?: number },
): Promise<ConnectorPage> {
  const project = await context.project();
  const conn = project.conns.get(cid);
  if (conn === undefined) {
    throw new UsageError('UNKNOWN_CONNECTOR', `There is no connector '${cid}'.`, { cid });
  }
  if (conn.type !== 'dynamodb') {
    throw new UsageError(
      'CONNECTOR_NOT_BROWSABLE',
      `Connector '${cid}' is of type ${conn.type}; only dynamodb connectors can be browsed.`,
      { cid, type: conn.type },
    );
  }
  const table =
    (await context.resources()).connectorTables[cid] ?? resourceNames(context.prefix).connectorTable(cid);
  return scanConnectorItems(context.clients.dynamodb, table, options);
}
