/**
 * Names next to ids: a small bounded cache of job names learnt from Flink's own answers, so
 * `referencedResources` can say `["<job id>", "<job name>"]` like the seed's Deployment sample.
 */
export class NameCache {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 10_000) {}

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  set(key: string, name: string): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, name);
  }
}
