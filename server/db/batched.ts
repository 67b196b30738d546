interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

const fulfilled = <R>(value: R): Outcome<R> => ({ ok: true, value });
const rejected = (error: unknown): Outcome<never> => ({ ok: false, error });

export interface BatchedOptions<T, R> {
  /** Answers for each item, in order. */
  runBatch(items: readonly T[]): Promise<R[]>;
  runOne(item: T): Promise<R>;
  maxBatch: number;
  /** The longest a batch waits for the callers the previous one answered. */
  lingerMs: number;
}

/**
 * Runs calls in batches: a call made while a batch is running waits for it
 * and goes with the next one, so calls that arrive together under load share
 * one round trip and one commit. A batch of one goes through runOne.
 * If a batch fails, its calls are run again one by one, so that what fails
 * one call does not fail its neighbours.
 *
 * Callers that were just answered tend to call again at once (a client with
 * several writes in flight), so a batch waits, up to lingerMs, until as many
 * calls are queued as the previous batch answered plus those that waited for
 * it. Without that wait, N such callers settle into alternating batches of 1
 * and N-1, each paying a whole round trip and commit. A single caller never
 * waits: its previous batch answered only itself.
 */
export function batched<T, R>({ runBatch, runOne, maxBatch, lingerMs }: BatchedOptions<T, R>): (item: T) => Promise<R> {
  const queue: Waiting<T, R>[] = [];
  let running = false;
  let expected = 1;
  let onArrival: (() => void) | null = null;

  const awaitExpectedCallers = () =>
    new Promise<void>((resolve) => {
      const stopWaiting = () => {
        clearTimeout(timer);
        onArrival = null;
        resolve();
      };
      const timer = setTimeout(stopWaiting, lingerMs);
      onArrival = () => {
        if (queue.length >= expected) stopWaiting();
      };
    });

  async function run(batch: Waiting<T, R>[]): Promise<Outcome<R>[]> {
    if (batch.length > 1) {
      try {
        return (await runBatch(batch.map((w) => w.item))).map((value) => fulfilled(value));
      } catch {
        // One by one below.
      }
    }
    return Promise.all(batch.map((w) => runOne(w.item).then(fulfilled, rejected)));
  }

  async function drain(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      if (queue.length < expected) await awaitExpectedCallers();
      const batch = queue.splice(0, maxBatch);
      const outcomes = await run(batch);
      // Counted before anyone is answered, so that a caller who calls again
      // at once is not counted twice.
      expected = Math.min(maxBatch, batch.length + queue.length);
      batch.forEach((waiting, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) waiting.resolve(outcome.value);
        else waiting.reject(outcome.error);
      });
    }
    running = false;
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void drain();
      else onArrival?.();
    });
}
