/**
 * A small JSON Schema checker for the keywords our generated schema uses; enough to show that
 * editors would accept the documents the loader accepts, without a validator dependency.
 */
type Schema = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function schemaErrors(schema: Schema, value: unknown, root: Schema = schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/$defs/', '');
    return schemaErrors((root.$defs as Record<string, Schema>)[name] as Schema, value, root, at);
  }
  const errors: string[] = [];
  const type = typeOf(value);
  if (typeof schema.type === 'string') {
    const ok = schema.type === type || (schema.type === 'number' && type === 'integer');
    if (!ok) return [`${at}: expected ${schema.type}, got ${type}`];
  }
  if ('const' in schema && schema.const !== value)
    errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: not in enum`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      errors.push(`${at}: too short`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(`${at}: does not match ${schema.pattern}`);
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      errors.push(`${at}: too few items`);
    if (schema.items) {
      for (const [i, v] of value.entries())
        errors.push(...schemaErrors(schema.items as Schema, v, root, `${at}[${i}]`));
    }
  }
  if (type === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (!(key in object)) errors.push(`${at}: missing ${key}`);
    }
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) errors.push(...schemaErrors(properties[key], v, root, `${at}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unknown key ${key}`);
      else if (typeof schema.additionalProperties === 'object') {
        errors.push(...schemaErrors(schema.additionalProperties as Schema, v, root, `${at}.${key}`));
      }
    }
  }
  if (Array.isArray(schema.anyOf)) {
    const results = (schema.anyOf as Schema[]).map((s) => schemaErrors(s, value, root, at));
    if (!results.some((r) => r.length === 0))
      errors.push(`${at}: matches no anyOf branch (${results.flat().join('; ')})`);
  }
  if (Array.isArray(schema.oneOf)) {
    const results = (schema.oneOf as Schema[]).map((s) => schemaErrors(s, value, root, at));
    const matches = results.filter((r) => r.length === 0).length;
    if (matches !== 1) errors.push(`${at}: matches ${matches} oneOf branches (${results.flat().join('; ')})`);
  }
  return errors;
}
