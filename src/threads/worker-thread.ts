/**
 * Worker threads that answer calls: the one mechanism behind the store's threads and ingest's
 * preparation threads, so that CPU-heavy or synchronous work never runs on the thread that
 * proxies Flink.
 *
 * The main side (`WorkerThread`) posts `{id, call}` and settles the promise of that id when the
 * answer comes back; a thread that dies fails every call it had in flight and is started again
 * on the next call. The worker side (`serveCalls`) answers each message with `answer(call)`; the
 * answer to the closing call is posted only after every other answer, so that nothing the
 * thread did before closing is reported as failed when the main side ends it on that answer.
 * Threads start from the compiled `.js` file, or under tsx (tests, benchmarks) from the `.ts`
 * file through a one-line bootstrap that registers tsx inside the thread: Node 20 refuses a .ts
 * worker entry before tsx's inherited hooks can see it. This module imports nothing of ours.
 *
 * A thread may run at a lower CPU priority than the request thread (`nice`): queries and ingest
 * preparation are background work, and on a machine with fewer cores than runnable threads the
 * kernel then runs the thread proxying Flink first. Linux keeps a nice value per thread, so the
 * thread lowers its own; elsewhere `setpriority` would lower the whole process, so it does not.
 */
import { getPriority, setPriority } from 'node:os';
import { Worker, workerData, type MessagePort, type Transferable } from 'node:worker_threads';

export class ThreadError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Messages a thread posts besides answers: `ready` once it can take calls, others are the caller's. */
export type Notice = { notice: 'ready' } | { notice: string; [k: string]: unknown };

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; code?: string } | { id: number; progress: unknown };

/** The URL of the worker file `name` beside the module at `base` (pass `import.meta.url`). */
export function workerFile(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

function entryOf(url: URL): { entry: URL | string; eval: boolean } {
  if (!url.pathname.endsWith('.ts')) return { entry: url, eval: false };
  return { entry: `import('tsx/esm/api').then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`, eval: true };
}

/** What a thread is started with (its `workerData`). */
interface ThreadStart {
  nice: number;
  data: unknown;
}

/** In a thread: the `data` its `WorkerThreadSpec` gave. */
export function threadData<T>(): T {
  return (workerData as ThreadStart).data as T;
}

/**
 * In a thread: lowers its own priority by the spec's `nice` below the thread that started it (whose
 * value it inherited), at most to 19 (on Linux; a no-op elsewhere or at 0).
 */
function applyNice(): void {
  const nice = (workerData as ThreadStart | undefined)?.nice ?? 0;
  if (nice <= 0 || process.platform !== 'linux') return;
  try {
    setPriority(Math.min(19, getPriority() + nice));
  } catch {
    // Not allowed here (a seccomp profile, say): the thread keeps the request thread's priority.
  }
}

export interface WorkerThreadSpec<Call> {
  file: URL;
  /** Thread name (shown in profiles and diagnostics) and the noun used in error messages. */
  name: string;
  data: unknown;
  /** How much lower than the starting thread's the thread's nice value is, 0–19 (Linux only; default 0: the same priority). */
  nice?: number;
  /** The call that ends the thread's work before it is terminated (none: terminated at once). */
  closeCall?: Call;
  /** The message of calls refused after `stop`. */
  closedMessage: string;
  onNotice?: (notice: Notice) => void;
}

/** One worker thread and the calls in flight on it. */
export class WorkerThread<Call> {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (v: unknown) => void }>();
  private stopping = false;

  constructor(private readonly spec: WorkerThreadSpec<Call>) {}

  get inFlight(): number {
    return this.calls.size;
  }

  start(): Promise<void> {
    if (this.ready) return this.ready;
    const { entry, eval: isEval } = entryOf(this.spec.file);
    const start: ThreadStart = { nice: this.spec.nice ?? 0, data: this.spec.data };
    const worker = new Worker(entry, { eval: isEval, workerData: start, name: this.spec.name });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: Reply | Notice) => {
        if ('notice' in msg) {
          if (msg.notice === 'ready') resolve();
          else this.spec.onNotice?.(msg);
          return;
        }
        const call = this.calls.get(msg.id);
        if (!call) return;
        if ('progress' in msg) {
          call.onProgress?.(msg.progress);
          return;
        }
        this.calls.delete(msg.id);
        if (msg.ok) call.resolve(msg.value);
        else call.reject(new ThreadError(msg.message, msg.code));
      });
      const died = (err: Error) => {
        reject(err);
        if (this.worker !== worker) return;
        this.worker = undefined;
        this.ready = undefined;
        const calls = [...this.calls.values()];
        this.calls.clear();
        for (const c of calls) c.reject(err);
      };
      worker.on('error', died);
      worker.on('exit', (code) => died(new ThreadError(this.stopping ? this.spec.closedMessage : `The ${this.spec.name} thread exited (code ${code}).`)));
    });
    return this.ready;
  }

  /** Posts `call`; `onProgress` receives what the thread reports before its answer (in order). */
  async call<T>(call: Call, opts: { transfer?: readonly Transferable[]; onProgress?: (v: unknown) => void } = {}): Promise<T> {
    if (this.stopping) throw new ThreadError(this.spec.closedMessage);
    await this.start();
    const worker = this.worker;
    if (!worker) throw new ThreadError(`The ${this.spec.name} thread is not running.`);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
      worker.postMessage({ id, call }, opts.transfer);
    });
  }

  /** Lets the thread finish (`closeCall`), then ends it. */
  async stop(): Promise<void> {
    if (this.worker) {
      try {
        if (this.spec.closeCall !== undefined) await this.call(this.spec.closeCall);
      } finally {
        this.stopping = true;
        await this.worker?.terminate();
      }
    }
    this.stopping = true;
  }
}

/**
 * The worker side: answers every `{id, call}` posted to `port` with `answer(call, progress)`
 * (errors as `{ok: false, message, code}`; `progress(v)` reports part of the work before the
 * answer), and posts `ready`. `isClose(call)` marks the closing call, whose answer waits for
 * every other answer to be posted first. The thread takes its spec's `nice` first.
 */
export function serveCalls<Call>(
  port: MessagePort,
  answer: (call: Call, progress: (v: unknown) => void) => Promise<unknown>,
  isClose: (call: Call) => boolean = () => false,
): void {
  applyNice();
  const replying = new Set<Promise<void>>();
  const post = (id: number, value: unknown) => port.postMessage({ id, ok: true, value } satisfies Reply);
  const fail = (id: number, err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    port.postMessage({ id, ok: false, message: e.message, ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}) } satisfies Reply);
  };
  port.on('message', (msg: { id: number; call: Call }) => {
    const progress = (v: unknown) => port.postMessage({ id: msg.id, progress: v } satisfies Reply);
    if (isClose(msg.call)) {
      void answer(msg.call, progress)
        .then(async (value) => {
          await Promise.allSettled([...replying]);
          return value;
        })
        .then(
          (value) => post(msg.id, value),
          (err: unknown) => fail(msg.id, err),
        );
      return;
    }
    const reply = answer(msg.call, progress).then(
      (value) => post(msg.id, value),
      (err: unknown) => fail(msg.id, err),
    );
    replying.add(reply);
    void reply.finally(() => replying.delete(reply));
  });
  port.postMessage({ notice: 'ready' } satisfies Notice);
}
