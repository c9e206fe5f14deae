/**
 * A modal side panel (the event details drawer, the trail editor). Focus moves into it when it
 * opens and back to where it was when it closes; Escape and the backdrop close it; Tab stays
 * inside while it is open.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface DrawerProps {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Optional test/automation hook. */
  id?: string;
}

export function Drawer({ title, onClose, children, id }: DrawerProps) {
  const panel = useRef<HTMLDivElement>(null);
  const closeBtn = useRef<HTMLButtonElement>(null);
  // The latest onClose, so that the effect below runs once per opening (not per render).
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    closeBtn.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        close.current();
        return;
      }
      if (e.key !== 'Tab' || !panel.current) return;
      const focusable = panel.current.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex="0"]');
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (!first || !last) return;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (before && document.contains(before)) before.focus();
    };
  }, []);

  return (
    <div class="drawer-layer">
      <div class="drawer-backdrop" onClick={onClose} aria-hidden="true" />
      <div class="drawer" role="dialog" aria-modal="true" aria-labelledby="drawer-title" ref={panel} id={id}>
        <header class="drawer-head">
          <h2 id="drawer-title">{title}</h2>
          <button type="button" class="btn btn-ghost" ref={closeBtn} onClick={onClose} aria-label="Close (Escape)">
            ✕
          </button>
        </header>
        <div class="drawer-body">{children}</div>
      </div>
    </div>
  );
}
