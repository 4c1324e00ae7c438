import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './projects.ts';

// The compose file is never started in CI (no Docker); this keeps it honest without Docker.
describe('localstack/docker-compose.yml', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'localstack', 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { image: string; profiles: string[]; ports: string[] }>;
  };

  it('offers LocalStack and MiniStack as profiles, one at a time on 4566', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['localstack', 'ministack']);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.profiles).toEqual([name]);
      expect(service.ports).toContain('127.0.0.1:4566:4566');
    }
  });

  it('pins exact image versions (LocalStack at a token-free 4.x tag) and binds to loopback only', () => {
    expect(compose.services.localstack?.image).toMatch(/^localstack\/localstack:4\.\d+\.\d+$/);
    expect(compose.services.ministack?.image).toMatch(/^ministackorg\/ministack:\d+\.\d+\.\d+$/);
    for (const service of Object.values(compose.services)) {
      for (const port of service.ports) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });
});
