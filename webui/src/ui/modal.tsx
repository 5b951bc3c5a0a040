// A modal on the native <dialog>: the browser traps focus, Escape closes it, and the page
// behind is inert.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

interface Props {
  open: boolean;
  label: string;
  class_name?: string;
  on_close: () => void;
  children: ComponentChildren;
}

export function Modal({ open, label, class_name, on_close, children }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    else if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      class={`modal ${class_name ?? ""}`}
      aria-label={label}
      onCancel={(e) => {
        e.preventDefault();
        on_close();
      }}
    >
      {open && children}
    </dialog>
  );
}
