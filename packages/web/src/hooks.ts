import { useEffect, useState } from 'preact/hooks';
import { live } from './live.js';

/** Re-renders the component on every change of the live store; returns the store's version. */
export function useLive(): number {
  const [v, setV] = useState(live.version);
  useEffect(() => live.subscribe(() => setV(live.version)), []);
  return v;
}

/** The part of the URL after '#', without the leading '#/'. */
export function useHashRoute(): string[] {
  const read = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = (): void => setParts(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parts;
}

/** Whether a key press happened inside something that takes text (shortcuts stay out of its way). */
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  if (t instanceof HTMLInputElement) return !['checkbox', 'radio', 'button', 'submit'].includes(t.type);
  return t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT';
}
