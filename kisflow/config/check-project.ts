import type { z } from 'zod';
import type { ConfigIssue } from '../errors.ts';
import { type ConfigDocument, issueAt, whereIs } from './config-document.ts';
import { deploymentIssues } from './deployment-checks.ts';
import { didYouMean, didYouMeanHint } from './did-you-mean.ts';
import { type DocumentKind, idKeyOf, isMapping, type Kistype } from './document-kind.ts';
import { globalDocument } from './global-document.ts';
import { documentKinds, isKistype, KISTYPES } from './kistypes.ts';
import type { ConnSpec, FlowSpec, FuncSpec, GlobalSpec, JobSpec, ProjectConfig } from './model.ts';
import { type Entry, type ReferenceOptions, referenceIssues } from './references.ts';
import { describeValue, shapeIssues } from './shape-issues.ts';

export interface CheckOptions extends ReferenceOptions {
  /** Some source could not be read (a YAML syntax error): do not report ids as missing. */
  readonly incomplete?: boolean;
  /** The deployment prefix the synth-time name checks assume. @default 'kisflow' */
  readonly prefix?: string;
}

export interface CheckResult {
  /** Present only when there are no issues. */
  readonly project?: ProjectConfig;
  readonly issues: ConfigIssue[];
}

/** How messages name an object: `func "SaveOrder"`, or for config in code `funcs[0] (func "SaveOrder")`. */
function subjectOf(doc: ConfigDocument, kistype: Kistype, id: string | undefined): string {
  const named = id === undefined ? undefined : `${kistype} "${id}"`;
  if (doc.label !== undefined) return named ? `${doc.label} (${named})` : doc.label;
  return named ?? (kistype === 'global' ? 'global' : `${kistype} document`);
}

function idPath(kind: DocumentKind, doc: ConfigDocument): string[] {
  const key = kind.idKeys.find((k) => doc.has([k])) ?? kind.idKeys[0];
  return key === undefined ? [] : [key];
}

/** Issues sorted by file, line and column; objects given in code keep their order. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const text = (s: string | undefined) => s ?? '';
  return [...issues].sort((a, b) => {
    if (text(a.file) !== text(b.file)) return text(a.file) < text(b.file) ? -1 : 1;
    return (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
  });
}

/**
 * Both validation passes over a set of documents: the shape of each (zod, per kistype), then
 * duplicates and references between the well-shaped ones. Collects every problem.
 *
 * @example
 * const { project, issues } = checkDocuments(documents, { root: process.cwd(), checkHandlers: true });
 */
