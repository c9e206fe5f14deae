/**
 * The condition builder: any number of conditions at once (ActionTrail's console allows one),
 * each a field of GET /api/v1/events and a value. Fields with a closed vocabulary are menus;
 * event names, resource types, service names and clusters come with suggestions.
 */
import type { Condition, FilterKey, SuggestSource } from '../query';
import { FILTERS, filterDef } from '../query';

export interface ConditionsProps {
  conditions: Condition[];
  onChange: (next: Condition[]) => void;
  suggestions: Partial<Record<SuggestSource, string[]>>;
}

export function Conditions({ conditions, onChange, suggestions }: ConditionsProps) {
  const used = new Set(conditions.map((c) => c.key));
  const free = FILTERS.filter((f) => !used.has(f.key));
  const set = (i: number, c: Condition) => onChange(conditions.map((x, j) => (j === i ? c : x)));

  return (
    <fieldset class="conditions">
      <legend>Conditions</legend>
      {conditions.length === 0 && <p class="muted small">No conditions: every event in the time range and region matches.</p>}
      <ol class="condition-list">
        {conditions.map((c, i) => {
          const def = filterDef(c.key);
          const fieldId = `cond-${i}-field`;
          const valueId = `cond-${i}-value`;
          return (
            <li class="condition" key={`${c.key}-${i}`} data-condition={c.key}>
              <label class="offscreen" for={fieldId}>
                Condition {i + 1} field
              </label>
              <select
                id={fieldId}
                class="cond-field"
                value={c.key}
                onChange={(e) => {
                  const key = (e.currentTarget).value as FilterKey;
                  const nd = filterDef(key);
                  set(i, { key, value: nd.kind === 'select' ? (nd.options?.[0] ?? '') : '' });
                }}
              >
                {FILTERS.filter((f) => f.key === c.key || !used.has(f.key)).map((f) => (
                  <option key={f.key} value={f.key}>
                    {f.label}
                  </option>
                ))}
              </select>
              <span class="condition-op" aria-hidden="true">
                =
              </span>
              <label class="offscreen" for={valueId}>
                {def.label} value
              </label>
              {def.kind === 'select' ? (
                <select id={valueId} class="cond-value" value={c.value} onChange={(e) => set(i, { key: c.key, value: (e.currentTarget).value })}>
                  {(def.options ?? []).map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={valueId}
                  class="cond-value"
                  type="text"
                  value={c.value}
                  placeholder={def.placeholder}
                  autocomplete="off"
                  spellcheck={false}
                  maxLength={1024}
                  {...(def.source ? { list: `suggest-${def.source}` } : {})}
                  onInput={(e) => set(i, { key: c.key, value: (e.currentTarget).value })}
                />
              )}
              <button type="button" class="btn btn-ghost cond-remove" aria-label={`Remove the ${def.label} condition`} onClick={() => onChange(conditions.filter((_, j) => j !== i))}>
                ✕
              </button>
            </li>
          );
        })}
      </ol>
      {free.length > 0 && (
        <button
          type="button"
          class="btn"
          onClick={() => {
            const f = free[0];
            if (!f) return;
            onChange([...conditions, { key: f.key, value: f.kind === 'select' ? (f.options?.[0] ?? '') : '' }]);
          }}
        >
          + Add condition
        </button>
      )}
      {(Object.entries(suggestions) as [SuggestSource, string[]][]).map(([source, values]) => (
        <datalist id={`suggest-${source}`} key={source}>
          {values.map((v) => (
            <option key={v} value={v} />
          ))}
        </datalist>
      ))}
    </fieldset>
  );
}
