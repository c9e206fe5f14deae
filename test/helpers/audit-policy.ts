/**
 * The "quiet Web UI" audit policy exactly as docs/reference/audit-policy.md shows it (the YAML
 * block after the `quiet-web-ui` marker), so that the test and the benchmark check the policy
 * users copy, not a copy of it.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export function quietWebUiPolicy(): Record<string, unknown> {
  const doc = readFileSync(new URL('../../docs/reference/audit-policy.md', import.meta.url), 'utf8');
  const m = /<!-- quiet-web-ui[^>]*-->\s*```yaml\n([\s\S]*?)```/.exec(doc);
  if (!m?.[1]) throw new Error('docs/reference/audit-policy.md has no quiet-web-ui YAML block');
  return (parseYaml(m[1]) as { auditPolicy: Record<string, unknown> }).auditPolicy;
}
