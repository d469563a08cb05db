/** Durations and counts as a person reads them: rounded to what means something. */

/** 0.4 s, 12 s, 3 min 05 s, 2 h 10 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
  }
  const h = Math.floor(s / 3600);
  if (h >= 48) return `${Math.round(h / 24).toLocaleString('en-US')} days`;
  return `${h} h ${String(Math.round((s - h * 3600) / 60)).padStart(2, '0')} min`;
}

/** 1,000,000 rather than 1000000. */
export const formatCount = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * Float noise inside a message (five decimals or more) rounded as `formatMs`
 * does: the world computes in floats, a person reads "16013 ms", not
 * "16013.045882999999 ms".
 */
export const roundNumbers = (text: string): string => text.replace(/\d+\.\d{5,}/g, (n) => formatMs(Number(n)));

/** Milliseconds with at most one decimal: 16013.045882999999 → "16013"; 3.46 → "3.5". */
export const formatMs = (ms: number): string => (Math.abs(ms) >= 100 ? String(Math.round(ms)) : String(Math.round(ms * 10) / 10));