export function checkDocuments(documents: readonly ConfigDocument[], options: CheckOptions): CheckResult {
  const issues: ConfigIssue[] = [];
  const funcs = new Map<string, Entry<FuncSpec>>();
  const flows = new Map<string, Entry<FlowSpec>>();
  const conns = new Map<string, Entry<ConnSpec>>();
  const jobs = new Map<string, Entry<JobSpec>>();
  const globals: Entry<GlobalSpec>[] = [];
  const misshapen = {
    func: new Set<string>(),
    flow: new Set<string>(),
    conn: new Set<string>(),
    job: new Set<string>(),
  };

  /** An object we could not classify may still hold an id someone refers to. */
  const rememberIds = (value: Record<string, unknown>, guess: Kistype | undefined) => {
    for (const kistype of guess ? [guess] : KISTYPES) {
      const key = idKeyOf(documentKinds[kistype], value);
      if (key && kistype !== 'global') misshapen[kistype].add(value[key] as string);
    }
  };

  function shape<S extends z.ZodType, Spec>(
    kind: DocumentKind<S, Spec>,
    doc: ConfigDocument,
    input: Record<string, unknown>,
  ): Entry<Spec> | undefined {
    const key = idKeyOf(kind, input);
    const id = key === undefined ? undefined : (input[key] as string);
    const result = kind.schema.safeParse(input, { reportInput: true });
    if (!result.success) {
      issues.push(...shapeIssues(doc, kind.schema, result.error.issues, subjectOf(doc, kind.kistype, id)));
      if (id !== undefined && kind.kistype !== 'global') misshapen[kind.kistype].add(id);
      return undefined;
    }
    return { spec: kind.toSpec(result.data, (path) => doc.position(path)), doc };
  }

  function register<Spec>(
    map: Map<string, Entry<Spec>>,
    kind: DocumentKind,
    id: string,
    entry: Entry<Spec> | undefined,
  ): void {
    if (!entry) return;
    const first = map.get(id);
    if (first) {
      issues.push(
        issueAt(
          entry.doc,
          idPath(kind, entry.doc),
          `duplicate ${kind.kistype} id "${id}": already defined at ${whereIs(first.doc, idPath(kind, first.doc))}; ids must be unique per kistype`,
        ),
      );
      return;
    }
    map.set(id, entry);
  }

  for (const doc of documents) {
    const value = doc.value;
    if (!isMapping(value)) {
      issues.push(
        issueAt(
          doc,
          [],
          doc.label === undefined
            ? `a document must be a mapping with a kistype (func, flow, conn, global or job), got ${describeValue(value)}`
            : `${doc.label} must be an object, got ${describeValue(value)}`,
        ),
      );
      continue;
    }
    let kistype: unknown = value.kistype;
    let input = value;
    if (doc.kistype !== undefined) {
      if (kistype === undefined) {
        kistype = doc.kistype;
        input = { kistype, ...value };
      } else if (kistype !== doc.kistype) {
        issues.push(
          issueAt(
            doc,
            ['kistype'],
            `${doc.label ?? 'object'}: kistype ${describeValue(kistype)} in the list of ${doc.kistype} objects; write "${doc.kistype}" or leave it out`,
          ),
        );
        rememberIds(value, doc.kistype);
        continue;
      }
    } else if (kistype === undefined) {
      issues.push(
        issueAt(doc, [], `document has no kistype: add "kistype: func" (or flow, conn, global, job)`),
      );
      rememberIds(value, undefined);
      continue;
    }
    if (!isKistype(kistype)) {
      const guess =
        typeof kistype === 'string' ? (didYouMean(kistype, KISTYPES) as Kistype | undefined) : undefined;
      const hint = typeof kistype === 'string' ? didYouMeanHint(kistype, KISTYPES) : '';
      issues.push(
        issueAt(
          doc,
          ['kistype'],
          `unknown kistype ${typeof kistype === 'string' ? JSON.stringify(kistype) : describeValue(kistype)}: must be one of ${KISTYPES.join(', ')}${hint}`,
        ),
      );
      rememberIds(value, guess);
      continue;
    }
    switch (kistype) {
      case 'func': {
        const entry = shape(documentKinds.func, doc, input);
        if (entry) register(funcs, documentKinds.func, entry.spec.fid, entry);
        break;
      }
      case 'flow': {
        const entry = shape(documentKinds.flow, doc, input);
        if (entry) register(flows, documentKinds.flow, entry.spec.flowId, entry);
        break;
      }
      case 'conn': {
        const entry = shape(documentKinds.conn, doc, input);
        if (entry) register(conns, documentKinds.conn, entry.spec.cid, entry);
        break;
      }
      case 'job': {
        const entry = shape(documentKinds.job, doc, input);
        if (entry) register(jobs, documentKinds.job, entry.spec.jobId, entry);
        break;
      }
      case 'global': {
        const entry = shape(documentKinds.global, doc, input);
        const first = globals[0];
        if (entry && first) {
          issues.push(
            issueAt(
              doc,
              [],
              `a second global document: the first is at ${whereIs(first.doc, [])}; a project has at most one, merge them`,
            ),
          );
        } else if (entry) globals.push(entry);
        break;
      }
    }
  }

  issues.push(
    ...referenceIssues(
      { funcs, flows, conns, jobs, misshapen, incomplete: options.incomplete ?? false },
      { root: options.root, checkHandlers: options.checkHandlers },
    ),
  );
  if (issues.length > 0) return { issues };
  const specs = <Spec>(map: Map<string, Entry<Spec>>) =>
    new Map([...map].map(([id, entry]) => [id, entry.spec]));
  const project: ProjectConfig = {
    root: options.root,
    funcs: specs(funcs),
    flows: specs(flows),
    conns: specs(conns),
    jobs: specs(jobs),
    global: globals[0]?.spec ?? defaultGlobal(),
  };
  // Last: what `cdk synth` checks, over a project whose every reference resolves.
  const deployment = deploymentIssues(
    project,
    options.prefix === undefined ? {} : { prefix: options.prefix },
  );
  return deployment.length > 0 ? { issues: deployment } : { issues, project };
}

/** The global settings of a project without a global document. */
export function defaultGlobal(): GlobalSpec {
  return globalDocument.toSpec(globalDocument.schema.parse({ kistype: 'global' }), () => undefined);
}
