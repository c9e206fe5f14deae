/**
 * Structured JSON logs (pino). Authorization and cookie headers are redacted at the logger too,
 * so a secret never reaches a log line even if a request is logged whole by mistake.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A log file, appended to, written synchronously: log lines are few (no per-request logging),
 * and a process that exits right after its last line must not lose it.
 */
export function logFile(path: string): NodeJS.WritableStream {
  return pino.destination({ dest: path, append: true, mkdir: true, sync: true }) as unknown as NodeJS.WritableStream;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'flinktrail' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.accessKeySecret', '*.password'],
        censor: '******',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
