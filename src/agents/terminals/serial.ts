/** Run async jobs one at a time, in call order (spawns must see each other's panes to lay out). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queue `job` after every job queued before it; resolves or rejects with its result. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
