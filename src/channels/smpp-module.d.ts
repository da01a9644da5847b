// Types of the parts of the `smpp` package (node-smpp 0.5, no bundled types) that Rebound and its
// tests use: sessions (client and server side), PDUs and the server.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  export interface Pdu {
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    [param: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  export type PduCallback = (pdu: Pdu) => void;

  export interface Session extends EventEmitter {
    /** False when the socket is not writable (nothing was sent). */
    send(pdu: Pdu, responseCallback?: PduCallback, sendCallback?: PduCallback): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    bind_transceiver(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    submit_sm(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    deliver_sm(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    enquire_link(options?: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    unbind(options?: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    readonly socket: import('node:net').Socket;
  }

  export interface Server extends NetServer {
    readonly sessions: Session[];
  }

  export interface ConnectOptions {
    url: string;
    auto_enquire_link_period?: number;
    connectTimeout?: number;
  }

  export function connect(options: ConnectOptions, listener?: () => void): Session;
  export function createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
  export function createServer(listener?: (session: Session) => void): Server;

  export class PDU implements Pdu {
    constructor(command: string, options?: Record<string, unknown>);
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    [param: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  export const ESME_ROK: number;
  export const ESME_RBINDFAIL: number;
  export const ESME_RTHROTTLED: number;
}
