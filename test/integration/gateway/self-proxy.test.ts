/**
 * FlinkTrail refuses to start as its own upstream: a cluster URL that reaches one of its own
 * listeners is a configuration error (FT_ERR_CONFIG_SELF_PROXY), found once the ports are bound.
 * A cluster listening on port 0 is found too, against the port it got.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { buildApp } from '../../../src/app.js';
import { buildConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { FlinkTrailError } from '../../../src/errors/index.js';
import { tempDir } from '../../helpers/flinktrail.js';

/** A port the OS just handed out; the start below retries with another when something took it first. */
async function candidatePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startExpectingRefusal(config: (port: number) => Record<string, unknown>): Promise<FlinkTrailError> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = await candidatePort();
    const app = await buildApp(buildConfig({ dataDir: tempDir(), log: { level: 'fatal' }, ...config(port) }), { log: createLogger('fatal') });
    try {
      await app.listen();
      await app.close();
      assert.fail('FlinkTrail started with a cluster URL that points at itself');
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE') {
        await app.close().catch(() => undefined);
        continue; // someone else took the port first: not what is tested here
      }
      assert.ok(err instanceof FlinkTrailError, String(err));
      return err;
    }
  }
  throw new Error('no port could be bound in 10 attempts');
}

describe('the gateway refuses to proxy to itself', () => {
  it('refuses a cluster URL on the API listener, by name or address', async () => {
    const err = await startExpectingRefusal((port) => ({ api: { port }, clusters: [{ name: 'loop', url: `http://localhost:${port}` }] }));
    assert.equal(err.code, 'FT_ERR_CONFIG_SELF_PROXY');
    assert.match(err.message, /Cluster "loop" has url http:\/\/localhost:\d+.*proxy to itself/);
  });

  it("refuses a cluster URL on a cluster's own dedicated listener", async () => {
    const err = await startExpectingRefusal((port) => ({ api: { port: 0 }, clusters: [{ name: 'prod', url: `http://127.0.0.1:${port}`, listen: { port } }] }));
    assert.equal(err.code, 'FT_ERR_CONFIG_SELF_PROXY');
  });

  it('starts with a cluster URL elsewhere', async () => {
    const app = await buildApp(buildConfig({ dataDir: tempDir(), api: { port: 0 }, log: { level: 'fatal' }, clusters: [{ name: 'c', url: 'http://127.0.0.1:9', listen: { port: 0 } }] }), { log: createLogger('fatal') });
    const info = await app.listen();
    assert.match(info.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    await app.close();
  });
});
