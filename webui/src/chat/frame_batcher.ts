// Coalesces many updates into one per animation frame: a streaming answer gets tokens faster
// than the screen refreshes, and re-rendering its markdown per token would waste the frame.

export type FrameFn = (cb: () => void) => number;
export type CancelFn = (id: number) => void;

export interface FrameBatcher {
  schedule(): void; // flush at the next frame, once however often called before it
  flush_now(): void; // flush now if a flush is pending (end of stream)
}

export function frame_batcher(
  flush: () => void,
  raf: FrameFn = (cb) => requestAnimationFrame(cb),
  cancel: CancelFn = (id) => cancelAnimationFrame(id),
): FrameBatcher {
  let id: number | null = null;
  return {
    schedule() {
      if (id !== null) return;
      id = raf(() => {
        id = null;
        flush();
      });
    },
    flush_now() {
      if (id === null) return;
      cancel(id);
      id = null;
      flush();
    },
  };
}
