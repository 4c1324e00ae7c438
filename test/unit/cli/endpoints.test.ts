import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveEndpoints } from '../../../kisflow/cli/endpoints.ts';
import {
  devEndpointsFile,
  readDevEndpoints,
  writeDevEndpoints,
} from '../../../kisflow/local/dev-endpoints.ts';

let root: string;
const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kisflow-endpoints-'));
  vi.stubEnv('AWS_ENDPOINT_URL', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(root, { recursive: true, force: true });
});

const dev = (pid: number) => ({
  sqsEndpoint: 'http://127.0.0.1:1111',
  dynamodbEndpoint: 'http://127.0.0.1:2222',
  prefix: 'dev',
  pid,
});

describe('.kisflow/dev.json', () => {
  it('is written atomically and read back', () => {
    writeDevEndpoints(root, dev(process.pid));
    expect(readDevEndpoints(root)).toEqual(dev(process.pid));
    expect(readdirSync(join(root, '.kisflow'))).toEqual(['dev.json']);
  });

  it('reads as absent when missing or malformed', () => {
    expect(readDevEndpoints(root)).toBeUndefined();
    writeDevEndpoints(root, dev(process.pid));
    writeFileSync(devEndpointsFile(root), '{"sqsEndpoint":1}');
    expect(readDevEndpoints(root)).toBeUndefined();
  });
});

describe('resolveEndpoints: flag > AWS_ENDPOINT_URL > live dev.json > AWS', () => {
  it('uses AWS with nothing set', () => {
    expect(resolveEndpoints({ root })).toEqual({ source: 'aws' });
  });

  it('uses a dev.json whose process is alive, with its prefix', () => {
    writeDevEndpoints(root, dev(process.pid));
    expect(resolveEndpoints({ root })).toEqual({
      sqsEndpoint: 'http://127.0.0.1:1111',
      dynamodbEndpoint: 'http://127.0.0.1:2222',
      source: 'dev',
      prefix: 'dev',
    });
  });

  it("carries the dev stack's runs table, so `kisflow runs`/`jobs` need no --table", () => {
    writeDevEndpoints(root, { ...dev(process.pid), runsTable: 'dev-runs' });
    expect(resolveEndpoints({ root })).toMatchObject({ source: 'dev', runsTable: 'dev-runs' });
  });

  it('ignores a dev.json left by a process that is gone', () => {
    writeDevEndpoints(root, dev(deadPid));
    expect(resolveEndpoints({ root }).source).toBe('aws');
  });

  it('prefers AWS_ENDPOINT_URL over dev.json', () => {
    writeDevEndpoints(root, dev(process.pid));
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://localhost:4566');
    expect(resolveEndpoints({ root })).toEqual({
      sqsEndpoint: 'http://localhost:4566',
      dynamodbEndpoint: 'http://localhost:4566',
      source: 'env',
    });
  });

  it('prefers --endpoint over everything', () => {
    writeDevEndpoints(root, dev(process.pid));
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://localhost:4566');
    expect(resolveEndpoints({ root, endpoint: 'http://127.0.0.1:9' })).toMatchObject({
      sqsEndpoint: 'http://127.0.0.1:9',
      source: 'flag',
    });
  });
});
