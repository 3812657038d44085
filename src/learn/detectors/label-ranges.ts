import { spanToIndices } from '../series';
import { LearningError, type Series, type Span } from './types';

/** A labeled span as the closed index range of the points inside it. */
export interface IndexRange {
  from: number;
  to: number;
}

/**
 * Maps labeled spans to index ranges, rejecting spans that are malformed or hold no data point.
 * `what` names the labels in messages ("positive", "negative").
 */
export function labelIndexRanges(series: Series, spans: readonly Span[], what: string): IndexRange[] {
  const out: IndexRange[] = [];
  for (const span of spans) {
    if (!Number.isFinite(span.start) || !Number.isFinite(span.finish) || span.start > span.finish) {
      throw new LearningError(
        `A ${what} label has an invalid time range (${span.start} .. ${span.finish}); start must not be after finish.`,
      );
    }
    const r = spanToIndices(series, span);
    let finite = false;
    if (r) for (let i = r.from; i <= r.to && !finite; i++) finite = Number.isFinite(series.v[i]);
    if (!r || !finite) {
      throw new LearningError(
        `A ${what} label (${timeText(span.start)} .. ${timeText(span.finish)}) ` +
          'holds no data point: it falls outside the data or in a gap. Relabel it where the metric has data.',
      );
    }
    out.push(r);
  }
  return out;
}

/** An epoch-ms time as ISO text when it is a valid date, else the number itself. */
function timeText(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** Throws the error a labeled detector gives when it has nothing to learn from. */
export function requirePositiveLabels(spans: readonly Span[], shape: string): void {
  if (spans.length === 0) {
    throw new LearningError(`Label at least one segment with a ${shape} to learn from (no positive labels given).`);
  }
}

/** Sorted, merged copy of spans, for the overlap filter stored in models. */
export function mergedSpans(spans: readonly Span[]): Span[] {
  const sorted = spans
    .filter((s) => s.start <= s.finish)
    .map((s) => ({ start: s.start, finish: s.finish }))
    .sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.finish) last.finish = Math.max(last.finish, s.finish);
    else out.push(s);
  }
  return out;
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
