/**
 * The console's pages and a small history-based router (no dependency). The server answers
 * every path in `PAGES` (and below it) with index.html — keep this list in step with
 * CONSOLE_PAGES in src/api/console-routes.ts.
 */
import { useEffect, useState } from 'preact/hooks';

export const PAGES = {
  signin: '/signin',
  events: '/events',
  trails: '/trails',
  access: '/access',
  clusters: '/clusters',
  accounts: '/accounts',
} as const;

export type PageKey = keyof typeof PAGES;

export interface Location {
  path: string;
  search: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

/** Goes to `to` (path + query) without a reload; `replace` keeps the history entry. */
export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return loc;
}

export function pageOf(path: string): PageKey | undefined {
  for (const [k, p] of Object.entries(PAGES) as [PageKey, string][]) {
    if (path === p || path.startsWith(`${p}/`)) return k;
  }
  return undefined;
}

/** A same-origin link that navigates client-side (plain clicks only; ctrl/middle-click open a tab). */
export function onLinkClick(e: MouseEvent, to: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
