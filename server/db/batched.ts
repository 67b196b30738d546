interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Runs calls in batches: a call made while a batch is running waits for it
 * and goes with the next one. A lone call goes at once (through runOne), and
 * calls that arrive together under load share one round trip and one commit.
 * If a batch fails, its calls are run again one by one, so that what fails
 * one call does not fail its neighbours.
 *
 * runBatch answers for each item, in order.
 */
export function batched<T, R>(
  runBatch: (items: readonly T[]) => Promise<R[]>,
  runOne: (item: T) => Promise<R>,
  maxBatch: number,
): (item: T) => Promise<R> {
  const queue: Waiting<T, R>[] = [];
  let running = false;

  const one = (waiting: Waiting<T, R>) => runOne(waiting.item).then(waiting.resolve, waiting.reject);

  async function drain(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      if (batch.length === 1) {
        await one(batch[0]!);
        continue;
      }
      let results: R[];
      try {
        results = await runBatch(batch.map((w) => w.item));
      } catch {
        await Promise.all(batch.map(one));
        continue;
      }
      batch.forEach((waiting, i) => waiting.resolve(results[i]!));
    }
    running = false;
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void drain();
    });
}
