// Sends the fault suite's batches to POST /v1/batch at a fixed rate (open loop: batch i leaves at
// start + i × interval whatever happened to the others, at most `maxInFlight` at once), each
// to the two ingest processes in turn, as a Segment client would: a request that fails (refused
// connection, timeout, 429, 5xx) is sent again with the same messageIds, to the other process,
// after a short backoff, until it is answered 200 or the deadline passes. A retried request
// whose first copy was written (the process died before answering) is deduplicated by Rebound.
import { writeKey } from './shop-setup.js';

export interface SendReport {
  requests: number;
  /** Attempts that failed and were retried, by cause (`503`, `ECONNREFUSED`, …). */
  retried: Record<string, number>;
  seconds: number;
}

export interface SendOptions {
  ingestUrls: readonly string[];
  batchesPerSecond: number;
  maxInFlight?: number;
  deadlineMs?: number;
  /** Called with the number of batches acknowledged so far (progress for the fault schedule). */
  onProgress?: (acknowledged: number) => void;
}

const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

async function postOnce(url: string, body: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/v1/batch`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    if (response.status === 200) return undefined;
    if (response.status === 429 || response.status >= 500) return String(response.status);
    throw new Error(`POST /v1/batch answered ${response.status}: ${text}`);
  } catch (err) {
    if ((err as Error).message.startsWith('POST /v1/batch')) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return cause;
  }
}

export async function sendAtFixedRate(batches: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>, options: SendOptions): Promise<SendReport> {
  const report: SendReport = { requests: 0, retried: {}, seconds: 0 };
  const start = Date.now();
  const interval = 1000 / options.batchesPerSecond;
  const deadline = start + (options.deadlineMs ?? 300_000);
  const maxInFlight = options.maxInFlight ?? 32;
  let inFlight = 0;
  let acknowledged = 0;
  const slots: Array<() => void> = [];
  const sendOne = async (index: number): Promise<void> => {
    const body = JSON.stringify({ batch: batches[index] });
    for (let attempt = 0; ; attempt++) {
      report.requests++;
      const failure = await postOnce(options.ingestUrls[(index + attempt) % options.ingestUrls.length] as string, body);
      if (failure === undefined) break;
      report.retried[failure] = (report.retried[failure] ?? 0) + 1;
      if (Date.now() > deadline) throw new Error(`batch ${index} still refused at the deadline (${failure})`);
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** Math.min(attempt, 4))));
    }
    options.onProgress?.(++acknowledged);
  };
  const sends: Array<Promise<void>> = [];
  for (let i = 0; i < batches.length; i++) {
    const due = start + i * interval - Date.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due));
    while (inFlight >= maxInFlight) await new Promise<void>((r) => slots.push(r));
    inFlight++;
    const sent = sendOne(i).finally(() => {
      inFlight--;
      slots.shift()?.();
    });
    sent.catch(() => undefined); // observed by Promise.all below; not an unhandled rejection meanwhile
    sends.push(sent);
  }
  await Promise.all(sends);
  report.seconds = (Date.now() - start) / 1000;
  return report;
}
