/** The sign-in throttle's contract (test/contract/throttle.ts) on the in-memory store, the embedded default. */
import { throttleContract } from '../../test/contract/throttle.js';
import { MemoryThrottleStore } from './throttle-store.js';

throttleContract('in memory', {
  // One process is one space: its "instances" share the one store.
  async space() {
    const store = new MemoryThrottleStore();
    return { instance: async () => store, dispose: async () => undefined };
  },
});
