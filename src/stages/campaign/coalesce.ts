// One call for the calls a batch's jobs make at about the same time: the jobs of a batch run
// concurrently and reach the same step (profile lookup, enrichment, suppression check) within
// one turn of the microtask queue, so the calls gathered until the queue is drained
// (process.nextTick runs after it) are answered by a single call of the underlying function
// with every value asked. A job that reaches the step later (after a cache miss) is gathered
// with the next ones. Every caller gets the whole answer (a set or map it looks its own values
// up in), so the underlying call must answer per value, whatever else is asked with it.

/** A lookup whose concurrent callers share one call with the union of what they ask. */
export function coalesce<T>(lookup: (values: string[]) => Promise<T>): (values: readonly string[]) => Promise<T> {
  let values: string[] = [];
  let pending: Promise<T> | undefined;
  return (asked) => {
    for (const value of asked) values.push(value);
    pending ??= new Promise<T>((resolve, reject) => {
      process.nextTick(() => {
        const all = [...new Set(values)];
        values = [];
        pending = undefined;
        try {
          lookup(all).then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
    });
    return pending;
  };
}

/** The same, per name (one shared call per resource table). */
export function coalesceByName<T>(lookup: (name: string, values: string[]) => Promise<T>): (name: string, values: readonly string[]) => Promise<T> {
  const byName = new Map<string, (values: readonly string[]) => Promise<T>>();
  return (name, values) => {
    let call = byName.get(name);
    if (call === undefined) byName.set(name, (call = coalesce((all) => lookup(name, all))));
    return call(values);
  };
}
