/**
 * The time range one page of a lookup walks, for every store: the filter's range, narrowed by
 * the cursor (not only by a condition on it), so that a deep page starts where the previous one
 * ended instead of re-walking everything before it.
 */
import type { LookupRequest } from './types.js';

export function pageRange(req: LookupRequest): { lo: number; hi: number; desc: boolean } {
  const desc = req.direction === 'BACKWARD';
  let lo = req.filter.startTime;
  let hi = req.filter.endTime;
  if (req.after) {
    if (desc) hi = Math.min(hi, req.after.time);
    else lo = Math.max(lo, req.after.time);
  }
  return { lo, hi, desc };
}
