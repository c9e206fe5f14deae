/**
 * A delete that asks first: "Delete…" turns into the named, dangerous button and "Keep", grouped
 * for assistive technology as "Confirm deleting <what>". One confirmation is open per page at
 * most: the page keeps which (`open`), so opening another closes the first.
 */
export function ConfirmDelete(props: { id: string; what: string; open: string | undefined; setOpen: (id: string | undefined) => void; label: string; onDelete: () => void }) {
  const { id, what, open, setOpen, label, onDelete } = props;
  if (open !== id) {
    return (
      <button type="button" class="btn btn-ghost" onClick={() => setOpen(id)}>
        Delete…
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={`Confirm deleting ${what}`}>
      <button type="button" class="btn btn-danger" onClick={onDelete}>
        {label}
      </button>
      <button type="button" class="btn" onClick={() => setOpen(undefined)}>
        Keep
      </button>
    </span>
  );
}
