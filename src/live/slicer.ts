import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long one slice of a live computation may hold the event loop (docs/live.md: ~50 ms at most). */
export const SLICE_MS = 15;

/**
 * Splits a long loop over the live state into slices: `due()` is a cheap check made on every
 * item, `pause()` gives the event loop a turn (intake, /healthz, the feed) and starts a new slice.
 * Loops iterate over snapshots (arrays), so the state may change between slices.
 */
export class Slicer {
  private started = performance.now();
  private checks = 0;

  constructor(private readonly sliceMs = SLICE_MS) {}

  due(): boolean {
    // Reading the clock costs more than the typical item: look every 64 items.
    if ((++this.checks & 63) !== 0) return false;
    return performance.now() - this.started >= this.sliceMs;
  }

  async pause(): Promise<void> {
    await nextTurn();
    this.started = performance.now();
  }
}
