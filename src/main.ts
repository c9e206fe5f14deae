/**
 * Composition root for `flinktrail serve`: load config, build, listen, on SIGHUP reload the TLS
 * files, and on SIGTERM/SIGINT shut down gracefully (stop accepting, finish requests in flight,
 * flush every event).
 */
import { buildApp, type ListenInfo } from './app.js';
import type { Directory } from './identity/directory.js';
import type { Config } from './config/index.js';
import { createLogger, type Logger } from './telemetry/logger.js';

export interface Running {
  info: ListenInfo;
  /** The identity directory on the running app's store (the demo makes its user with it). */
  directory: Directory;
  stop(): Promise<void>;
}

/** `log`: where logs go instead of stdout (the demo keeps stdout for its banner). */
export async function serve(config: Readonly<Config>, opts: { log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.log.level);
  const app = await buildApp(config, { log });
  const info = await app.listen();
  log.info({ apiUrl: info.apiUrl, clusters: info.clusters, dataDir: config.dataDir }, 'FlinkTrail is listening.');
  // SIGHUP: read the TLS certificates, keys, CAs and CRLs again (file changes are also seen without it).
  const onHup = () => void app.reloadTls();
  process.on('SIGHUP', onHup);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= app.close().then(() => {
    process.off('SIGHUP', onHup);
    log.info('FlinkTrail stopped; every accepted event was flushed.');
  }));
  return { info, directory: app.directory, stop };
}

/** Stops on the first SIGTERM/SIGINT, then runs `after`. */
export function stopOnSignals(stop: () => Promise<void>, after?: () => Promise<void> | void): void {
  let once = false;
  const handler = (signal: NodeJS.Signals) => {
    if (once) return;
    once = true;
    void (async () => {
      try {
        await stop();
        await after?.();
      } finally {
        process.exitCode = signal === 'SIGINT' ? 130 : 0;
        process.exit();
      }
    })();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
