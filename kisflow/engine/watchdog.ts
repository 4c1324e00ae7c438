interface Watched {
  readonly deadline: number;
  readonly expire: () => void;
}

/**
 * Expires runs that outlive their deadline. One per StepRunner: a single interval timer serves
 * every run of the step (a timer and a promise race per batch cost more than a small batch's
 * whole engine overhead). The timer is referenced only while a run is active: then a function
 * awaiting a promise that can never settle keeps Node alive until its run expires, instead of
 * Node exiting (code 13) with the run half done; when idle, it never holds a process open.
 * A run expires within a tenth of its timeout (at most a second) after its deadline.
 */
export class Watchdog {
  readonly #active = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #period = Number.POSITIVE_INFINITY;

  /** Calls `expire` once `timeoutMs` have passed, unless the returned function is called first. */
  watch(timeoutMs: number, expire: () => void): () => void {
    const run: Watched = { deadline: performance.now() + timeoutMs, expire };
    const period = Math.min(1000, Math.max(5, timeoutMs / 10));
    if (this.#timer === undefined || period < this.#period) {
      clearInterval(this.#timer);
      this.#period = period;
      this.#timer = setInterval(() => this.#check(), period);
    } else if (this.#active.size === 0) {
      this.#timer.ref();
    }
    this.#active.add(run);
    return () => {
      this.#active.delete(run);
      if (this.#active.size === 0) this.#timer?.unref();
    };
  }

  #check(): void {
    const now = performance.now();
    for (const run of this.#active) {
      if (run.deadline > now) continue;
      this.#active.delete(run);
      run.expire();
    }
    if (this.#active.size === 0) this.#timer?.unref();
  }
}
