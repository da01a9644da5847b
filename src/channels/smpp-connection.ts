// One SMPP 3.4 transceiver bind (SPEC §7), kept up: connect, bind_transceiver, enquire_link every
// `enquireLinkMs` (no answer within the timeout drops the connection), reconnect with jittered
// exponential backoff after any drop or refused bind. submit() waits for the bind and for room
// in the throughput window (unanswered submits), and always settles: with the response PDU, or
// with a transient reason (not bound in time, no response in time, connection lost).
// Incoming deliver_sm and enquire_link are answered here; deliver_sm is passed on.
import smpp, { type Pdu, type Session } from 'smpp';
import { backoffDelay, type BackoffOptions } from '../core/retry.js';
import type { Logger } from '../core/log.js';

export interface SmppConnectionSettings {
  /** smpp://system_id:password@host:port or ssmpp://… */
  url: string;
  enquireLinkMs: number;
  reconnect: BackoffOptions;
  timeoutMs: number;
  window: number;
}

export type SubmitOutcome = { pdu: Pdu } | { error: string };

type Waiter = () => void;

export class SmppConnection {
  readonly #settings: SmppConnectionSettings;
  readonly #logger: Logger;
  readonly #onDeliver: (pdu: Pdu) => void;
  #session: Session | undefined;
  #bound = false;
  #closed = false;
  #failures = 0;
  #timers = new Set<NodeJS.Timeout>();
  #boundWaiters = new Set<Waiter>();
  #windowWaiters: Waiter[] = [];
  #unanswered = 0;
  #pending = new Set<(outcome: SubmitOutcome) => void>();
  #binds = 0;

  constructor(settings: SmppConnectionSettings, logger: Logger, onDeliver: (pdu: Pdu) => void) {
    this.#settings = settings;
    this.#logger = logger;
    this.#onDeliver = onDeliver;
  }

  get bound(): boolean {
    return this.#bound;
  }

  /** Successful binds so far (a reconnect adds one). */
  get binds(): number {
    return this.#binds;
  }

  start(): void {
    if (!this.#closed && this.#session === undefined) this.#connect();
  }

  #later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
    return timer;
  }

  #connect(): void {
    const url = new URL(this.#settings.url);
    const tls = url.protocol === 'ssmpp:';
    const session = smpp.connect({ url: `${url.protocol}//${url.host}` });
    this.#session = session;
    const bindTimer = this.#later(this.#settings.timeoutMs, () => {
      if (this.#session === session && !this.#bound) this.#drop(session, 'no bind within the send timeout');
    });
    session.on(tls ? 'secureConnect' : 'connect', () => {
      session.bind_transceiver({ system_id: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }, (pdu) => {
        clearTimeout(bindTimer);
        if (pdu.command_status === 0) this.#onBound(session);
        else this.#drop(session, `bind_transceiver refused with status 0x${pdu.command_status.toString(16)}`);
      });
    });
    session.on('error', (err: Error) => {
      if (this.#failures === 0) this.#logger.warn({ err: err.message }, 'SMPP connection error');
    });
    session.on('close', () => this.#onClose(session));
    session.on('deliver_sm', (pdu: Pdu) => {
      session.send(pdu.response());
      this.#onDeliver(pdu);
    });
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      this.#drop(session, 'the SMSC unbound');
    });
  }

  #onBound(session: Session): void {
    if (this.#session !== session) return;
    this.#bound = true;
    this.#binds++;
    if (this.#failures > 0) this.#logger.info({ failures: this.#failures }, 'SMPP bound again');
    this.#failures = 0;
    for (const wake of this.#boundWaiters) wake();
    this.#boundWaiters.clear();
    this.#keepAlive(session);
  }

  #keepAlive(session: Session): void {
    this.#later(this.#settings.enquireLinkMs, () => {
      if (this.#session !== session || !this.#bound) return;
      const deadline = this.#later(this.#settings.timeoutMs, () => this.#drop(session, 'no enquire_link_resp'));
      session.enquire_link({}, () => {
        clearTimeout(deadline);
        this.#timers.delete(deadline);
        this.#keepAlive(session);
      });
    });
  }

  #drop(session: Session, reason: string): void {
    if (this.#session !== session) return;
    this.#logger.warn({ reason }, 'SMPP connection dropped');
    session.destroy();
  }

  #onClose(session: Session): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    this.#bound = false;
    for (const settle of [...this.#pending]) settle({ error: 'SMPP connection lost before the response' });
    if (this.#closed) return;
    this.#failures++;
    this.#later(backoffDelay(this.#failures, this.#settings.reconnect), () => this.#connect());
  }

  /** Resolves true once bound, false when `deadline` (epoch ms) passes first or the connection closes. */
  #waitBound(deadline: number): Promise<boolean> {
    if (this.#bound) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(this.#bound);
      };
      const timer = this.#later(Math.max(0, deadline - Date.now()), () => {
        this.#boundWaiters.delete(wake);
        resolve(false);
      });
      this.#boundWaiters.add(wake);
    });
  }

  /** Takes a slot of the window; false when `deadline` passes first. */
  #acquire(deadline: number): Promise<boolean> {
    if (this.#unanswered < this.#settings.window) {
      this.#unanswered++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const take = (): void => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        this.#unanswered++;
        resolve(true);
      };
      const timer = this.#later(Math.max(0, deadline - Date.now()), () => {
        this.#windowWaiters = this.#windowWaiters.filter((w) => w !== take);
        resolve(false);
      });
      this.#windowWaiters.push(take);
    });
  }

  #release(): void {
    this.#unanswered--;
    this.#windowWaiters.shift()?.();
  }

  async submit(params: Record<string, unknown>): Promise<SubmitOutcome> {
    const deadline = Date.now() + this.#settings.timeoutMs;
    if (!(await this.#waitBound(deadline))) return { error: 'SMPP not bound (SMSC unreachable or refusing the bind)' };
    if (!(await this.#acquire(deadline))) return { error: 'SMPP window full for the whole send timeout' };
    try {
      return await this.#submitNow(params, deadline);
    } finally {
      this.#release();
    }
  }

  #submitNow(params: Record<string, unknown>, deadline: number): Promise<SubmitOutcome> {
    const session = this.#session;
    if (session === undefined || !this.#bound) return Promise.resolve({ error: 'SMPP connection lost before the submit' });
    return new Promise((resolve) => {
      const settle = (outcome: SubmitOutcome): void => {
        if (!this.#pending.delete(settle)) return;
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(outcome);
      };
      const timer = this.#later(Math.max(0, deadline - Date.now()), () => settle({ error: 'no submit_sm_resp within the send timeout' }));
      this.#pending.add(settle);
      if (!session.submit_sm(params, (pdu) => settle({ pdu }))) settle({ error: 'SMPP connection not writable' });
    });
  }

  /** Unbinds politely when bound, then closes; pending submits settle as lost. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const wake of this.#boundWaiters) wake();
    this.#boundWaiters.clear();
    const session = this.#session;
    if (session === undefined) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => session.destroy(), 1000);
      session.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      if (!this.#bound || !session.unbind({}, () => session.close())) session.destroy();
    });
  }
}
