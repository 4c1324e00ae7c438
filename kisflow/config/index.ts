/**
 * KisFlow configuration: YAML loading with located diagnostics, config in code for tests, the
 * plain-JSON form embedded in Lambda bundles, and the JSON Schema editors use.
 */

export type { ConfigIssue } from '../errors.ts';
export { ConfigError, formatConfigIssue } from '../errors.ts';
export type { BuildOptions, ProjectInput } from './build-project.ts';
export { buildProject } from './build-project.ts';
export { writeGeneratedDocs } from './generated-docs.ts';
export { configJsonSchema } from './json-schema.ts';
export type { LoadOptions } from './load-project.ts';
export { loadProject, validateProject } from './load-project.ts';
export type {
  ConnSpec,
  FlowSourceSpec,
  FlowSpec,
  FlowTuning,
  FuncSpec,
  FunctionMode,
  GlobalSpec,
  JobSpec,
  KeyRule,
  Params,
  ParamValue,
  ProjectConfig,
  SourcePosition,
  StepSpec,
} from './model.ts';
export type { ResourceNames } from './names.ts';
export { resourceNames, safeId, stackSafeId } from './names.ts';
export type { ProjectJson } from './project-json.ts';
export { projectFromJson, projectToJson } from './project-json.ts';
