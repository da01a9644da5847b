// A real SMPP server for the SMS tests (the `smpp` package's server side): accepts a transceiver
// bind with the expected credentials, answers submit_sm with an SMSC message id (or the status a
// hook picks), keeps every submit_sm, can send delivery receipts and drop every bind.
import smpp, { type Pdu, type Server, type Session } from 'smpp';
import { freePort } from '../support/redis-server.js';

export interface SmppTestServer {
  port: number;
  url: string;
  submits: Pdu[];
  binds: number;
  /** Sends a delivery receipt (deliver_sm, esm_class 0x04) for an SMSC message id on the live bind. */
  sendReceipt(smscId: string, state: string): Promise<void>;
  /** Closes every bound session from the server side (a dropped bind). */
  dropAll(): void;
  stop(): Promise<void>;
}

export interface SmppTestServerOptions {
  systemId?: string;
  password?: string;
  /** command_status for this submit_sm (0 accepts it). */
  onSubmit?: (pdu: Pdu) => number;
}

export async function startSmppTestServer(options: SmppTestServerOptions = {}): Promise<SmppTestServer> {
  const systemId = options.systemId ?? 'rebound';
  const password = options.password ?? 'secret';
  const port = await freePort();
  const sessions = new Set<Session>();
  let ids = 0;
  const state = { submits: [] as Pdu[], binds: 0 };
  const server: Server = smpp.createServer({}, (session: Session) => {
    session.on('error', () => undefined);
    session.on('close', () => sessions.delete(session));
    session.on('bind_transceiver', (pdu: Pdu) => {
      if (pdu.system_id !== systemId || pdu.password !== password) {
        session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
        session.close();
        return;
      }
      state.binds++;
      sessions.add(session);
      session.send(pdu.response());
    });
    session.on('submit_sm', (pdu: Pdu) => {
      const status = options.onSubmit?.(pdu) ?? 0;
      if (status !== 0) return void session.send(pdu.response({ command_status: status }));
      state.submits.push(pdu);
      session.send(pdu.response({ message_id: `smsc-${++ids}` }));
    });
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    port,
    url: `smpp://${systemId}:${password}@127.0.0.1:${port}`,
    get submits() {
      return state.submits;
    },
    get binds() {
      return state.binds;
    },
    sendReceipt(smscId, receiptState) {
      const session = [...sessions].at(-1);
      if (session === undefined) return Promise.reject(new Error('no bound session'));
      const text = `id:${smscId} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:${receiptState} err:000 text:`;
      return new Promise<void>((resolve) => {
        session.deliver_sm({ source_addr: '33612345678', destination_addr: 'Rebound', esm_class: 0x04, short_message: text }, () => resolve());
      });
    },
    dropAll() {
      for (const session of sessions) session.destroy();
    },
    stop() {
      for (const session of sessions) session.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
