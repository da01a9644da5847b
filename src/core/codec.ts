// The binary codec of stream entries and stored state: MessagePack through msgpackr, with the
// structured-clone extensions off so that only plain data crosses Redis. Records are on: an
// array of same-shaped objects (a batch of hits) stores its keys once, which makes entries ~40 %
// smaller and decoding ~3× faster. Each message carries its own record definitions (nothing is
// shared between messages), so any process decodes any entry.
import { Packr } from 'msgpackr';
import { ReboundError } from './errors.js';

const packr = new Packr({ useRecords: true, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

const plainPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** Plain MessagePack (no records): what Redis's Lua `cmsgpack` reads. */
export function encodePlain(value: unknown): Buffer {
  return plainPackr.pack(value);
}

export function decode<T = unknown>(bytes: Buffer | Uint8Array): T {
  try {
    return packr.unpack(bytes) as T;
  } catch (err) {
    throw new ReboundError('CODEC_DECODE_FAILED', `cannot decode MessagePack: ${(err as Error).message}`, { cause: err });
  }
}
