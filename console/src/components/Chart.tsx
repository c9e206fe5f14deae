/**
 * Event volume over the query's range (GET /api/v1/events/histogram), stacked by Read/Write or
 * by event name. Clicking a bar (or focusing it and pressing Enter) narrows the query to that
 * bucket's time span. Plain SVG, no chart library: the console ships no code it does not need.
 */
import type { HistogramAnswer, HistogramBucket } from '../api';
import { formatTime } from '../query';

const W = 1000;
const H = 140;
const RW_COLORS: Record<string, string> = { Read: '#5b8fd0', Write: '#e07b39' };
const NAME_COLORS = ['#5b8fd0', '#e07b39', '#4caf7a', '#c75b9b', '#8c6bd0', '#d0b35b', '#4fb3bf', '#a0785a', '#9aa3ad'];

export function seriesOf(h: HistogramAnswer): { name: string; color: string; value: (b: HistogramBucket) => number }[] {
  if (h.groupBy === 'eventName') {
    return (h.series ?? []).map((name, i) => ({
      name,
      color: name === 'Other' ? '#9aa3ad' : (NAME_COLORS[i % NAME_COLORS.length] as string),
      value: (b: HistogramBucket) => b.names?.[name] ?? 0,
    }));
  }
  return (['Write', 'Read'] as const).map((name) => ({ name, color: RW_COLORS[name] as string, value: (b: HistogramBucket) => b[name] }));
}

function tickLabel(iso: string, spanMs: number): string {
  const t = formatTime(iso);
  return spanMs <= 36 * 3600_000 ? t.slice(11, 16) : t.slice(5, 16);
}

export interface ChartProps {
  data: HistogramAnswer;
  onSelect: (bucket: HistogramBucket) => void;
}

export function Chart({ data, onSelect }: ChartProps) {
  const series = seriesOf(data);
  const n = data.buckets.length;
  const max = Math.max(1, ...data.buckets.map((b) => b.total));
  const bw = W / Math.max(1, n);
  const gap = Math.min(2, bw * 0.15);
  const span = Date.parse(data.endTime) - Date.parse(data.startTime);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const i = Math.min(n - 1, Math.round(f * (n - 1)));
    const b = data.buckets[i];
    return b ? { left: `${((i + 0.5) / n) * 100}%`, label: tickLabel(f === 1 ? data.endTime : b.start, span) } : undefined;
  });

  return (
    <figure class="chart" aria-label={`Event volume: ${data.total} events between ${formatTime(data.startTime)} and ${formatTime(data.endTime)}`}>
      <div class="chart-legend" aria-hidden="true">
        {series.map((s) => (
          <span class="legend-item" key={s.name}>
            <span class="swatch" style={{ background: s.color }} />
            {s.name}
          </span>
        ))}
        <span class="legend-max muted">max {max} per {formatSpan(data.bucketMs)}</span>
      </div>
      <svg class="chart-bars" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="group" aria-label="Events per time bucket; press Enter on a bar to zoom in">
        <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="chart-axis" />
        {data.buckets.map((b, i) => {
          let y = H;
          const x = i * bw + gap / 2;
          const label = `${formatTime(b.start)} to ${formatTime(b.end)}: ${b.total} events (${b.Read} Read, ${b.Write} Write)`;
          return (
            <g
              key={b.start}
              class={b.total > 0 ? 'bar' : 'bar bar-empty'}
              tabIndex={b.total > 0 ? 0 : -1}
              role="button"
              aria-label={`${label}. Zoom in to this time span.`}
              data-start={b.start}
              data-end={b.end}
              onClick={() => onSelect(b)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  onSelect(b);
                }
              }}
            >
              <title>{label}</title>
              <rect class="bar-hit" x={i * bw} y="0" width={bw} height={H} />
              {series.map((s) => {
                const v = s.value(b);
                if (v === 0) return null;
                const h = Math.max(1, (v / max) * (H - 4));
                y -= h;
                return <rect key={s.name} x={x} y={y} width={Math.max(0.5, bw - gap)} height={h} fill={s.color} />;
              })}
            </g>
          );
        })}
      </svg>
      <div class="chart-x" aria-hidden="true">
        {ticks.map((t, i) => (t ? <span key={i} style={{ left: t.left }}>{t.label}</span> : null))}
      </div>
    </figure>
  );
}

export function formatSpan(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round((ms / 3600_000) * 10) / 10} h`;
  return `${Math.round((ms / 86_400_000) * 10) / 10} d`;
}
