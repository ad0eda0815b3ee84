import { useEffect, useRef } from 'preact/hooks';
import { formatRate } from '../format.js';
import { HISTORY, type RateSample } from '../live.js';

/** Down/up rates over the last minutes, drawn on a canvas in the theme's colours. */
export function RateGraph({ samples, label, version }: { samples: readonly RateSample[]; label: string; version: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const dpr = devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    const g = c.getContext('2d');
    if (!g) return;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    const css = getComputedStyle(c);
    const max = Math.max(1, ...samples.map((s) => Math.max(s.down, s.up)));
    const line = (pick: (s: RateSample) => number, color: string): void => {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      samples.forEach((s, i) => {
        const x = w - ((samples.length - 1 - i) / (HISTORY - 1)) * w;
        const y = h - 2 - (pick(s) / max) * (h - 4);
        if (i === 0) g.moveTo(x, y);
        else g.lineTo(x, y);
      });
      g.stroke();
    };
    line((s) => s.down, css.getPropertyValue('--down').trim() || '#0b57d0');
    line((s) => s.up, css.getPropertyValue('--up').trim() || '#b3261e');
  }, [version, samples]);
  const last = samples[samples.length - 1] ?? { down: 0, up: 0 };
  const peak = samples.reduce((m, s) => Math.max(m, s.down, s.up), 0);
  return (
    <figure class="graph">
      <canvas ref={ref} role="img" aria-label={`${label}: down ${formatRate(last.down)}, up ${formatRate(last.up)}, peak ${formatRate(peak)} over the last ${Math.round(samples.length / 60) || 1} min`} />
      <figcaption>
        <span class="key down">down {formatRate(last.down)}</span> <span class="key up">up {formatRate(last.up)}</span>
        <span class="muted"> · peak {formatRate(peak)}</span>
      </figcaption>
    </figure>
  );
}

/** One cell per piece: had or missing. */
export function PieceMap({ pieces }: { pieces: readonly boolean[] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const have = pieces.reduce((n, p) => n + (p ? 1 : 0), 0);
  useEffect(() => {
    const c = ref.current;
    const g = c?.getContext('2d');
    if (!c || !g) return;
    const w = c.clientWidth;
    const cell = Math.max(3, Math.min(12, Math.floor(Math.sqrt((w * 240) / Math.max(1, pieces.length)))));
    const cols = Math.max(1, Math.floor(w / cell));
    const rows = Math.ceil(pieces.length / cols);
    const dpr = devicePixelRatio || 1;
    c.style.height = `${rows * cell}px`;
    c.width = Math.round(w * dpr);
    c.height = Math.round(rows * cell * dpr);
    g.scale(dpr, dpr);
    const css = getComputedStyle(c);
    const on = css.getPropertyValue('--down').trim() || '#0b57d0';
    const off = css.getPropertyValue('--track').trim() || '#ddd';
    pieces.forEach((p, i) => {
      g.fillStyle = p ? on : off;
      g.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
    });
  }, [pieces]);
  return <canvas class="piecemap" ref={ref} role="img" aria-label={`${have} of ${pieces.length} pieces downloaded`} />;
}
